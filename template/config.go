package template

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Network modes: where tasks run and how they reach the internet (ECR, SQS, CloudWatch).
const (
	// NetworkNATInstance puts tasks in private subnets behind one small NAT instance (the default:
	// a few dollars a month when idle).
	NetworkNATInstance = "nat-instance"
	// NetworkPublic puts tasks in public subnets with a public IP and no NAT: zero idle cost.
	NetworkPublic = "public"
	// NetworkNATGateway puts tasks in private subnets behind a managed NAT gateway (~$33/month).
	NetworkNATGateway = "nat-gateway"
)

// Auth modes of the API.
const (
	AuthAPIKey = "api-key" // x-api-key header, usage plan with throttling and quota (the default)
	AuthIAM    = "iam"     // SigV4-signed requests
	AuthNone   = "none"    // an open endpoint, as the seed had: opt-in only
)

// CPU architectures of the Fargate task (and so of the worker image).
const (
	ArchX86 = "x86_64"
	ArchARM = "arm64"
)

// Config describes one deployment. The zero value is not valid; start from Defaults().
// Fields marked "parameter" become CloudFormation Parameter defaults that a reviewer can change in
// the console; the others shape the template itself.
type Config struct {
	// Network is NetworkNATInstance, NetworkPublic or NetworkNATGateway.
	Network string
	// VPCCIDR is the VPC's IPv4 block, /16 to /24; it is cut into 4 equal subnets.
	VPCCIDR string
	// NATInstanceType is the NAT instance's EC2 type (nat-instance mode). Graviton types (t4g, c7g,
	// ...) get the arm64 Amazon Linux 2023 AMI, the others the x86_64 one.
	NATInstanceType string

	// Auth is AuthAPIKey, AuthIAM or AuthNone.
	Auth string
	// ThrottleRate and ThrottleBurst limit the API stage (requests per second, burst).
	ThrottleRate  float64
	ThrottleBurst int
	// QuotaPerDay caps requests per day per API key (api-key mode).
	QuotaPerDay int

	// Architecture is ArchX86 or ArchARM.
	Architecture string
	// Spot runs tasks on Fargate Spot (about 70% cheaper, may be interrupted with 2 minutes' notice).
	Spot bool
	// MaxTasks is the most tasks the fleet grows to (parameter).
	MaxTasks int
	// CPU (units) and Memory (MiB) of a task, a pair Fargate allows (parameters).
	CPU, Memory int
	// WorkerConcurrency is how many jobs one task runs at once.
	WorkerConcurrency int
	// JobCommand is run per message with the body on stdin; empty runs the worker's built-in job.
	JobCommand string

	// JobTimeout is how long a job may run, in seconds; also the queue's visibility timeout (parameter).
	JobTimeout int
	// MaxReceiveCount is how many times a message is tried before it goes to the DLQ (parameter).
	MaxReceiveCount int
	// ScaleInDelay is how many minutes the queue must stay empty (visible and in flight) before the
	// fleet scales to zero (parameter).
	ScaleInDelay int

	// LogRetentionDays is how long the worker's logs are kept.
	LogRetentionDays int
	// ImagesToKeep is how many images the repository's lifecycle rule keeps.
	ImagesToKeep int
}

// Defaults returns the documented default configuration.
func Defaults() Config {
	return Config{
		Network:           NetworkNATInstance,
		VPCCIDR:           "10.0.0.0/16",
		NATInstanceType:   "t4g.nano",
		Auth:              AuthAPIKey,
		ThrottleRate:      10,
		ThrottleBurst:     20,
		QuotaPerDay:       10000,
		Architecture:      ArchX86,
		MaxTasks:          4,
		CPU:               1024,
		Memory:            2048,
		WorkerConcurrency: 1,
		JobTimeout:        300,
		MaxReceiveCount:   3,
		ScaleInDelay:      5,
		LogRetentionDays:  30,
		ImagesToKeep:      10,
	}
}

// Limits a Config is checked against.
const (
	MaxJobTimeout      = 43200 // SQS's largest visibility timeout, 12 hours
	MaxMaxTasks        = 1000
	MaxMaxReceiveCount = 1000 // SQS redrive policy's limit
	MaxScaleInDelay    = 1440 // a CloudWatch alarm may look back at most one day of 60 s periods
	StopTimeout        = 120  // seconds ECS waits after SIGTERM (Fargate's maximum)
	// WorkerStopTimeout is how long the worker lets running jobs finish after SIGTERM: less than
	// StopTimeout so that it can still return unfinished messages before SIGKILL.
	WorkerStopTimeout = 110
	// JobRetryDelay is the worker's base backoff in seconds before a failed job is retried.
	JobRetryDelay = 10
)

// fargateMemory lists, per CPU value, the memory values (MiB) Fargate accepts.
var fargateMemory = map[int][]int{
	256:   {512, 1024, 2048},
	512:   memRange(1024, 4096, 1024),
	1024:  memRange(2048, 8192, 1024),
	2048:  memRange(4096, 16384, 1024),
	4096:  memRange(8192, 30720, 1024),
	8192:  memRange(16384, 61440, 4096),
	16384: memRange(32768, 122880, 8192),
}

func memRange(from, to, step int) []int {
	var out []int
	for m := from; m <= to; m += step {
		out = append(out, m)
	}
	return out
}

// FargateCPUs lists the CPU values Fargate accepts, ascending.
func FargateCPUs() []int {
	cpus := make([]int, 0, len(fargateMemory))
	for c := range fargateMemory {
		cpus = append(cpus, c)
	}
	slices.Sort(cpus)
	return cpus
}

// FargateMemory lists the memory values (MiB) Fargate accepts with cpu; nil for an unknown cpu.
func FargateMemory(cpu int) []int { return slices.Clone(fargateMemory[cpu]) }

// allFargateMemory lists every memory value of any cpu, ascending, for the parameter's AllowedValues.
func allFargateMemory() []int {
	var all []int
	for _, ms := range fargateMemory {
		for _, m := range ms {
			if !slices.Contains(all, m) {
				all = append(all, m)
			}
		}
	}
	slices.Sort(all)
	return all
}

var instanceTypeRE = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9]+$`)

// FieldError is one invalid Config field, named by its samconfig key (the flag name with "_" for "-").
type FieldError struct {
	Key     string
	Value   any
	Problem string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s %s: %s", e.Key, quoteString(e.Value), e.Problem)
}

// Validate reports every problem of c as a *FieldError, joined with errors.Join.
func (c Config) Validate() error {
	var errs []error
	bad := func(key string, value any, format string, args ...any) {
		errs = append(errs, &FieldError{Key: key, Value: value, Problem: fmt.Sprintf(format, args...)})
	}
	switch c.Network {
	case NetworkNATInstance, NetworkPublic, NetworkNATGateway:
	default:
		bad("network", c.Network, "unknown network mode; use %s, %s or %s", NetworkNATInstance, NetworkPublic, NetworkNATGateway)
	}
	if err := checkVPCCIDR(c.VPCCIDR); err != nil {
		bad("vpc_cidr", c.VPCCIDR, "%v", err)
	}
	if c.Network == NetworkNATInstance && !instanceTypeRE.MatchString(c.NATInstanceType) {
		bad("nat_instance_type", c.NATInstanceType, "not an EC2 instance type such as t4g.nano or t3.nano")
	}
	switch c.Auth {
	case AuthAPIKey, AuthIAM, AuthNone:
	default:
		bad("auth", c.Auth, "unknown auth mode; use %s, %s or %s", AuthAPIKey, AuthIAM, AuthNone)
	}
	if c.ThrottleRate <= 0 {
		bad("throttle_rate", c.ThrottleRate, "must be more than 0 requests per second")
	}
	if c.ThrottleBurst < 1 {
		bad("throttle_burst", c.ThrottleBurst, "must be at least 1")
	}
	if c.Auth == AuthAPIKey && c.QuotaPerDay < 1 {
		bad("quota_per_day", c.QuotaPerDay, "must be at least 1 request per day")
	}
	switch c.Architecture {
	case ArchX86, ArchARM:
	default:
		bad("architecture", c.Architecture, "unknown architecture; use %s or %s", ArchX86, ArchARM)
	}
	if c.MaxTasks < 1 || c.MaxTasks > MaxMaxTasks {
		bad("max_tasks", c.MaxTasks, "must be between 1 and %d", MaxMaxTasks)
	}
	if mems, ok := fargateMemory[c.CPU]; !ok {
		bad("cpu", c.CPU, "Fargate allows cpu %s", joinInts(FargateCPUs()))
	} else if !slices.Contains(mems, c.Memory) {
		bad("memory", c.Memory, "Fargate does not allow memory %d with cpu %d; with cpu %d use memory %s", c.Memory, c.CPU, c.CPU, joinInts(mems))
	}
	if c.WorkerConcurrency < 1 || c.WorkerConcurrency > 100 {
		bad("worker_concurrency", c.WorkerConcurrency, "must be between 1 and 100")
	}
	if strings.ContainsAny(c.JobCommand, "\x00\n") {
		bad("job_command", c.JobCommand, "must be one line")
	}
	if c.JobTimeout < 1 || c.JobTimeout > MaxJobTimeout {
		bad("job_timeout", c.JobTimeout, "must be between 1 and %d seconds (it is the queue's visibility timeout, which SQS limits to 0..%d; 0 would hand every message to a second worker at once)", MaxJobTimeout, MaxJobTimeout)
	}
	if c.MaxReceiveCount < 1 || c.MaxReceiveCount > MaxMaxReceiveCount {
		bad("max_receive_count", c.MaxReceiveCount, "must be between 1 and %d", MaxMaxReceiveCount)
	}
	if c.ScaleInDelay < 1 || c.ScaleInDelay > MaxScaleInDelay {
		bad("scale_in_delay", c.ScaleInDelay, "must be between 1 and %d minutes", MaxScaleInDelay)
	}
	if !slices.Contains(logRetentionDays, c.LogRetentionDays) {
		bad("log_retention_days", c.LogRetentionDays, "CloudWatch Logs allows %s", joinInts(logRetentionDays))
	}
	if c.ImagesToKeep < 1 || c.ImagesToKeep > 10000 {
		bad("images_to_keep", c.ImagesToKeep, "must be between 1 and 10000")
	}
	return errors.Join(errs...)
}

// logRetentionDays are the values CloudWatch Logs accepts for a log group's retention.
var logRetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

func checkVPCCIDR(s string) error {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return fmt.Errorf("not an IPv4 CIDR block such as 10.0.0.0/16")
	}
	if !p.Addr().Is4() {
		return fmt.Errorf("must be an IPv4 block")
	}
	if p.Masked() != p {
		return fmt.Errorf("has host bits set; did you mean %s?", p.Masked())
	}
	if p.Bits() < 16 || p.Bits() > 24 {
		return fmt.Errorf("prefix must be /16 to /24 (a VPC allows /16 to /28, and it is cut into 4 subnets)")
	}
	return nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

func quoteString(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}
