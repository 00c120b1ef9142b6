package image

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// PushOptions say how Push reaches the registry.
type PushOptions struct {
	// Keychain gives each registry's credentials. Default: NewKeychain(nil), which cannot
	// authenticate to ECR; give NewKeychain(ecrClient) for that.
	Keychain authn.Keychain
	// Progress, when set, receives a line as the upload passes each tenth of its bytes.
	Progress io.Writer
	// Transport carries registry requests. Default: remote.DefaultTransport.
	Transport http.RoundTripper

	backoff *remote.Backoff // tests shorten the retries
}

// retryStatusCodes are the answers Push retries (with backoff, 3 tries): timeouts, throttling and
// server errors.
var retryStatusCodes = []int{
	http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
	http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
}

var defaultBackoff = remote.Backoff{Duration: time.Second, Factor: 3, Jitter: 0.1, Steps: 3}

// ParseRepository parses a repository URI, HOST/REPO with no tag or digest
// (123456789012.dkr.ecr.eu-west-1.amazonaws.com/jobs, 127.0.0.1:5000/jobs).
func ParseRepository(uri string) (name.Repository, error) {
	if last := uri[strings.LastIndex(uri, "/")+1:]; strings.ContainsAny(last, ":@") {
		return name.Repository{}, fmt.Errorf("parsing repository URI %q: give HOST/REPO, without a tag or digest", uri)
	}
	repo, err := name.NewRepository(uri, nameOptions(uri, name.StrictValidation)...)
	if err != nil {
		return name.Repository{}, fmt.Errorf("parsing repository URI %q: %w", uri, err)
	}
	return repo, nil
}

// Push writes img to the repository by digest, with no tag, and returns HOST/REPO@sha256:....
// When the registry already has the image it writes nothing; otherwise blobs the registry has are
// skipped and the rest uploaded, retrying transient errors.
func Push(ctx context.Context, img v1.Image, repositoryURI string, o PushOptions) (string, error) {
	repo, err := ParseRepository(repositoryURI)
	if err != nil {
		return "", err
	}
	digest, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("computing the image digest: %w", err)
	}
	ref := repo.Digest(digest.String())
	if o.Keychain == nil {
		o.Keychain = NewKeychain(nil)
	}
	backoff := defaultBackoff
	if o.backoff != nil {
		backoff = *o.backoff
	}
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(o.Keychain),
		remote.WithRetryBackoff(backoff),
		remote.WithRetryStatusCodes(retryStatusCodes...),
		remote.WithUserAgent("cfnbuild"),
	}
	if o.Transport != nil {
		opts = append(opts, remote.WithTransport(o.Transport))
	}

	// The existence check is an optimization: when it fails for any reason, the write reports the
	// registry's own error, which says more than a HEAD answer can.
	if _, err := remote.Head(ref, opts...); err == nil {
		o.progressf("%s is already in the registry\n", ref)
		return ref.String(), nil
	} else if ctx.Err() != nil {
		return "", fmt.Errorf("pushing to %s: %w", repo, ctx.Err())
	}

	var updates chan v1.Update
	done := make(chan struct{})
	if o.Progress != nil {
		updates = make(chan v1.Update, 64)
		opts = append(opts, remote.WithProgress(updates))
		go func() {
			defer close(done)
			reportProgress(o.Progress, ref.String(), updates)
		}()
	} else {
		close(done)
	}
	err = remote.Write(ref, img, opts...)
	<-done
	if err != nil {
		return "", fmt.Errorf("pushing to %s: %w", repo, err)
	}
	return ref.String(), nil
}

func (o PushOptions) progressf(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format, args...)
	}
}

// reportProgress writes a line each time the upload passes another tenth of its bytes, until
// remote.Write closes updates.
func reportProgress(w io.Writer, ref string, updates <-chan v1.Update) {
	fmt.Fprintf(w, "pushing %s\n", ref)
	lastTenth := int64(-1)
	for u := range updates {
		if u.Error != nil || u.Total == 0 {
			continue
		}
		tenth := u.Complete * 10 / u.Total
		if tenth == lastTenth {
			continue
		}
		lastTenth = tenth
		fmt.Fprintf(w, "pushed %s of %s (%d%%)\n", FormatBytes(u.Complete), FormatBytes(u.Total), u.Complete*100/u.Total)
	}
}

// FormatBytes writes a size in bytes for people: 512 B, 4.2 kB, 5.1 MB.
func FormatBytes(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.2f GB", float64(n)/1e9)
}
