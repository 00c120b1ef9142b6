package image

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// DefaultPath is the image's PATH when the base image sets none.
const DefaultPath = "PATH=/usr/local/bin:/usr/bin:/bin"

// Options say what Build builds. The zero value but for Architecture builds ./worker with no base.
type Options struct {
	// Main is the Go main package: a directory (./worker, ../jobs/cmd/job, /abs/dir), built in the
	// module that contains it, or an import path, built in Dir's module. Default DefaultMain.
	Main string
	// Dir is the directory Main is relative to. Default: the working directory.
	Dir string
	// Architecture is x86_64 or arm64, as in the task definition.
	Architecture string
	// Base is a base image reference (pulled for linux/<architecture>); empty for none.
	Base string
	// Include is a directory whose files go under /app; empty for none.
	Include string
	// SourceDateEpoch, when not zero, is the time of every file and of the image; zero means the
	// Unix epoch and no org.opencontainers.image.created label.
	SourceDateEpoch time.Time
	// Keychain authenticates the pull of Base. Default: NewKeychain(nil).
	Keychain authn.Keychain
	// Transport carries registry requests. Default: remote.DefaultTransport.
	Transport http.RoundTripper

	compile compileFunc // default goBuild
}

// Build compiles the main package and assembles the image: one layer for the binary (plus one for
// Include), on Base or on nothing. See the package documentation for the image's layout.
func Build(ctx context.Context, o Options) (v1.Image, error) {
	goarch, err := GoArch(o.Architecture)
	if err != nil {
		return nil, err
	}
	if o.Main == "" {
		o.Main = DefaultMain
	}
	if o.Dir == "" {
		if o.Dir, err = os.Getwd(); err != nil {
			return nil, err
		}
	}
	if o.compile == nil {
		o.compile = goBuild
	}
	mtime := time.Unix(0, 0).UTC()
	if !o.SourceDateEpoch.IsZero() {
		mtime = o.SourceDateEpoch.UTC()
	}

	// Pull the base first: a bad reference fails before the compile, which is the slow part.
	img, baseAnnotations, err := baseImage(ctx, o, goarch)
	if err != nil {
		return nil, err
	}
	spec := compileSpec{Main: o.Main, Dir: o.Dir, GOARCH: goarch}
	bin, err := o.compile(ctx, spec)
	if err != nil {
		return nil, err
	}
	if len(bin) < 4 || string(bin[:4]) != "\x7fELF" {
		return nil, fmt.Errorf("compiling %s: not a main package (go build wrote no executable)", o.Main)
	}
	srcDir, _ := buildDir(spec)
	labels := vcsLabels(ctx, srcDir)
	if !o.SourceDateEpoch.IsZero() {
		labels[LabelCreated] = mtime.Format(time.RFC3339)
	}

	layerType := types.OCILayer
	if mt, err := img.MediaType(); err == nil && mt == types.DockerManifestSchema2 {
		layerType = types.DockerLayer // stay in the base's media types
	}
	history := func(what string) v1.History {
		return v1.History{Created: v1.Time{Time: mtime}, CreatedBy: "cfnbuild build: " + what, Comment: "cfnbuild"}
	}
	var adds []mutate.Addendum
	if o.Include != "" {
		l, err := includeLayer(o.Include, mtime, layerType)
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.Addendum{Layer: l, MediaType: layerType, History: history("files of the include directory in " + IncludePath)})
	}
	l, err := workerLayer(bin, o.Base == "", mtime, layerType)
	if err != nil {
		return nil, err
	}
	adds = append(adds, mutate.Addendum{Layer: l, MediaType: layerType, History: history(WorkerPath + " from " + o.Main)})
	if img, err = mutate.Append(img, adds...); err != nil {
		return nil, fmt.Errorf("adding layers: %w", err)
	}

	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the image config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = "linux", goarch, v1.Time{Time: mtime}
	if o.Base == "" {
		cf.Variant = ""
	}
	c := &cf.Config
	c.Entrypoint, c.Cmd = []string{WorkerPath}, nil
	c.User = User
	c.StopSignal = "" // the worker drains on SIGTERM
	c.WorkingDir = "/"
	if o.Include != "" {
		c.WorkingDir = IncludePath
	}
	c.Env = setEnv(setEnv(c.Env, DefaultPath, false), "HOME=/tmp", true)
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	for k, v := range labels {
		c.Labels[k] = v
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, fmt.Errorf("writing the image config: %w", err)
	}
	if len(baseAnnotations) > 0 {
		img = mutate.Annotations(img, baseAnnotations).(v1.Image)
	}
	return img, nil
}

// baseImage returns the image to build on: nothing (an empty OCI image), or Base for the target
// platform with the annotations that name it.
func baseImage(ctx context.Context, o Options, goarch string) (v1.Image, map[string]string, error) {
	if o.Base == "" {
		img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		return mutate.ConfigMediaType(img, types.OCIConfigJSON), nil, nil
	}
	ref, err := name.ParseReference(o.Base, nameOptions(o.Base)...)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing base image reference %q: %w", o.Base, err)
	}
	kc := o.Keychain
	if kc == nil {
		kc = NewKeychain(nil)
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc),
		remote.WithPlatform(v1.Platform{OS: "linux", Architecture: goarch})}
	if o.Transport != nil {
		opts = append(opts, remote.WithTransport(o.Transport))
	}
	img, err := remote.Image(ref, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("pulling base image %s: %w", o.Base, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, nil, fmt.Errorf("pulling base image %s: %w", o.Base, err)
	}
	if cf.OS != "linux" || cf.Architecture != goarch {
		return nil, nil, fmt.Errorf("base image %s is for %s/%s, not linux/%s", o.Base, cf.OS, cf.Architecture, goarch)
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, nil, fmt.Errorf("pulling base image %s: %w", o.Base, err)
	}
	var annotations map[string]string
	if mt, err := img.MediaType(); err == nil && mt == types.OCIManifestSchema1 {
		annotations = map[string]string{AnnotBaseName: ref.Name(), AnnotBaseDigest: digest.String()}
	}
	return img, annotations, nil
}

// setEnv sets "KEY=value" in a copy of env: replacing an existing KEY when replace is true, adding
// it only when KEY is missing otherwise.
func setEnv(env []string, kv string, replace bool) []string {
	key, _, _ := strings.Cut(kv, "=")
	out := slices.Clone(env)
	for i, e := range out {
		if strings.HasPrefix(e, key+"=") {
			if replace {
				out[i] = kv
			}
			return out
		}
	}
	return append(out, kv)
}
