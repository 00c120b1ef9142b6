package image

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// fakeBase is a "runtime" base image for goarch: an /etc/passwd, an interpreter, and the config
// a runtime image typically has (PATH, LANG, CMD, STOPSIGNAL, a label).
func fakeBase(t *testing.T, goarch string) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct{ name, content string }{
		{"etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"},
		{"usr/bin/python3", "#!fake interpreter for " + goarch},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o755, Size: int64(len(f.content)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(f.content))
	}
	tw.Close()
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	if img, err = mutate.AppendLayers(img, l); err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", goarch
	cf.Config = v1.Config{
		Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin", "LANG=C.UTF-8"},
		Cmd:        []string{"python3"},
		StopSignal: "SIGQUIT",
		Labels:     map[string]string{"org.example.runtime": "python", LabelRevision: "base-revision"},
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// pushBaseIndex pushes a two-platform base image as HOST/base:1 and returns the per-arch images.
func pushBaseIndex(t *testing.T, host string) map[string]v1.Image {
	t.Helper()
	imgs := map[string]v1.Image{"amd64": fakeBase(t, "amd64"), "arm64": fakeBase(t, "arm64")}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range []string{"amd64", "arm64"} {
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: imgs[arch], Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	if err := remote.WriteIndex(mustRef(t, host+"/base:1"), idx); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(mustRef(t, host+"/amd64-only:1"), imgs["amd64"]); err != nil {
		t.Fatal(err)
	}
	return imgs
}

// includeDir makes a directory of job files: nested, executable, private, and a symlink.
func includeDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []struct {
		name, content string
		mode          os.FileMode
	}{
		{"job.py", "print('job')\n", 0o644},
		{"bin/run.sh", "#!/bin/sh\nexec python3 /app/job.py\n", 0o755},
		{"lib/z.txt", "z", 0o600},
	} {
		p := filepath.Join(dir, f.name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.content), f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, f.mode); err != nil { // whatever the umask
			t.Fatal(err)
		}
	}
	if err := os.Symlink("bin/run.sh", filepath.Join(dir, "run")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestBuildOnBaseWithInclude(t *testing.T) {
	host := startRegistry(t, nil)
	bases := pushBaseIndex(t, host)
	o := testOptions("arm64")
	o.Base, o.Include = host+"/base:1", includeDir(t)
	img := mustBuild(t, o)

	baseDigest := mustDigest(t, bases["arm64"])
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Annotations; got[AnnotBaseName] != host+"/base:1" || got[AnnotBaseDigest] != baseDigest.String() {
		t.Errorf("annotations = %v, want the base's name %s/base:1 and the arm64 image's digest %s", got, host, baseDigest)
	}
	baseLayers, _ := bases["arm64"].Layers()
	layers, err := img.Layers()
	if err != nil || len(layers) != 3 {
		t.Fatalf("layers: %d (%v), want the base's, the include layer and the worker's", len(layers), err)
	}
	got, _ := layers[0].Digest()
	if want, _ := baseLayers[0].Digest(); got != want {
		t.Errorf("first layer %s, want the arm64 base's %s", got, want)
	}

	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if cf.Architecture != "arm64" || c.User != User || !slices.Equal(c.Entrypoint, []string{WorkerPath}) || c.Cmd != nil || c.StopSignal != "" || c.WorkingDir != IncludePath {
		t.Errorf("arch %q, user %q, entrypoint %q, cmd %q, stop signal %q, working dir %q; want arm64, %s, [%s], none, none, %s",
			cf.Architecture, c.User, c.Entrypoint, c.Cmd, c.StopSignal, c.WorkingDir, User, WorkerPath, IncludePath)
	}
	if want := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin", "LANG=C.UTF-8", "HOME=/tmp"}; !slices.Equal(c.Env, want) {
		t.Errorf("env = %q, want the base's and HOME=/tmp: %q", c.Env, want)
	}
	if c.Labels["org.example.runtime"] != "python" || strings.HasPrefix(c.Labels[LabelRevision], "base") {
		t.Errorf("labels = %v, want the base's, with the revision replaced by this build's", c.Labels)
	}

	names, files := layerFiles(t, layers[1])
	if want := []string{"app/", "app/bin/", "app/bin/run.sh", "app/job.py", "app/lib/", "app/lib/z.txt", "app/run"}; !slices.Equal(names, want) {
		t.Errorf("include layer = %q, want %q", names, want)
	}
	for name, want := range map[string]int64{"app/bin/run.sh": 0o755, "app/job.py": 0o644, "app/lib/z.txt": 0o600} {
		if f := files[name]; f.Mode != want || f.UID != 0 || !f.ModTime.Equal(cf.Created.Time) {
			t.Errorf("%s: mode %o, uid %d, mtime %v; want %o, 0, %v", name, f.Mode, f.UID, f.ModTime, want, cf.Created.Time)
		}
	}
	if f := files["app/run"]; f.Type != tar.TypeSymlink || f.Linkname != "bin/run.sh" {
		t.Errorf("app/run: type %c, target %q; want a symlink to bin/run.sh", f.Type, f.Linkname)
	}
	if names, _ := layerFiles(t, layers[2]); !slices.Equal(names, []string{"tmp/", "worker"}) {
		t.Errorf("worker layer over a base = %q, want [tmp/ worker]: the base's /etc/passwd stays", names)
	}

	if again := mustBuild(t, o); mustDigest(t, again) != mustDigest(t, img) {
		t.Errorf("two builds on the same base and include dir differ: %s, %s", mustDigest(t, img), mustDigest(t, again))
	}

	// And it pushes: the base's layer is among the blobs.
	if _, err := Push(context.Background(), img, host+"/jobs", PushOptions{}); err != nil {
		t.Errorf("pushing the image built on a base: %v", err)
	}
}

func TestBuildOnBaseOfAnotherPlatform(t *testing.T) {
	host := startRegistry(t, nil)
	pushBaseIndex(t, host)
	o := testOptions("arm64")
	o.Base = host + "/amd64-only:1"
	_, err := Build(context.Background(), o)
	if want := "base image " + o.Base + " is for linux/amd64, not linux/arm64"; err == nil || err.Error() != want {
		t.Errorf("Build on an amd64 base for arm64 = %v, want %q", err, want)
	}
}
