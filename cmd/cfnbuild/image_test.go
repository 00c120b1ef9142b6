package main

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cfnbuild/cfnbuild/cmd/cfnbuild/internal/motoserver"
	"github.com/cfnbuild/cfnbuild/template"
)

// The image package's stand-in for the worker: it prints a marker, its uid and its arch.
var helloMain = filepath.Join(repoRoot, "cmd", "cfnbuild", "internal", "image", "testdata", "hello")

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`)

func TestBuildPrintsDigestAndWritesLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "oci")
	r := runCLI(t, "", "build", "--main", helloMain, "--architecture", "arm64", "--oci-layout", dir)
	if r.code != 0 || !digestRE.MatchString(r.out) {
		t.Fatalf("cfnbuild build: exit %d, stdout %q, stderr %q; want 0 and a digest", r.code, r.out, r.errOut)
	}
	if !strings.Contains(r.errOut, "building "+helloMain+" for linux/arm64\n") || !strings.Contains(r.errOut, "compressed") {
		t.Errorf("stderr = %q, want what is built and its compressed size", r.errOut)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := p.ImageIndex()
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 || im.Manifests[0].Digest.String() != strings.TrimSpace(r.out) {
		t.Errorf("the OCI layout holds %+v (%v), want the image %s", im, err, r.out)
	}

	again := runCLI(t, "", "build", "--main", helloMain, "--architecture", "arm64")
	if again.out != r.out {
		t.Errorf("a second build printed %q, the first %q: want the same digest", again.out, r.out)
	}
}

func TestBuildReadsSamconfigAndSourceDateEpoch(t *testing.T) {
	dir := writeSamconfig(t, `version = 0.1
[default.global.parameters]
architecture = "arm64"
[default.build.parameters]
main = "`+helloMain+`"
`)
	plain := runCLI(t, dir, "build")
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	dated := runCLI(t, dir, "build")
	if plain.code != 0 || dated.code != 0 || plain.out == dated.out {
		t.Errorf("build from samconfig: exit %d (%q); with SOURCE_DATE_EPOCH: exit %d (%q); want two different digests", plain.code, plain.errOut, dated.code, dated.errOut)
	}
	if !strings.Contains(plain.errOut, "for linux/arm64") {
		t.Errorf("stderr %q, want an arm64 build as samconfig.toml says", plain.errOut)
	}
}

func TestBuildBadInput(t *testing.T) {
	broken := filepath.Join(repoRoot, "cmd", "cfnbuild", "internal", "image", "testdata", "broken")
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"unknown architecture", nil, []string{"build", "--main", helloMain, "--architecture", "ppc"}, 2,
			`cfnbuild: --architecture (or CFNBUILD_ARCHITECTURE): unknown architecture "ppc": use x86_64 or arm64`},
		{"compile error", nil, []string{"build", "--main", broken}, 1, `cannot use "not a number"`},
		{"include not a directory", nil, []string{"build", "--main", helloMain, "--include", "/nonexistent"}, 2,
			`cfnbuild: --include (or CFNBUILD_INCLUDE): "/nonexistent" is not a directory`},
		{"bad SOURCE_DATE_EPOCH", map[string]string{"SOURCE_DATE_EPOCH": "yesterday"}, []string{"build", "--main", helloMain}, 2,
			`cfnbuild: SOURCE_DATE_EPOCH "yesterday" is not a number of seconds since 1970`},
		{"bad base", nil, []string{"build", "--main", helloMain, "--base", "Bad Ref"}, 1, `cfnbuild: parsing base image reference "Bad Ref": `},
		{"repository URI with a tag", nil, []string{"push", "--main", helloMain, "--repository-uri", "127.0.0.1:5000/jobs:v1"}, 2,
			`cfnbuild: --repository-uri (or CFNBUILD_REPOSITORY_URI): parsing repository URI "127.0.0.1:5000/jobs:v1": give HOST/REPO, without a tag or digest`},
		{"unreachable registry", nil, []string{"push", "--main", helloMain, "--repository-uri", closedHost(t) + "/jobs"}, 1, "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			r := runCLI(t, "", tc.args...)
			if r.code != tc.code || !strings.Contains(r.errOut, tc.want) || r.out != "" {
				t.Errorf("cfnbuild %v: exit %d, stdout %q, stderr %q; want exit %d, no stdout and %q", tc.args, r.code, r.out, r.errOut, tc.code, tc.want)
			}
		})
	}
}

func TestPushPrintsReference(t *testing.T) {
	s := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(s.Close)
	repo := strings.TrimPrefix(s.URL, "http://") + "/jobs"

	r := runCLI(t, "", "push", "--main", helloMain, "--repository-uri", repo)
	if r.code != 0 || !regexp.MustCompile(`^`+regexp.QuoteMeta(repo)+`@sha256:[0-9a-f]{64}\n$`).MatchString(r.out) {
		t.Fatalf("cfnbuild push: exit %d, stdout %q, stderr %q; want %s@sha256:...", r.code, r.out, r.errOut, repo)
	}
	if !strings.Contains(r.errOut, "(100%)") {
		t.Errorf("stderr = %q, want upload progress", r.errOut)
	}
	ref, err := name.ParseReference(strings.TrimSpace(r.out))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Head(ref); err != nil {
		t.Errorf("%s is not in the registry: %v", ref, err)
	}

	again := runCLI(t, "", "push", "--main", helloMain, "--repository-uri", repo)
	if again.code != 0 || again.out != r.out || !strings.Contains(again.errOut, "is already in the registry") {
		t.Errorf("second push: exit %d, stdout %q, stderr %q; want the same reference, already in the registry", again.code, again.out, again.errOut)
	}
}

// Without --repository-uri, push reads the repository stack; moto_server's CloudFormation answers
// for a stack that is not there as CloudFormation does.
func TestPushWithoutRepositoryStack(t *testing.T) {
	motoserver.Start(t).SetEnv(t)
	r := runCLI(t, "", "push", "--main", helloMain, "--stack-name", "jobs")
	want := "cfnbuild: no --repository-uri and stack \"jobs-repository\" does not exist: run cfnbuild deploy first, or pass --repository-uri\n"
	if r.code != 1 || r.errOut != want || r.out != "" {
		t.Errorf("cfnbuild push without a repository stack: exit %d, stdout %q, stderr %q; want exit 1 and %q", r.code, r.out, r.errOut, want)
	}
}

// fakeStacks answers DescribeStacks with one stack, or an error.
type fakeStacks struct {
	stack *cfntypes.Stack
	err   error
}

func (f fakeStacks) DescribeStacks(_ context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &cloudformation.DescribeStacksOutput{Stacks: []cfntypes.Stack{*f.stack}}, nil
}

func TestRepositoryURIFromStack(t *testing.T) {
	const uri = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/jobs"
	output := func(k, v string) cfntypes.Output {
		return cfntypes.Output{OutputKey: aws.String(k), OutputValue: aws.String(v)}
	}
	for _, tc := range []struct {
		name    string
		api     fakeStacks
		want    string
		wantErr string
	}{
		{"output", fakeStacks{stack: &cfntypes.Stack{StackStatus: cfntypes.StackStatusUpdateComplete,
			Outputs: []cfntypes.Output{output(template.OutputRepositoryARN, "arn:..."), output(template.OutputRepositoryURI, uri)}}}, uri, ""},
		{"missing", fakeStacks{err: &smithy.GenericAPIError{Code: "ValidationError", Message: "Stack with id x-repository does not exist"}}, "",
			`no --repository-uri and stack "x-repository" does not exist: run cfnbuild deploy first, or pass --repository-uri`},
		{"no output", fakeStacks{stack: &cfntypes.Stack{StackStatus: cfntypes.StackStatusCreateInProgress}}, "",
			`no --repository-uri and stack "x-repository" (CREATE_IN_PROGRESS) has no RepositoryUri output: run cfnbuild deploy first, or pass --repository-uri`},
		{"other error", fakeStacks{err: errors.New("throttled")}, "", `reading the outputs of stack "x-repository": throttled`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := repositoryURIFromStack(context.Background(), tc.api, "x-repository")
			if got != tc.want || (err == nil) != (tc.wantErr == "") || (err != nil && err.Error() != tc.wantErr) {
				t.Errorf("repositoryURIFromStack = %q, %v; want %q, %q", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// closedHost returns a loopback host:port where nothing listens.
func closedHost(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(nil)
	host := strings.TrimPrefix(s.URL, "http://")
	s.Close()
	return host
}
