package image

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// DefaultMain is the main package Build compiles when Options.Main is empty.
const DefaultMain = "./worker"

// compileSpec is what the compile step needs to know.
type compileSpec struct {
	Main   string // a directory (./x, ../x, /x) or an import path
	Dir    string // the directory Main is relative to, or the module an import path is built in
	GOARCH string
}

// compileFunc compiles a main package for linux/GOARCH and returns the binary. Tests swap it.
type compileFunc func(ctx context.Context, s compileSpec) ([]byte, error)

// isDirPath reports whether main names a directory rather than an import path: as for the go
// command, a relative directory starts with ./ or ../.
func isDirPath(main string) bool {
	return main == "." || main == ".." || filepath.IsAbs(main) ||
		strings.HasPrefix(main, "./") || strings.HasPrefix(main, "../") ||
		strings.HasPrefix(main, `.\`) || strings.HasPrefix(main, `..\`)
}

// buildDir returns where `go build` runs and the package it builds there: a directory is built as
// "." inside itself, so it compiles in the module that contains it.
func buildDir(s compileSpec) (dir, pkg string) {
	if !isDirPath(s.Main) {
		return s.Dir, s.Main
	}
	if filepath.IsAbs(s.Main) {
		return s.Main, "."
	}
	return filepath.Join(s.Dir, s.Main), "."
}

// goBuild runs `go build` with the flags that make the binary static and reproducible:
// CGO_ENABLED=0, -trimpath, no VCS stamp, no build id, no symbol table, and the time zone
// database embedded (-tags timetzdata).
func goBuild(ctx context.Context, s compileSpec) ([]byte, error) {
	dir, pkg := buildDir(s)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("compiling %s: no such directory %s", s.Main, dir)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("compiling %s: the go command is not on PATH: %w", s.Main, err)
	}
	tmp, err := os.MkdirTemp("", "cfnbuild-image-")
	if err != nil {
		return nil, fmt.Errorf("compiling %s: %w", s.Main, err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "worker")

	cmd := exec.CommandContext(ctx, goBin, "build", "-o", out,
		"-trimpath", "-buildvcs=false", "-tags", "timetzdata", "-ldflags", "-s -w -buildid=", pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+s.GOARCH)
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("compiling %s: %w", s.Main, ctx.Err())
		}
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("compiling %s for linux/%s:\n%s", s.Main, s.GOARCH, msg)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("compiling %s: %w", s.Main, err)
	}
	return bin, nil
}
