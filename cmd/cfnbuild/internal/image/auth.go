package image

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// ECRTokenGetter is the one call of the ECR API the package makes; *ecr.Client implements it. The
// package passes an option that sets the region of the registry's host on each call.
type ECRTokenGetter interface {
	GetAuthorizationToken(ctx context.Context, in *ecr.GetAuthorizationTokenInput, optFns ...func(*ecr.Options)) (*ecr.GetAuthorizationTokenOutput, error)
}

var ecrHostRE = regexp.MustCompile(`^(\d{12})\.dkr\.ecr(-fips)?\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$`)

// ECRRegion returns the region of an Amazon ECR registry host
// (123456789012.dkr.ecr.eu-west-1.amazonaws.com → eu-west-1), and false for any other host.
func ECRRegion(host string) (string, bool) {
	m := ecrHostRE.FindStringSubmatch(host)
	if m == nil {
		return "", false
	}
	return m[3], true
}

// IsLoopback reports whether a registry host (with or without a port) is this machine:
// localhost, 127.0.0.0/8 or ::1.
func IsLoopback(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NewKeychain returns the keychain Build and Push use unless told otherwise: for an Amazon ECR host
// a token from ecr.GetAuthorizationToken in the host's region (fetched once per region), for a
// loopback host anonymous access, for any other host the Docker config's credentials
// (authn.DefaultKeychain). ecr may be nil when no ECR host is used.
func NewKeychain(ecr ECRTokenGetter) authn.Keychain {
	return &keychain{ecr: ecr, fallback: authn.DefaultKeychain, tokens: map[string]*ecrAuth{}}
}

type keychain struct {
	ecr      ECRTokenGetter
	fallback authn.Keychain

	mu     sync.Mutex
	tokens map[string]*ecrAuth // by region
}

func (k *keychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), r)
}

func (k *keychain) ResolveContext(ctx context.Context, r authn.Resource) (authn.Authenticator, error) {
	host := r.RegistryStr()
	if IsLoopback(host) {
		return authn.Anonymous, nil
	}
	region, ok := ECRRegion(host)
	if !ok {
		return authn.Resolve(ctx, k.fallback, r)
	}
	if k.ecr == nil {
		return nil, fmt.Errorf("authenticating to %s: no ECR client to get a token with", host)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	a, ok := k.tokens[region]
	if !ok {
		a = &ecrAuth{ecr: k.ecr, region: region}
		k.tokens[region] = a
	}
	return a, nil
}

// ecrAuth is basic auth with the user and password of an ECR authorization token, fetched on first
// use (the transport asks for every request) and kept: a token lasts 12 hours.
type ecrAuth struct {
	ecr    ECRTokenGetter
	region string

	mu    sync.Mutex
	basic *authn.Basic
}

func (a *ecrAuth) Authorization() (*authn.AuthConfig, error) {
	return a.AuthorizationContext(context.Background())
}

func (a *ecrAuth) AuthorizationContext(ctx context.Context) (*authn.AuthConfig, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.basic == nil {
		b, err := ecrCredentials(ctx, a.ecr, a.region)
		if err != nil {
			return nil, err
		}
		a.basic = b
	}
	return a.basic.Authorization()
}

// ecrCredentials gets an authorization token for the region's registries and decodes it.
func ecrCredentials(ctx context.Context, api ECRTokenGetter, region string) (*authn.Basic, error) {
	out, err := api.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{}, func(o *ecr.Options) { o.Region = region })
	if err != nil {
		return nil, fmt.Errorf("getting an ECR authorization token in %s: %w", region, err)
	}
	if len(out.AuthorizationData) == 0 || aws.ToString(out.AuthorizationData[0].AuthorizationToken) == "" {
		return nil, fmt.Errorf("getting an ECR authorization token in %s: the answer holds no token", region)
	}
	b, err := DecodeECRToken(aws.ToString(out.AuthorizationData[0].AuthorizationToken))
	if err != nil {
		return nil, fmt.Errorf("getting an ECR authorization token in %s: %w", region, err)
	}
	return b, nil
}

// DecodeECRToken turns an ECR authorization token, base64 of "AWS:password", into basic-auth
// credentials.
func DecodeECRToken(token string) (*authn.Basic, error) {
	raw, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		return nil, fmt.Errorf("decoding the token: %w", err)
	}
	user, password, ok := strings.Cut(string(raw), ":")
	if !ok || user == "" || password == "" {
		return nil, errors.New("decoding the token: not of the form user:password")
	}
	return &authn.Basic{Username: user, Password: password}, nil
}

// nameOptions are the options for parsing a reference to s: plain HTTP for a loopback registry.
func nameOptions(s string, opts ...name.Option) []name.Option {
	if host, _, ok := strings.Cut(s, "/"); ok && IsLoopback(host) {
		opts = append(opts, name.Insecure)
	}
	return opts
}
