package template

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in ../golden from the current renderer")

const goldenDir = "../golden"

// goldenCase is one configuration whose rendering is kept in golden/<name>.yaml.
type goldenCase struct {
	name       string
	repository bool // render the image-repository stack instead of the main stack
	edit       func(*Config)
}

func goldenCases() []goldenCase {
	return []goldenCase{
		{name: "default", edit: func(*Config) {}},
		{name: "public", edit: func(c *Config) { c.Network = NetworkPublic }},
		{name: "nat-gateway", edit: func(c *Config) { c.Network = NetworkNATGateway }},
		{name: "iam", edit: func(c *Config) { c.Auth = AuthIAM }},
		// The seed's stack: an open endpoint, one 2 vCPU / 4 GiB task.
		{name: "seed", edit: func(c *Config) { c.Auth = AuthNone; c.MaxTasks = 1; c.CPU = 2048; c.Memory = 4096 }},
		{name: "arm64-spot", edit: func(c *Config) { c.Architecture = ArchARM; c.Spot = true }},
		{name: "repository", repository: true, edit: func(*Config) {}},
	}
}

func (gc goldenCase) config() Config {
	cfg := Defaults()
	gc.edit(&cfg)
	return cfg
}

func (gc goldenCase) render(t testing.TB) []byte {
	t.Helper()
	synth := Synth
	if gc.repository {
		synth = SynthRepository
	}
	out, err := synth(gc.config(), FormatYAML)
	if err != nil {
		t.Fatalf("%s: synth: %v", gc.name, err)
	}
	return out
}

// TestGolden compares every case's rendering with its golden file. It never rewrites a file unless
// -update is given; it fails on any difference, on a rendering that differs between two runs, and
// on a golden file that no case produces.
func TestGolden(t *testing.T) {
	produced := map[string]bool{}
	for _, gc := range goldenCases() {
		path := filepath.Join(goldenDir, gc.name+".yaml")
		produced[filepath.Base(path)] = true
		t.Run(gc.name, func(t *testing.T) {
			got := gc.render(t)
			if again := gc.render(t); !bytes.Equal(got, again) {
				t.Fatalf("two renderings of %s differ: the renderer is not deterministic", gc.name)
			}
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("reading golden file: %v (run: go test ./template -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the rendering of case %q:\n%s\nIf the change is intended, run: go test ./template -update",
					path, gc.name, firstDifference(want, got))
			}
		})
	}
	files, err := filepath.Glob(filepath.Join(goldenDir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	var stale []string
	for _, f := range files {
		if !produced[filepath.Base(f)] {
			stale = append(stale, f)
		}
	}
	sort.Strings(stale)
	if len(stale) > 0 {
		t.Errorf("golden files that no case produces (delete them or add a case): %v", stale)
	}
}

// firstDifference shows the first differing line of two renderings, with its line number.
func firstDifference(want, got []byte) string {
	wl, gl := bytes.Split(want, []byte("\n")), bytes.Split(got, []byte("\n"))
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g []byte
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if !bytes.Equal(w, g) {
			return fmt.Sprintf("line %d:", i+1) + "\n  golden:   " + string(w) + "\n  rendered: " + string(g)
		}
	}
	return "(same lines, different bytes)"
}
