// Package image builds the worker's container image without a Docker daemon and pushes it to a
// registry by digest.
//
// Build compiles a Go main package (by default ./worker) with `go build`, CGO_ENABLED=0, -trimpath,
// -buildvcs=false, -tags timetzdata and an empty build id, for linux/amd64 or linux/arm64 (named
// x86_64 and arm64, as in the task definition). The result is an OCI image of one layer:
//
//	/worker        the binary, mode 0755, the entrypoint
//	/tmp           mode 1777: the task mounts its scratch volume here over a read-only root
//	/etc/passwd    and /etc/group: the user nonroot, uid and gid 65532, home /tmp
//
// It has no base image: the worker embeds its CA roots (golang.org/x/crypto/x509roots/fallback)
// and, through the timetzdata tag, the time zone database. A package given instead of ./worker
// gets the time zone database the same way, but must import the fallback roots itself if it makes
// TLS connections: the image holds no certificate files, because copying the build machine's
// would make the image depend on the machine.
//
// The image is reproducible: every file time, the config's creation time and its history are the
// Unix epoch, or SOURCE_DATE_EPOCH when Options.SourceDateEpoch is set (then also the label
// org.opencontainers.image.created). The same source, Go toolchain and options give the same
// digest. The labels org.opencontainers.image.source (git's remote "origin", without credentials)
// and org.opencontainers.image.revision (HEAD's commit, with "-dirty" when the work tree has
// changes) come from the git repository of the main package, when there is one; the binary itself
// carries no VCS stamp, so committing does not change it.
//
// With Options.Base the layers go on top of a base image pulled for the target platform, for jobs
// that need another runtime; the base's /etc/passwd is kept, the base's environment too, HOME is
// /tmp, its CMD and STOPSIGNAL are dropped and the manifest is annotated with the base's name and
// digest. The result is deterministic for a given base digest. With Options.Include a directory of
// the user's files is added under /app (its own layer: regular files, directories and symlinks,
// modes kept, owned by root) and /app becomes the working directory. The image always runs as
// 65532:65532.
//
// Push writes an image to HOST/REPO by digest only (no tag) and returns HOST/REPO@sha256:....
// An image the registry already has is not written again, blobs it has are not uploaded again,
// and transient errors are retried. Credentials come from Keychain: a token from
// ecr:GetAuthorizationToken for Amazon ECR hosts, anonymous access over plain HTTP for loopback
// registries (127.0.0.1, ::1, localhost), and the Docker config (~/.docker/config.json and its
// credential helpers) for the rest.
//
// The package writes nothing to stdout or stderr; pushes report progress, in bytes, to
// PushOptions.Progress when it is set.
package image
