package image

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
)

// WriteLayout writes img into the OCI image layout at dir, creating the layout when dir does not
// exist or is empty, and replacing an entry with the same digest (so writing twice is harmless).
func WriteLayout(dir string, img v1.Image) error {
	digest, err := img.Digest()
	if err != nil {
		return fmt.Errorf("writing OCI layout %s: %w", dir, err)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		entries, rerr := os.ReadDir(dir)
		if rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			return fmt.Errorf("writing OCI layout %s: %w", dir, rerr)
		}
		if len(entries) > 0 {
			return fmt.Errorf("writing OCI layout %s: the directory is neither empty nor an OCI layout", dir)
		}
		if p, err = layout.Write(dir, empty.Index); err != nil {
			return fmt.Errorf("writing OCI layout %s: %w", dir, err)
		}
	}
	if err := p.ReplaceImage(img, match.Digests(digest)); err != nil {
		return fmt.Errorf("writing OCI layout %s: %w", dir, err)
	}
	return nil
}

// CompressedSize is what a pull of img transfers: its manifest, its config and its compressed
// layers.
func CompressedSize(img v1.Image) (int64, error) {
	raw, err := img.RawManifest()
	if err != nil {
		return 0, err
	}
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	n := int64(len(raw)) + m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n, nil
}
