package image

import (
	"context"
	"net/url"
	"os/exec"
	"strings"
)

// OCI annotation keys, used as image labels and manifest annotations.
const (
	LabelSource     = "org.opencontainers.image.source"
	LabelRevision   = "org.opencontainers.image.revision"
	LabelCreated    = "org.opencontainers.image.created"
	AnnotBaseName   = "org.opencontainers.image.base.name"
	AnnotBaseDigest = "org.opencontainers.image.base.digest"
)

// vcsLabels reads the source and revision labels from the git repository that holds dir. Outside a
// repository, or without git, there are none. A work tree with changes (untracked files included)
// gets the revision "<commit>-dirty": it must not claim to be that commit.
func vcsLabels(ctx context.Context, dir string) map[string]string {
	git := func(args ...string) (string, bool) {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err == nil
	}
	labels := map[string]string{}
	rev, ok := git("rev-parse", "--verify", "HEAD")
	if !ok || rev == "" {
		return labels
	}
	if status, ok := git("status", "--porcelain"); !ok || status != "" {
		rev += "-dirty"
	}
	labels[LabelRevision] = rev
	if origin, ok := git("config", "--get", "remote.origin.url"); ok && origin != "" {
		labels[LabelSource] = stripCredentials(origin)
	}
	return labels
}

// stripCredentials removes a user name and password from a URL remote
// (https://user:token@host/repo → https://host/repo). An scp-style remote (git@host:repo) names a
// login, not a secret, and is kept.
func stripCredentials(remote string) string {
	u, err := url.Parse(remote)
	if err != nil || u.Scheme == "" || u.Host == "" || u.User == nil {
		return remote
	}
	u.User = nil
	return u.String()
}
