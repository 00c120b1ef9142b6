package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cfnbuild/cfnbuild/template"
)

// Flags that shape the template. Each is also a samconfig key (the name with "_" for "-") and a
// CFNBUILD_* environment variable; defaults come from template.Defaults.
const (
	flagNetwork           = "network"
	flagVPCCIDR           = "vpc-cidr"
	flagNATInstanceType   = "nat-instance-type"
	flagAuth              = "auth"
	flagThrottleRate      = "throttle-rate"
	flagThrottleBurst     = "throttle-burst"
	flagQuotaPerDay       = "quota-per-day"
	flagArchitecture      = "architecture"
	flagSpot              = "spot"
	flagMaxTasks          = "max-tasks"
	flagCPU               = "cpu"
	flagMemory            = "memory"
	flagWorkerConcurrency = "worker-concurrency"
	flagJobCommand        = "job-command"
	flagJobTimeout        = "job-timeout"
	flagMaxReceiveCount   = "max-receive-count"
	flagScaleInDelay      = "scale-in-delay"
	flagLogRetentionDays  = "log-retention-days"
	flagImagesToKeep      = "images-to-keep"
)

func templateFlags() []cli.Flag {
	d := template.Defaults()
	return []cli.Flag{
		stringFlag(flagNetwork, "network `MODE`: nat-instance (private subnets, one NAT instance), public (no NAT, zero idle cost) or nat-gateway", d.Network),
		stringFlag(flagVPCCIDR, "VPC IPv4 `CIDR` (/16 to /24), cut into 2 public and 2 private subnets", d.VPCCIDR),
		stringFlag(flagNATInstanceType, "EC2 `TYPE` of the NAT instance (nat-instance mode)", d.NATInstanceType),
		stringFlag(flagAuth, "API auth `MODE`: api-key (usage plan), iam (SigV4) or none (open endpoint)", d.Auth),
		floatFlag(flagThrottleRate, "API stage steady-state limit, requests per second", d.ThrottleRate),
		intFlag(flagThrottleBurst, "API stage burst limit, requests", d.ThrottleBurst),
		intFlag(flagQuotaPerDay, "requests per day per API key (api-key mode)", d.QuotaPerDay),
		stringFlag(flagArchitecture, "task CPU `ARCH`: x86_64 or arm64", d.Architecture),
		boolFlag(flagSpot, "run tasks on Fargate Spot (cheaper, may be interrupted)"),
		intFlag(flagMaxTasks, "most tasks the fleet scales out to", d.MaxTasks),
		intFlag(flagCPU, "task CPU units (256, 512, 1024, 2048, 4096, 8192, 16384)", d.CPU),
		intFlag(flagMemory, "task memory in MiB, a value Fargate allows with --cpu", d.Memory),
		intFlag(flagWorkerConcurrency, "jobs one task runs at once", d.WorkerConcurrency),
		stringFlag(flagJobCommand, "`COMMAND` run per message (body on stdin); empty runs the built-in job", d.JobCommand),
		intFlag(flagJobTimeout, "seconds a job may run (the queue's visibility timeout, 1..43200)", d.JobTimeout),
		intFlag(flagMaxReceiveCount, "tries before a message goes to the dead-letter queue", d.MaxReceiveCount),
		intFlag(flagScaleInDelay, "minutes the queue must stay empty before scaling to zero", d.ScaleInDelay),
		intFlag(flagLogRetentionDays, "days the worker's logs are kept", d.LogRetentionDays),
		intFlag(flagImagesToKeep, "images the repository's lifecycle rule keeps", d.ImagesToKeep),
	}
}

// templateConfig reads the template flags into a validated template.Config. An invalid value is
// reported with where it came from: the flag, or the samconfig file, table and key.
func templateConfig(c *cli.Context) (template.Config, error) {
	cfg := template.Config{
		Network:           c.String(flagNetwork),
		VPCCIDR:           c.String(flagVPCCIDR),
		NATInstanceType:   c.String(flagNATInstanceType),
		Auth:              c.String(flagAuth),
		ThrottleRate:      c.Float64(flagThrottleRate),
		ThrottleBurst:     c.Int(flagThrottleBurst),
		QuotaPerDay:       c.Int(flagQuotaPerDay),
		Architecture:      c.String(flagArchitecture),
		Spot:              c.Bool(flagSpot),
		MaxTasks:          c.Int(flagMaxTasks),
		CPU:               c.Int(flagCPU),
		Memory:            c.Int(flagMemory),
		WorkerConcurrency: c.Int(flagWorkerConcurrency),
		JobCommand:        c.String(flagJobCommand),
		JobTimeout:        c.Int(flagJobTimeout),
		MaxReceiveCount:   c.Int(flagMaxReceiveCount),
		ScaleInDelay:      c.Int(flagScaleInDelay),
		LogRetentionDays:  c.Int(flagLogRetentionDays),
		ImagesToKeep:      c.Int(flagImagesToKeep),
	}
	if err := cfg.Validate(); err != nil {
		return cfg, usageError(explainConfigError(c, err))
	}
	return cfg, nil
}

// explainConfigError prefixes each template.FieldError with the origin of its value.
func explainConfigError(c *cli.Context, err error) error {
	var lines []string
	for _, e := range unjoin(err) {
		var fe *template.FieldError
		if errors.As(e, &fe) {
			lines = append(lines, fmt.Sprintf("%s: %v", origin(c, flagName(fe.Key)), fe))
			continue
		}
		lines = append(lines, e.Error())
	}
	if len(lines) == 1 {
		return errors.New("invalid configuration: " + lines[0])
	}
	return errors.New("invalid configuration:\n  " + strings.Join(lines, "\n  "))
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
