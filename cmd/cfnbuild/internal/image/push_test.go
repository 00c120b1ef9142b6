package image

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

var refRE = regexp.MustCompile(`^(.+)@(sha256:[0-9a-f]{64})$`)

// Push, pull back, and check what came back: platform, user, entrypoint, labels, and a binary that
// runs.
func TestPushAndPull(t *testing.T) {
	host := startRegistry(t, nil)
	img := mustBuild(t, testOptions("x86_64"))
	var progress bytes.Buffer
	ref, err := Push(context.Background(), img, host+"/team/jobs", PushOptions{Progress: &progress})
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	m := refRE.FindStringSubmatch(ref)
	if m == nil || m[1] != host+"/team/jobs" || m[2] != mustDigest(t, img).String() {
		t.Fatalf("Push returned %q, want %s/team/jobs@%s", ref, host, mustDigest(t, img))
	}
	if p := progress.String(); !strings.Contains(p, "pushing "+ref) || !strings.Contains(p, "(100%)") {
		t.Errorf("progress = %q, want a pushing line and a last line at 100%%", p)
	}

	pulled, err := remote.Image(mustRef(t, ref))
	if err != nil {
		t.Fatalf("pulling %s back: %v", ref, err)
	}
	if mustDigest(t, pulled) != mustDigest(t, img) {
		t.Errorf("pulled digest %s, pushed %s", mustDigest(t, pulled), mustDigest(t, img))
	}
	cf, err := pulled.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Architecture != "amd64" || cf.Config.User != User || !slices.Equal(cf.Config.Entrypoint, []string{WorkerPath}) {
		t.Errorf("pulled arch %q, user %q, entrypoint %q; want amd64, %s, [%s]", cf.Architecture, cf.Config.User, cf.Config.Entrypoint, User, WorkerPath)
	}
	want := vcsLabels(context.Background(), ".")
	if got := cf.Config.Labels; got[LabelRevision] != want[LabelRevision] || got[LabelSource] != want[LabelSource] {
		t.Errorf("pulled labels %v, want git's %v", got, want)
	}
	if runtime.GOOS == "linux" && runtime.GOARCH == "amd64" {
		if out := runWorker(t, pulled); !strings.Contains(out, "hello from the image test: uid=") {
			t.Errorf("the pulled /worker printed %q, want the hello marker", out)
		}
	}
}

// A second push of the same image uploads no blob and puts no manifest.
func TestPushTwiceUploadsNothing(t *testing.T) {
	var c requestCounter
	host := startRegistry(t, c.wrap)
	img := mustBuild(t, testOptions("arm64"))
	if _, err := Push(context.Background(), img, host+"/jobs", PushOptions{}); err != nil {
		t.Fatal(err)
	}
	blobs, manifests := c.counts()
	if blobs == 0 || manifests != 1 {
		t.Fatalf("first push: %d blob upload requests and %d manifest PUTs, want some and 1", blobs, manifests)
	}

	var progress bytes.Buffer
	ref, err := Push(context.Background(), img, host+"/jobs", PushOptions{Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if b, m := c.counts(); b != blobs || m != manifests {
		t.Errorf("second push: %d blob upload requests and %d manifest PUTs, want none", b-blobs, m-manifests)
	}
	if want := ref + " is already in the registry\n"; progress.String() != want {
		t.Errorf("second push's progress = %q, want %q", progress.String(), want)
	}

	// A new image that shares the config-free parts: only what changed is uploaded. The
	// SOURCE_DATE_EPOCH build has another layer and config, so exactly 2 blobs go up.
	o := testOptions("arm64")
	o.SourceDateEpoch = o.SourceDateEpoch.AddDate(2000, 0, 0)
	if _, err := Push(context.Background(), mustBuild(t, o), host+"/jobs", PushOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, m := c.counts(); m != manifests+1 {
		t.Errorf("third push: %d manifest PUTs, want 1", m-manifests)
	}
}

// fakeECR is an ECRTokenGetter that answers with a fixed token, or an error, and records the
// regions it was asked for.
type fakeECR struct {
	token string
	err   error

	mu      sync.Mutex
	regions []string
}

func (f *fakeECR) GetAuthorizationToken(_ context.Context, _ *ecr.GetAuthorizationTokenInput, optFns ...func(*ecr.Options)) (*ecr.GetAuthorizationTokenOutput, error) {
	o := ecr.Options{Region: "us-east-1"}
	for _, fn := range optFns {
		fn(&o)
	}
	f.mu.Lock()
	f.regions = append(f.regions, o.Region)
	f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	return &ecr.GetAuthorizationTokenOutput{AuthorizationData: []ecrtypes.AuthorizationData{{AuthorizationToken: aws.String(f.token)}}}, nil
}

const ecrRepo = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/jobs"

// An ECR host gets basic auth from the token of its region, fetched once.
func TestPushToECRHost(t *testing.T) {
	host := startRegistry(t, basicAuth("AWS", "s3cret:with:colons"))
	api := &fakeECR{token: base64.StdEncoding.EncodeToString([]byte("AWS:s3cret:with:colons"))}
	img := mustBuild(t, testOptions("arm64"))
	ref, err := Push(context.Background(), img, ecrRepo, PushOptions{Keychain: NewKeychain(api), Transport: redirectTransport{host}})
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	if want := ecrRepo + "@" + mustDigest(t, img).String(); ref != want {
		t.Errorf("Push = %q, want %q", ref, want)
	}
	if !slices.Equal(api.regions, []string{"eu-west-1"}) {
		t.Errorf("tokens asked for in regions %q, want one, in eu-west-1", api.regions)
	}
}

func TestPushErrors(t *testing.T) {
	img := mustBuild(t, testOptions("x86_64"))
	token := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	refusing := startRegistry(t, func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`, http.StatusForbidden)
		})
	})
	authRegistry := startRegistry(t, basicAuth("AWS", "right"))
	for _, tc := range []struct {
		name, repo string
		opts       PushOptions
		want       []string
	}{
		{"tag", "127.0.0.1:5000/jobs:latest", PushOptions{}, []string{`parsing repository URI "127.0.0.1:5000/jobs:latest": give HOST/REPO, without a tag or digest`}},
		{"digest", "127.0.0.1:5000/jobs@sha256:abc", PushOptions{}, []string{`parsing repository URI "127.0.0.1:5000/jobs@sha256:abc": give HOST/REPO, without a tag or digest`}},
		{"upper case", "example.com/Jobs", PushOptions{}, []string{`parsing repository URI "example.com/Jobs": repository can only contain`}},
		{"no host", "jobs", PushOptions{}, []string{`parsing repository URI "jobs": strict validation requires the registry to be explicitly defined`}},
		{"empty", "", PushOptions{}, []string{`parsing repository URI "": `}},
		{"unreachable", closedRegistry(t) + "/jobs", PushOptions{}, []string{"pushing to 127.0.0.1:", "connection refused"}},
		{"refusing", refusing + "/jobs", PushOptions{}, []string{"pushing to " + refusing + "/jobs: ", "DENIED: requested access to the resource is denied"}},
		{"wrong password", ecrRepo, PushOptions{Keychain: NewKeychain(&fakeECR{token: token("AWS:wrong")}), Transport: redirectTransport{authRegistry}},
			[]string{"pushing to " + ecrRepo + ": ", "401 Unauthorized"}},
		{"token not base64", ecrRepo, PushOptions{Keychain: NewKeychain(&fakeECR{token: "!!not base64"}), Transport: redirectTransport{authRegistry}},
			[]string{"getting an ECR authorization token in eu-west-1: decoding the token: illegal base64 data"}},
		{"token without password", ecrRepo, PushOptions{Keychain: NewKeychain(&fakeECR{token: token("AWS")}), Transport: redirectTransport{authRegistry}},
			[]string{"getting an ECR authorization token in eu-west-1: decoding the token: not of the form user:password"}},
		{"ECR refuses", ecrRepo, PushOptions{Keychain: NewKeychain(&fakeECR{err: errors.New("AccessDeniedException: not authorized")}), Transport: redirectTransport{authRegistry}},
			[]string{"getting an ECR authorization token in eu-west-1: AccessDeniedException: not authorized"}},
		{"no ECR client", ecrRepo, PushOptions{}, []string{"authenticating to 123456789012.dkr.ecr.eu-west-1.amazonaws.com: no ECR client"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.backoff = &fastBackoff
			ref, err := Push(context.Background(), img, tc.repo, tc.opts)
			if err == nil {
				t.Fatalf("Push(%q) = %q, want an error", tc.repo, ref)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Push(%q) = %q, want it to contain %q", tc.repo, err, w)
				}
			}
		})
	}
}

// Transient registry errors are retried: a registry that answers 503 to the first blob upload and
// the first manifest PUT still gets the image.
func TestPushRetries(t *testing.T) {
	var mu sync.Mutex
	failed := map[string]bool{}
	host := startRegistry(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			kind := ""
			switch {
			case r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/blobs/uploads/"):
				kind = "upload"
			case r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/"):
				kind = "manifest"
			}
			mu.Lock()
			fail := kind != "" && !failed[kind]
			failed[kind] = failed[kind] || fail
			mu.Unlock()
			if fail {
				http.Error(w, "try again", http.StatusServiceUnavailable)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	img := mustBuild(t, testOptions("x86_64"))
	if _, err := Push(context.Background(), img, host+"/jobs", PushOptions{backoff: &fastBackoff}); err != nil {
		t.Fatalf("Push with one 503 per kind of write: %v", err)
	}
	if !failed["upload"] || !failed["manifest"] {
		t.Errorf("the registry failed %v, want an upload and a manifest PUT", failed)
	}
	if _, err := remote.Head(mustRef(t, fmt.Sprintf("%s/jobs@%s", host, mustDigest(t, img)))); err != nil {
		t.Errorf("the image is not in the registry after the retried push: %v", err)
	}
}

func TestECRRegion(t *testing.T) {
	for host, want := range map[string]string{
		"123456789012.dkr.ecr.eu-west-1.amazonaws.com":          "eu-west-1",
		"123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com": "us-gov-west-1",
		"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn":      "cn-north-1",
		"123456789012.dkr.ecr.eu-west-1.amazonaws.com:443":      "",
		"12345.dkr.ecr.eu-west-1.amazonaws.com":                 "",
		"public.ecr.aws":                                        "",
		"ghcr.io":                                               "",
		"123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.io":  "",
	} {
		got, ok := ECRRegion(host)
		if got != want || ok != (want != "") {
			t.Errorf("ECRRegion(%q) = %q, %v; want %q", host, got, ok, want)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1:5000": true, "127.0.0.1": true, "127.1.2.3:80": true, "localhost:5000": true, "localhost": true,
		"[::1]:5000": true, "::1": true,
		"10.0.0.1:5000": false, "localhost.example.com": false, "example.com": false, "[::2]:5000": false,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestKeychain(t *testing.T) {
	kc := NewKeychain(&fakeECR{token: base64.StdEncoding.EncodeToString([]byte("AWS:pw"))})
	for _, tc := range []struct {
		repo string
		want authn.AuthConfig
	}{
		{"127.0.0.1:5000/jobs", authn.AuthConfig{}},
		{ecrRepo, authn.AuthConfig{Username: "AWS", Password: "pw"}},
	} {
		a, err := kc.Resolve(mustRef(t, tc.repo+":x").Context())
		if err != nil {
			t.Fatalf("Resolve(%s): %v", tc.repo, err)
		}
		got, err := a.Authorization()
		if err != nil || *got != tc.want {
			t.Errorf("Resolve(%s).Authorization() = %+v, %v; want %+v", tc.repo, got, err, tc.want)
		}
	}
}

func TestDecodeECRToken(t *testing.T) {
	b, err := DecodeECRToken(base64.StdEncoding.EncodeToString([]byte("AWS:eyJwYXlsb2FkIjoi")))
	if err != nil || b.Username != "AWS" || b.Password != "eyJwYXlsb2FkIjoi" {
		t.Errorf("DecodeECRToken = %+v, %v; want AWS and the password", b, err)
	}
}

func TestStripCredentials(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:ghp_token@github.com/org/repo.git": "https://github.com/org/repo.git",
		"https://github.com/org/repo.git":                "https://github.com/org/repo.git",
		"ssh://git@github.com/org/repo.git":              "ssh://github.com/org/repo.git",
		"git@github.com:org/repo.git":                    "git@github.com:org/repo.git",
	} {
		if got := stripCredentials(in); got != want {
			t.Errorf("stripCredentials(%q) = %q, want %q", in, got, want)
		}
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}
