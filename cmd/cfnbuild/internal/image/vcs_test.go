package image

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestVCSLabels(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not on PATH")
	}
	dir := t.TempDir()
	if got := vcsLabels(context.Background(), dir); len(got) != 0 {
		t.Errorf("outside a repository: labels %v, want none", got)
	}

	git(t, dir, "init", "-q")
	git(t, dir, "remote", "add", "origin", "https://ci-bot:ghp_secret@github.com/org/jobs.git")
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-q", "-m", "first")
	head := git(t, dir, "rev-parse", "HEAD")

	got := vcsLabels(context.Background(), dir)
	if got[LabelRevision] != head || got[LabelSource] != "https://github.com/org/jobs.git" || len(got) != 2 {
		t.Errorf("clean tree: labels %v, want revision %s and the remote without credentials", got, head)
	}

	if err := os.WriteFile(filepath.Join(dir, "new.go"), []byte("package main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := vcsLabels(context.Background(), dir); got[LabelRevision] != head+"-dirty" {
		t.Errorf("untracked file: revision %q, want %s-dirty", got[LabelRevision], head)
	}
}
