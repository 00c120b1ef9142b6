package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/urfave/cli/v2"

	"github.com/cfnbuild/cfnbuild/cmd/cfnbuild/internal/deploy"
	"github.com/cfnbuild/cfnbuild/cmd/cfnbuild/internal/image"
	"github.com/cfnbuild/cfnbuild/template"
)

// Flags of the worker image. imageFlags are shared by build, push and deploy; the architecture is
// the template's --architecture flag.
const (
	flagMain          = "main"
	flagBase          = "base"
	flagInclude       = "include"
	flagOCILayout     = "oci-layout"
	flagRepositoryURI = "repository-uri"
)

func imageFlags() []cli.Flag {
	return []cli.Flag{
		stringFlag(flagMain, "Go main `PACKAGE` the image runs: a directory (./worker, ../jobs/cmd/job) or an import path. "+
			"The image has no CA files: a package other than ./worker that uses TLS must import golang.org/x/crypto/x509roots/fallback", image.DefaultMain),
		stringFlag(flagBase, "base image `REF` for a job command that needs another runtime (default: none, the binary alone)", ""),
		stringFlag(flagInclude, "`DIR` of files for the job command, copied to /app (then the working directory)", ""),
	}
}

// imageCommandFlags are the flags build and push need besides their own: the image's, the
// architecture, and the AWS region and profile (for ECR tokens).
func imageCommandFlags() []cli.Flag {
	return mergeFlags(imageFlags(),
		[]cli.Flag{findFlag(templateFlags(), flagArchitecture), findFlag(stackFlags(), flagRegion), findFlag(stackFlags(), flagProfile)})
}

func buildCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:  "build",
		Usage: "build the worker image (no Docker daemon needed) and print its digest",
		UsageText: "cfnbuild build [--main PACKAGE] [--architecture x86_64|arm64] [--base REF] [--include DIR] [--oci-layout DIR]\n\n" +
			"The image is reproducible: the same source gives the same digest (SOURCE_DATE_EPOCH sets its time).",
		Flags: mergeFlags(imageCommandFlags(), []cli.Flag{
			stringFlag(flagOCILayout, "also write the image to the OCI image layout `DIR`", ""),
		}),
		Action: func(c *cli.Context) error {
			o, err := imageOptions(c)
			if err != nil {
				return err
			}
			img, err := buildImage(c.Context, s, o)
			if err != nil {
				return err
			}
			digest, err := img.Digest()
			if err != nil {
				return err
			}
			if dir := c.String(flagOCILayout); dir != "" {
				if err := image.WriteLayout(dir, img); err != nil {
					return err
				}
				fmt.Fprintf(s.err, "wrote OCI layout %s\n", dir)
			}
			_, err = fmt.Fprintln(s.out, digest)
			return err
		},
	}
}

func pushCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:  "push",
		Usage: "build the worker image, push it by digest and print HOST/REPO@sha256:...",
		UsageText: "cfnbuild push [--repository-uri HOST/REPO] [--stack-name NAME] [build flags]\n\n" +
			"Without --repository-uri the image goes to the repository of the stack NAME-repository (cfnbuild deploy creates it).\n" +
			"ECR hosts get a token from ecr:GetAuthorizationToken; other registries use the Docker config (~/.docker/config.json).",
		Flags: mergeFlags(imageCommandFlags(), []cli.Flag{
			stringFlag(flagRepositoryURI, "push to `HOST/REPO` (no tag) instead of the repository stack's repository", ""),
		}, stackFlags()),
		Action: func(c *cli.Context) error {
			uri := c.String(flagRepositoryURI)
			if uri == "" {
				_, repoStack, err := stackNames(c)
				if err != nil {
					return err
				}
				cfg, err := loadAWSConfig(c.Context, c)
				if err != nil {
					return err
				}
				if uri, err = repositoryURIFromStack(c.Context, cloudformation.NewFromConfig(cfg), repoStack); err != nil {
					return err
				}
			} else if _, err := image.ParseRepository(uri); err != nil {
				return usageError(fmt.Errorf("%s: %w", origin(c, flagRepositoryURI), err))
			}
			ref, err := buildAndPushImage(c.Context, c, s, uri)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(s.out, ref)
			return err
		},
	}
}

// buildAndPushImage builds the image from the command's image flags (main, base, include,
// architecture, region, profile) and pushes it to repositoryURI, with progress on stderr. It returns
// HOST/REPO@sha256:..., what the task definition takes. The deploy command calls it with the
// repository stack's RepositoryUri output.
func buildAndPushImage(ctx context.Context, c *cli.Context, s streams, repositoryURI string) (string, error) {
	o, err := imageOptions(c)
	if err != nil {
		return "", err
	}
	img, err := buildImage(ctx, s, o)
	if err != nil {
		return "", err
	}
	return image.Push(ctx, img, repositoryURI, image.PushOptions{Keychain: o.Keychain, Progress: s.err})
}

// imageOptions reads the image flags and SOURCE_DATE_EPOCH into image.Options; bad values are usage
// errors that say where they came from.
func imageOptions(c *cli.Context) (image.Options, error) {
	o := image.Options{
		Main:         c.String(flagMain),
		Architecture: c.String(flagArchitecture),
		Base:         c.String(flagBase),
		Include:      c.String(flagInclude),
		Keychain:     image.NewKeychain(&lazyECR{region: c.String(flagRegion), profile: c.String(flagProfile)}),
	}
	if _, err := image.GoArch(o.Architecture); err != nil {
		return o, usageError(fmt.Errorf("%s: %w", origin(c, flagArchitecture), err))
	}
	if o.Include != "" {
		if fi, err := os.Stat(o.Include); err != nil || !fi.IsDir() {
			return o, usageError(fmt.Errorf("%s: %q is not a directory", origin(c, flagInclude), o.Include))
		}
	}
	if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil || secs < 0 {
			return o, usageError(fmt.Errorf("SOURCE_DATE_EPOCH %q is not a number of seconds since 1970", v))
		}
		o.SourceDateEpoch = time.Unix(secs, 0).UTC()
	}
	return o, nil
}

// buildImage builds with progress on stderr: what is built, then its digest, size and build time.
func buildImage(ctx context.Context, s streams, o image.Options) (v1.Image, error) {
	goarch, _ := image.GoArch(o.Architecture)
	main := o.Main
	if main == "" {
		main = image.DefaultMain
	}
	on := ""
	if o.Base != "" {
		on = " on " + o.Base
	}
	fmt.Fprintf(s.err, "building %s for linux/%s%s\n", main, goarch, on)
	start := time.Now()
	img, err := image.Build(ctx, o)
	if err != nil {
		return nil, err
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, err
	}
	size, err := image.CompressedSize(img)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(s.err, "built %s: %s compressed (%d bytes) in %.1fs\n", digest, image.FormatBytes(size), size, time.Since(start).Seconds())
	return img, nil
}

// lazyECR is an image.ECRTokenGetter that loads the AWS configuration on first use, so building
// and pushing to other registries needs none. The region comes from the registry's host on each
// call; --region and --profile apply as everywhere else.
type lazyECR struct {
	region, profile string

	once   sync.Once
	client *ecr.Client
	err    error
}

func (l *lazyECR) GetAuthorizationToken(ctx context.Context, in *ecr.GetAuthorizationTokenInput, optFns ...func(*ecr.Options)) (*ecr.GetAuthorizationTokenOutput, error) {
	l.once.Do(func() {
		cfg, err := loadSDKConfig(ctx, l.region, l.profile)
		if err != nil {
			l.err = err
			return
		}
		l.client = ecr.NewFromConfig(cfg)
	})
	if l.err != nil {
		return nil, l.err
	}
	return l.client.GetAuthorizationToken(ctx, in, optFns...)
}

var _ image.ECRTokenGetter = (*lazyECR)(nil)

// stackDescriber is the one CloudFormation call push makes; *cloudformation.Client implements it.
type stackDescriber interface {
	DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}

// repositoryURIFromStack reads the RepositoryUri output of the repository stack.
func repositoryURIFromStack(ctx context.Context, api stackDescriber, stack string) (string, error) {
	out, err := api.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if deploy.IsStackNotFound(err) || (err == nil && len(out.Stacks) == 0) {
		return "", fmt.Errorf("no --%s and stack %q does not exist: run cfnbuild deploy first, or pass --%s", flagRepositoryURI, stack, flagRepositoryURI)
	}
	if err != nil {
		return "", fmt.Errorf("reading the outputs of stack %q: %w", stack, err)
	}
	st := out.Stacks[0]
	for _, o := range st.Outputs {
		if aws.ToString(o.OutputKey) == template.OutputRepositoryURI && aws.ToString(o.OutputValue) != "" {
			return aws.ToString(o.OutputValue), nil
		}
	}
	return "", fmt.Errorf("no --%s and stack %q (%s) has no %s output: run cfnbuild deploy first, or pass --%s",
		flagRepositoryURI, stack, st.StackStatus, template.OutputRepositoryURI, flagRepositoryURI)
}
