package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
)

func TestWriteLayout(t *testing.T) {
	img := mustBuild(t, testOptions("arm64"))
	dir := filepath.Join(t.TempDir(), "oci")
	for i := 0; i < 2; i++ { // writing twice keeps one entry
		if err := WriteLayout(dir, img); err != nil {
			t.Fatalf("WriteLayout #%d: %v", i+1, err)
		}
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != mustDigest(t, img) {
		t.Fatalf("layout index = %+v, want one entry for %s", im.Manifests, mustDigest(t, img))
	}

	// CompressedSize is what the layout's blobs weigh: manifest, config and layers.
	var blobs int64
	entries, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		blobs += fi.Size()
	}
	size, err := CompressedSize(img)
	if err != nil || size != blobs {
		t.Errorf("CompressedSize = %d, %v; want %d, the size of the layout's blobs", size, err, blobs)
	}
}

func TestWriteLayoutRefusesOtherDirectories(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := WriteLayout(dir, mustBuild(t, testOptions("arm64")))
	if err == nil || !strings.HasSuffix(err.Error(), "the directory is neither empty nor an OCI layout") {
		t.Errorf("WriteLayout into a directory of other files = %v, want a refusal", err)
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 4200: "4.2 kB", 5_123_456: "5.1 MB", 2_500_000_000: "2.50 GB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
