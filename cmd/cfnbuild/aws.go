package main

import (
	"context"
	"fmt"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/urfave/cli/v2"
)

// Flags that name the stacks and the AWS account. Region, profile, credentials and endpoint come
// from the SDK's standard chain (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL, ...); --region and
// --profile (or samconfig's region and profile) override it, as in `sam deploy`.
const (
	flagStackName = "stack-name"
	flagRegion    = "region"
	flagProfile   = "profile"

	// DefaultStackName is the main stack's name when neither --stack-name nor samconfig names one.
	DefaultStackName = "cfnbuild"
)

func stackFlags() []cli.Flag {
	return []cli.Flag{
		stringFlag(flagStackName, "`NAME` of the main stack; the image-repository stack is NAME-repository", DefaultStackName),
		// No environment variables of their own: AWS_REGION and AWS_PROFILE are the SDK's.
		&cli.StringFlag{Name: flagRegion, Usage: "AWS `REGION` (default: the SDK's chain, e.g. AWS_REGION)"},
		&cli.StringFlag{Name: flagProfile, Usage: "AWS shared-config `PROFILE` (default: the SDK's chain, e.g. AWS_PROFILE)"},
	}
}

var stackNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,116}$`)

// stackNames returns the main stack's name and the image-repository stack's.
func stackNames(c *cli.Context) (main, repository string, err error) {
	name := c.String(flagStackName)
	if !stackNameRE.MatchString(name) {
		return "", "", usageError(fmt.Errorf("%s: stack name %q must start with a letter and hold only letters, digits and hyphens (at most 117 characters)", origin(c, flagStackName), name))
	}
	return name, RepositoryStackName(name), nil
}

// RepositoryStackName derives the image-repository stack's name from the main stack's.
func RepositoryStackName(main string) string { return main + "-repository" }

// loadAWSConfig resolves the SDK configuration: the standard chain, with --region/--profile on top.
func loadAWSConfig(ctx context.Context, c *cli.Context) (aws.Config, error) {
	cfg, err := loadSDKConfig(ctx, c.String(flagRegion), c.String(flagProfile))
	if err != nil {
		return aws.Config{}, err
	}
	if cfg.Region == "" {
		return aws.Config{}, usageError(fmt.Errorf("no AWS region: set --region, samconfig's region, or AWS_REGION"))
	}
	return cfg, nil
}

// loadSDKConfig loads the SDK's standard chain, with region and profile (when not empty) on top.
func loadSDKConfig(ctx context.Context, region, profile string) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	if profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(profile))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS configuration: %w", err)
	}
	return cfg, nil
}
