package image

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Test packages under testdata.
var (
	helloMain   = "./testdata/hello"   // prints a marker, its uid and its arch
	brokenMain  = "./testdata/broken"  // a type error
	userModMain = "./testdata/usermod" // a module of its own
)

// compiled caches binaries across tests: cross-compiling is the expensive step, and most tests
// only need some binary of the right architecture. Tests about compiling itself use goBuild.
var compiled sync.Map // compileSpec → []byte

func cachedBuild(ctx context.Context, s compileSpec) ([]byte, error) {
	if b, ok := compiled.Load(s); ok {
		return b.([]byte), nil
	}
	b, err := goBuild(ctx, s)
	if err != nil {
		return nil, err
	}
	compiled.Store(s, b)
	return b, nil
}

// testOptions builds the hello package for arch with the cached compiler.
func testOptions(arch string) Options {
	return Options{Main: helloMain, Architecture: arch, compile: cachedBuild}
}

func mustBuild(t *testing.T, o Options) v1.Image {
	t.Helper()
	img, err := Build(context.Background(), o)
	if err != nil {
		t.Fatalf("Build(%+v): %v", o, err)
	}
	return img
}

func mustDigest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var fastBackoff = remote.Backoff{Duration: time.Millisecond, Factor: 2, Steps: 3}

// quietRegistry is go-containerregistry's in-memory registry without its request log.
func quietRegistry() http.Handler {
	return registry.New(registry.Logger(log.New(io.Discard, "", 0)))
}

// startRegistry serves the in-memory registry, wrapped by wrap when it is not nil, and returns its
// host (127.0.0.1:PORT).
func startRegistry(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = quietRegistry()
	if wrap != nil {
		h = wrap(h)
	}
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// requestCounter counts the registry requests that write: blob upload starts, chunks and commits,
// and manifest PUTs.
type requestCounter struct {
	mu                       sync.Mutex
	blobUploads, manifestPUT int
}

func (c *requestCounter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		switch {
		case strings.Contains(r.URL.Path, "/blobs/uploads/"):
			c.blobUploads++
		case strings.Contains(r.URL.Path, "/manifests/") && r.Method == http.MethodPut:
			c.manifestPUT++
		}
		c.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (c *requestCounter) counts() (blobUploads, manifestPUT int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.blobUploads, c.manifestPUT
}

// basicAuth refuses requests without the given credentials, with a Basic challenge.
func basicAuth(user, password string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// redirectTransport sends every request to host over plain HTTP, whatever host it names: an ECR
// host name stands in front of a loopback registry.
type redirectTransport struct{ host string }

func (rt redirectTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	out := r.Clone(r.Context())
	out.URL.Scheme, out.URL.Host = "http", rt.host
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err == nil {
		resp.Request = r // relative Locations resolve against the name the client used
	}
	return resp, err
}

// tarEntry is what a test checks of one file of a layer.
type tarEntry struct {
	Type     byte
	Mode     int64
	UID, GID int
	ModTime  time.Time
	Linkname string
	Content  []byte
}

// layerFiles reads a layer's tar stream: names in order and entries by name.
func layerFiles(t *testing.T, l v1.Layer) ([]string, map[string]tarEntry) {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var names []string
	files := map[string]tarEntry{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		content, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		files[h.Name] = tarEntry{Type: h.Typeflag, Mode: h.Mode, UID: h.Uid, GID: h.Gid, ModTime: h.ModTime.UTC(), Linkname: h.Linkname, Content: content}
	}
	return names, files
}

// lastLayer returns the image's top layer (the worker's).
func lastLayer(t *testing.T, img v1.Image) v1.Layer {
	t.Helper()
	ls, err := img.Layers()
	if err != nil || len(ls) == 0 {
		t.Fatalf("layers: %v (%d)", err, len(ls))
	}
	return ls[len(ls)-1]
}

// runWorker writes the image's /worker to a file and runs it (only on a linux/amd64 machine for an
// amd64 image).
func runWorker(t *testing.T, img v1.Image) string {
	t.Helper()
	_, files := layerFiles(t, lastLayer(t, img))
	bin := filepath.Join(t.TempDir(), "worker")
	if err := os.WriteFile(bin, files["worker"].Content, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin).CombinedOutput()
	if err != nil {
		t.Fatalf("running the image's /worker: %v\n%s", err, out)
	}
	return string(out)
}

// closedRegistry returns a loopback host:port where nothing listens.
func closedRegistry(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(http.NotFoundHandler())
	host := strings.TrimPrefix(s.URL, "http://")
	s.Close()
	return host
}
