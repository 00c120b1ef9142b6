package image

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

func TestBuildWithoutBase(t *testing.T) {
	epoch := time.Unix(0, 0).UTC()
	for _, tc := range []struct {
		arch, goarch string
		machine      elf.Machine
	}{
		{"x86_64", "amd64", elf.EM_X86_64},
		{"arm64", "arm64", elf.EM_AARCH64},
	} {
		t.Run(tc.arch, func(t *testing.T) {
			img := mustBuild(t, testOptions(tc.arch))

			mt, _ := img.MediaType()
			m, err := img.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			if mt != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON || len(m.Layers) != 1 || m.Layers[0].MediaType != types.OCILayer {
				t.Errorf("media types: manifest %s, config %s, layers %v; want OCI manifest, config and one OCI layer", mt, m.Config.MediaType, m.Layers)
			}
			if len(m.Annotations) != 0 {
				t.Errorf("manifest annotations = %v, want none without a base", m.Annotations)
			}

			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if cf.OS != "linux" || cf.Architecture != tc.goarch {
				t.Errorf("platform = %s/%s, want linux/%s", cf.OS, cf.Architecture, tc.goarch)
			}
			c := cf.Config
			if c.User != "65532:65532" || !slices.Equal(c.Entrypoint, []string{"/worker"}) || c.Cmd != nil || c.WorkingDir != "/" {
				t.Errorf("user %q, entrypoint %q, cmd %q, working dir %q; want 65532:65532, [/worker], none, /", c.User, c.Entrypoint, c.Cmd, c.WorkingDir)
			}
			if want := []string{DefaultPath, "HOME=/tmp"}; !slices.Equal(c.Env, want) {
				t.Errorf("env = %q, want %q", c.Env, want)
			}
			if !cf.Created.Time.Equal(epoch) {
				t.Errorf("created = %v, want the Unix epoch", cf.Created.Time)
			}
			for _, h := range cf.History {
				if !h.Created.Time.Equal(epoch) {
					t.Errorf("history %q created %v, want the Unix epoch", h.CreatedBy, h.Created.Time)
				}
			}
			if _, ok := c.Labels[LabelCreated]; ok {
				t.Errorf("label %s = %q without SOURCE_DATE_EPOCH, want none", LabelCreated, c.Labels[LabelCreated])
			}
			// The test runs in cfnbuild's git repository, unless the source came without one.
			head, err := exec.Command("git", "rev-parse", "HEAD").Output()
			if rev := c.Labels[LabelRevision]; err == nil && strings.TrimSuffix(rev, "-dirty") != strings.TrimSpace(string(head)) {
				t.Errorf("label %s = %q, want HEAD's commit %s", LabelRevision, rev, head)
			} else if err != nil && rev != "" {
				t.Errorf("label %s = %q outside a git repository, want none", LabelRevision, rev)
			}

			names, files := layerFiles(t, lastLayer(t, img))
			if want := []string{"etc/", "etc/group", "etc/passwd", "tmp/", "worker"}; !slices.Equal(names, want) {
				t.Errorf("layer files = %q, want %q", names, want)
			}
			for name, want := range map[string]int64{"etc/": 0o755, "etc/group": 0o644, "etc/passwd": 0o644, "tmp/": 0o1777, "worker": 0o755} {
				f := files[name]
				if f.Mode != want || f.UID != 0 || f.GID != 0 || !f.ModTime.Equal(epoch) {
					t.Errorf("%s: mode %o, owner %d:%d, mtime %v; want mode %o, owner 0:0, the Unix epoch", name, f.Mode, f.UID, f.GID, f.ModTime, want)
				}
			}
			if p := string(files["etc/passwd"].Content); !strings.Contains(p, "nonroot:x:65532:65532:nonroot:/tmp:") {
				t.Errorf("/etc/passwd has no nonroot user 65532 with home /tmp:\n%s", p)
			}
			if g := string(files["etc/group"].Content); !strings.Contains(g, "nonroot:x:65532:") {
				t.Errorf("/etc/group has no group 65532:\n%s", g)
			}

			bin := files["worker"].Content
			ef, err := elf.NewFile(bytes.NewReader(bin))
			if err != nil {
				t.Fatalf("/worker is not an ELF binary: %v", err)
			}
			if ef.Machine != tc.machine {
				t.Errorf("/worker is for %v, want %v", ef.Machine, tc.machine)
			}
			if interp := ef.Section(".interp"); interp != nil {
				t.Errorf("/worker is dynamically linked (has .interp); want a static binary")
			}
			checkBuildSettings(t, bin, tc.goarch)
		})
	}
}

// checkBuildSettings checks the flags the binary was built with, as recorded in it.
func checkBuildSettings(t *testing.T, bin []byte, goarch string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "worker")
	if err := os.WriteFile(f, bin, 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := buildinfo.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range info.Settings {
		got[s.Key] = s.Value
	}
	for k, want := range map[string]string{"CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": goarch, "-trimpath": "true", "-tags": "timetzdata"} {
		if got[k] != want {
			t.Errorf("build setting %s = %q, want %q", k, got[k], want)
		}
	}
	if _, ok := got["vcs.revision"]; ok {
		t.Errorf("the binary carries a VCS stamp (vcs.revision=%s); want none, the revision is a label", got["vcs.revision"])
	}
}

func TestBuildRuns(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skipf("running a linux/amd64 binary needs linux/amd64, this is %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	out := runWorker(t, mustBuild(t, testOptions("x86_64")))
	if !strings.Contains(out, "hello from the image test") || !strings.Contains(out, "arch=amd64") {
		t.Errorf("the image's /worker printed %q, want the hello marker and arch=amd64", out)
	}
}

// Two builds of the same source, compiled twice for real, give the same digest.
func TestBuildIsReproducible(t *testing.T) {
	for _, arch := range []string{"x86_64", "arm64"} {
		o := Options{Main: helloMain, Architecture: arch} // goBuild, not the cache
		first, second := mustDigest(t, mustBuild(t, o)), mustDigest(t, mustBuild(t, o))
		if first != second {
			t.Errorf("%s: two builds gave %s and %s, want the same digest", arch, first, second)
		}
	}
}

func TestBuildSourceDateEpoch(t *testing.T) {
	when := time.Date(2024, 5, 17, 12, 30, 0, 0, time.UTC)
	o := testOptions("arm64")
	o.SourceDateEpoch = when.In(time.FixedZone("CEST", 2*3600)) // any zone: the image records UTC
	img := mustBuild(t, o)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !cf.Created.Time.Equal(when) || cf.Config.Labels[LabelCreated] != "2024-05-17T12:30:00Z" {
		t.Errorf("created %v, label %s=%q; want %v and 2024-05-17T12:30:00Z", cf.Created.Time, LabelCreated, cf.Config.Labels[LabelCreated], when)
	}
	_, files := layerFiles(t, lastLayer(t, img))
	for name, f := range files {
		if !f.ModTime.Equal(when) {
			t.Errorf("%s: mtime %v, want %v", name, f.ModTime, when)
		}
	}
	if mustDigest(t, img) == mustDigest(t, mustBuild(t, testOptions("arm64"))) {
		t.Error("the digest with SOURCE_DATE_EPOCH equals the one without; want a different image")
	}
	if mustDigest(t, img) != mustDigest(t, mustBuild(t, o)) {
		t.Error("two builds with the same SOURCE_DATE_EPOCH differ")
	}
}

// A main package in a module of its own is compiled in that module.
func TestBuildOtherModule(t *testing.T) {
	o := testOptions("x86_64")
	o.Main = userModMain
	img := mustBuild(t, o)
	if runtime.GOOS == "linux" && runtime.GOARCH == "amd64" {
		if out := runWorker(t, img); !strings.Contains(out, "hello from example.com/usermod") {
			t.Errorf("the image's /worker printed %q, want the usermod marker", out)
		}
	}
}

// Main given as an import path is built in Dir's module.
func TestBuildImportPath(t *testing.T) {
	o := testOptions("x86_64")
	o.Main, o.Dir = "example.com/usermod", userModMain
	if _, err := Build(context.Background(), o); err != nil {
		t.Errorf("Build(Main=%q, Dir=%q): %v", o.Main, o.Dir, err)
	}
}

func TestBuildErrors(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifoDir := t.TempDir()
	if err := exec.Command("mkfifo", filepath.Join(fifoDir, "pipe")).Run(); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want []string // substrings of the error
	}{
		{"unknown architecture", func(o *Options) { o.Architecture = "ppc" }, []string{`unknown architecture "ppc": use x86_64 or arm64`}},
		{"no architecture", func(o *Options) { o.Architecture = "" }, []string{`unknown architecture "": use x86_64 or arm64`}},
		{"compile error", func(o *Options) { o.Main, o.compile = brokenMain, goBuild }, []string{
			"compiling ./testdata/broken for linux/amd64:\n", `main.go:6:14: cannot use "not a number"`}},
		{"no such directory", func(o *Options) { o.Main, o.compile = "./testdata/missing", goBuild }, []string{"compiling ./testdata/missing: no such directory"}},
		{"not a main package", func(o *Options) { o.Main, o.compile = ".", goBuild }, []string{"compiling .: not a main package"}},
		{"include missing", func(o *Options) { o.Include = "testdata/missing" }, []string{"including directory testdata/missing: ", "no such file or directory"}},
		{"include is a file", func(o *Options) { o.Include = notDir }, []string{"including directory " + notDir + ": not a directory"}},
		{"include holds a pipe", func(o *Options) { o.Include = fifoDir }, []string{"pipe is not a regular file, directory or symlink"}},
		{"bad base reference", func(o *Options) { o.Base = "Not A/Reference" }, []string{`parsing base image reference "Not A/Reference": `}},
		{"base unreachable", func(o *Options) { o.Base = closedRegistry(t) + "/base:1" }, []string{"pulling base image 127.0.0.1:", "connection refused"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions("x86_64")
			tc.edit(&o)
			_, err := Build(context.Background(), o)
			if err == nil {
				t.Fatalf("Build(%+v) succeeded, want an error containing %q", o, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Build(%+v) = %q, want it to contain %q", o, err, w)
				}
			}
		})
	}
}

func TestGoArch(t *testing.T) {
	for in, want := range map[string]string{"x86_64": "amd64", "arm64": "arm64"} {
		if got, err := GoArch(in); got != want || err != nil {
			t.Errorf("GoArch(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"amd64", "X86_64", "aarch64", "ppc"} {
		if _, err := GoArch(in); err == nil {
			t.Errorf("GoArch(%q) succeeded, want an error", in)
		}
	}
}

func TestSetEnv(t *testing.T) {
	env := []string{"PATH=/opt/bin", "HOME=/root", "LANG=C.UTF-8"}
	got := setEnv(setEnv(env, DefaultPath, false), "HOME=/tmp", true)
	if want := []string{"PATH=/opt/bin", "HOME=/tmp", "LANG=C.UTF-8"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if env[1] != "HOME=/root" {
		t.Errorf("setEnv changed its input: %q", env)
	}
}
