package image

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/cfnbuild/cfnbuild/cmd/cfnbuild/internal/motoserver"
)

// The ECR token path end to end: moto_server's ECR issues the token (it has no registry), and an
// in-memory registry that accepts only the credentials in that token stands behind the ECR host
// name.
func TestPushWithTokenFromMoto(t *testing.T) {
	s := motoserver.Start(t)
	s.SetEnv(t)
	ctx := context.Background()
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	client := ecr.NewFromConfig(cfg)

	// What moto issues, decoded here independently of DecodeECRToken.
	out, err := client.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{}, func(o *ecr.Options) { o.Region = "eu-west-1" })
	if err != nil {
		t.Fatalf("GetAuthorizationToken from moto_server: %v", err)
	}
	if got := aws.ToString(out.AuthorizationData[0].ProxyEndpoint); !strings.Contains(got, ".eu-west-1.") {
		t.Errorf("moto's proxy endpoint %q is not in eu-west-1: the region option did not reach it", got)
	}
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(out.AuthorizationData[0].AuthorizationToken))
	if err != nil {
		t.Fatal(err)
	}
	user, password, _ := strings.Cut(string(raw), ":")
	if user != "AWS" || password == "" {
		t.Fatalf("moto's token decodes to %q, want AWS:<password>", raw)
	}

	var c requestCounter
	host := startRegistry(t, func(h http.Handler) http.Handler { return basicAuth(user, password)(c.wrap(h)) })
	img := mustBuild(t, testOptions("arm64"))
	ref, err := Push(ctx, img, ecrRepo, PushOptions{Keychain: NewKeychain(client), Transport: redirectTransport{host}})
	if err != nil {
		t.Fatalf("Push with moto's ECR token: %v", err)
	}
	if want := ecrRepo + "@" + mustDigest(t, img).String(); ref != want {
		t.Errorf("Push = %q, want %q", ref, want)
	}
	if _, manifests := c.counts(); manifests != 1 {
		t.Errorf("the registry behind the basic auth got %d manifest PUTs, want 1", manifests)
	}
}
