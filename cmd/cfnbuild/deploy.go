package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cfnbuild/cfnbuild/cmd/cfnbuild/internal/config"
	"github.com/cfnbuild/cfnbuild/cmd/cfnbuild/internal/deploy"
	"github.com/cfnbuild/cfnbuild/template"
)

// Flags of deploy, diff and destroy. The names are SAM CLI's, so samconfig.toml's keys mean what
// they mean to `sam deploy`.
const (
	flagCapabilities         = "capabilities"
	flagParameterOverrides   = "parameter-overrides"
	flagTags                 = "tags"
	flagConfirmChangeset     = "confirm-changeset"
	flagFailOnEmptyChangeset = "fail-on-empty-changeset"
	flagNoExecuteChangeset   = "no-execute-changeset"
	flagYes                  = "yes"
	flagImageURI             = "image-uri"
	flagS3Bucket             = "s3-bucket"
	flagS3Prefix             = "s3-prefix"
	flagOutput               = "output"
	flagDebugAPICalls        = "debug-api-calls"
)

// changeSetFlags shape the change sets of deploy and diff.
func changeSetFlags() []cli.Flag {
	caps := sliceFlag(flagCapabilities, "`CAPABILITY` to acknowledge (CAPABILITY_IAM, CAPABILITY_NAMED_IAM, CAPABILITY_AUTO_EXPAND)")
	caps.Value = cli.NewStringSlice(capabilityIAM)
	return []cli.Flag{
		stringFlag(flagImageURI, "deploy the image `URI` (ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO@sha256:DIGEST) instead of building and pushing one", ""),
		sliceFlag(flagParameterOverrides, "template parameters to set: `PAIRS` like Key=Value Key2=\"value 2\" (repeatable; samconfig: a string or an array)"),
		sliceFlag(flagTags, "tags for both stacks and their resources: `PAIRS` like Key=Value Key2=\"value 2\" (repeatable)"),
		caps,
		stringFlag(flagS3Bucket, "S3 `BUCKET` to upload a template over CloudFormation's 51,200-byte limit to", ""),
		stringFlag(flagS3Prefix, "key `PREFIX` of uploaded templates in --s3-bucket", ""),
		stringFlag(flagOutput, "results on stdout as `FORMAT`: text or json", "text"),
		debugAPICallsFlag(),
	}
}

func yesFlag(usage string) cli.Flag {
	f := boolFlag(flagYes, usage)
	f.Aliases = []string{"y"}
	return f
}

func debugAPICallsFlag() cli.Flag {
	f := boolFlag(flagDebugAPICalls, "count the AWS API calls made and print the figures on stderr")
	f.Hidden = true
	return f
}

// deployDeps are what the commands take from the outside world; tests replace them.
type deployDeps struct {
	// clients makes the AWS clients, once the flags are read.
	clients func(ctx context.Context, c *cli.Context) (*awsClients, error)
	// buildAndPush builds the worker image, pushes it to the repository and returns
	// HOST/REPO@sha256:..., for a deploy without --image-uri.
	buildAndPush func(ctx context.Context, c *cli.Context, repositoryURI string) (string, error)
}

func defaultDeployDeps(s streams) deployDeps {
	return deployDeps{
		clients: newAWSClients,
		buildAndPush: func(ctx context.Context, c *cli.Context, repositoryURI string) (string, error) {
			return buildAndPushImage(ctx, c, s, repositoryURI)
		},
	}
}

func deployCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:  "deploy",
		Usage: "deploy the image-repository stack, the worker image and the main stack through change sets",
		UsageText: "cfnbuild deploy [--stack-name NAME] [--image-uri URI] [--confirm-changeset | --no-execute-changeset] [--yes] [template flags]\n\n" +
			"Deploys NAME-repository, then (without --image-uri) builds the worker image (see cfnbuild build) and pushes\n" +
			"it to that repository by digest, then NAME.\n" +
			"Each change set is shown on stderr before it runs; progress goes to stderr, the stack's outputs to stdout.\n" +
			"AWS credentials, region and endpoint come from the SDK's chain (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL).",
		Flags: mergeFlags(stackFlags(), changeSetFlags(), []cli.Flag{
			boolFlag(flagConfirmChangeset, "ask before executing each change set"),
			boolFlag(flagNoExecuteChangeset, "create and show the change sets, execute none (they are left for review)"),
			boolFlag(flagFailOnEmptyChangeset, "exit 1 when neither stack has changes"),
			yesFlag("answer yes: execute change sets and recreate a stack whose first create failed without asking"),
		}, templateFlags(), imageFlags()),
		Action: func(c *cli.Context) error { return runDeploy(c, s, defaultDeployDeps(s)) },
	}
}

func diffCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:  "diff",
		Usage: "show the changes a deploy would make to both stacks, executing nothing",
		UsageText: "cfnbuild diff [--stack-name NAME] [--image-uri URI] [--output text|json] [template flags]\n\n" +
			"Creates a change set for each stack, prints it on stdout and deletes it. Without --image-uri the main\n" +
			"stack keeps its current image (a stack not yet created is shown with a placeholder image).",
		Flags:  mergeFlags(stackFlags(), changeSetFlags(), templateFlags()),
		Action: func(c *cli.Context) error { return runDiff(c, s, defaultDeployDeps(s)) },
	}
}

func destroyCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:      "destroy",
		Usage:     "delete the main stack, then the image-repository stack",
		UsageText: "cfnbuild destroy [--stack-name NAME] [--yes]",
		Flags: mergeFlags(stackFlags(), []cli.Flag{
			yesFlag("delete without asking"),
			debugAPICallsFlag(),
		}),
		Action: func(c *cli.Context) error { return runDestroy(c, s, defaultDeployDeps(s)) },
	}
}

// stacks is what deploy and diff deploy, read from the flags.
type stacks struct {
	main, repository string
	mainBody         []byte
	repositoryBody   []byte
	overrides        map[string]string
	tags             map[string]string
	capabilities     []string
	imageURI         string
	output           string
}

// repositoryStack is the image-repository stack: no parameters.
func (st *stacks) repositoryStack() deploy.Stack {
	return deploy.Stack{Name: st.repository, Template: st.repositoryBody, Tags: st.tags, Capabilities: st.capabilities}
}

// mainStack is the main stack with image. DesiredCount is 0 when the stack is created (no task
// starts); right after, and on every update, it is left out, so it takes the template's default,
// which leaves the running count to scaling.
func (st *stacks) mainStack(image string) deploy.Stack {
	params := map[string]string{template.ParamImageURI: image}
	for k, v := range st.overrides {
		params[k] = v
	}
	return deploy.Stack{
		Name:             st.main,
		Template:         st.mainBody,
		Parameters:       params,
		CreateParameters: map[string]string{template.ParamDesiredCount: "0"},
		Tags:             st.tags,
		Capabilities:     st.capabilities,
	}
}

const capabilityIAM = "CAPABILITY_IAM"

var (
	capabilities = []string{capabilityIAM, "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"}
	// imageURIRE is the ImageUri parameter's AllowedPattern: an ECR image by digest.
	imageURIRE = regexp.MustCompile(template.ImageURIPattern)
	// deployManaged are the parameters deploy sets itself.
	deployManaged = map[string]string{
		template.ParamImageURI:     "set it with --image-uri (image_uri), or let deploy build and push the image",
		template.ParamDesiredCount: "deploy sets it to 0 when the stack is created and leaves it out on updates, so that a deploy never changes how many tasks run",
	}
)

// readStacks renders both templates and reads the change-set flags. Every bad value is a usage
// error that names where it came from.
func readStacks(c *cli.Context) (*stacks, error) {
	st := &stacks{imageURI: c.String(flagImageURI), output: c.String(flagOutput)}
	var err error
	if st.main, st.repository, err = stackNames(c); err != nil {
		return nil, err
	}
	if strings.ToLower(st.main) != st.main {
		return nil, usageError(fmt.Errorf("%s: stack name %q must be lower case: the image repository is named after the stack %q, and ECR names are lower case", origin(c, flagStackName), st.main, st.repository))
	}
	if st.output != "text" && st.output != "json" {
		return nil, usageError(fmt.Errorf("%s: unknown output format %q; use text or json", origin(c, flagOutput), st.output))
	}
	if st.imageURI != "" && !imageURIRE.MatchString(st.imageURI) {
		return nil, usageError(fmt.Errorf("%s: %q is not an ECR image by digest (ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO@sha256:64 hex digits)", origin(c, flagImageURI), st.imageURI))
	}
	cfg, err := templateConfig(c)
	if err != nil {
		return nil, err
	}
	if st.mainBody, err = template.Synth(cfg, template.FormatJSON); err != nil {
		return nil, fmt.Errorf("rendering the template: %w", err)
	}
	if st.repositoryBody, err = template.SynthRepository(cfg, template.FormatJSON); err != nil {
		return nil, fmt.Errorf("rendering the repository template: %w", err)
	}
	if c.String(flagS3Bucket) == "" {
		for _, body := range [][]byte{st.mainBody, st.repositoryBody} {
			if len(body) > deploy.TemplateBodyLimit {
				return nil, usageError(fmt.Errorf("%v: set s3_bucket (--s3-bucket) to upload it", &deploy.TemplateTooLargeError{Size: len(body)}))
			}
		}
	}
	if st.overrides, err = parameterOverrides(c, st.mainBody); err != nil {
		return nil, err
	}
	if st.tags, err = keyValues(c, flagTags); err != nil {
		return nil, err
	}
	for _, v := range c.StringSlice(flagCapabilities) {
		for _, cp := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			if !slices.Contains(capabilities, cp) {
				return nil, usageError(fmt.Errorf("%s: unknown capability %q; use %s", origin(c, flagCapabilities), cp, strings.Join(capabilities, ", ")))
			}
			if !slices.Contains(st.capabilities, cp) {
				st.capabilities = append(st.capabilities, cp)
			}
		}
	}
	return st, nil
}

// parameterOverrides reads parameter_overrides: each key must be a parameter of the main template
// that deploy does not set itself.
func parameterOverrides(c *cli.Context, body []byte) (map[string]string, error) {
	kvs, err := keyValues(c, flagParameterOverrides)
	if err != nil || len(kvs) == 0 {
		return kvs, err
	}
	params, err := deploy.TemplateParameters(body)
	if err != nil {
		return nil, err
	}
	var settable []string
	for _, p := range params {
		if _, ok := deployManaged[p]; !ok {
			settable = append(settable, p)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(kvs)) {
		if why, ok := deployManaged[k]; ok {
			return nil, usageError(fmt.Errorf("%s: parameter %s cannot be overridden: %s", origin(c, flagParameterOverrides), k, why))
		}
		if !slices.Contains(params, k) {
			return nil, usageError(fmt.Errorf("%s: %q is not a parameter of the template; its parameters are %s", origin(c, flagParameterOverrides), k, strings.Join(settable, ", ")))
		}
	}
	return kvs, nil
}

// keyValues parses a SAM-style list flag (parameter_overrides, tags): every element holds
// Key=Value pairs; a later key wins.
func keyValues(c *cli.Context, flag string) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range c.StringSlice(flag) {
		kvs, err := config.ParseKeyValues(v)
		if err != nil {
			return nil, usageError(fmt.Errorf("%s: %w", origin(c, flag), err))
		}
		for _, kv := range kvs {
			out[kv.Key] = kv.Value
		}
	}
	return out, nil
}

// newDeployer makes a Deployer that draws progress on stderr, redrawn in place on a terminal.
func newDeployer(s streams, clients *awsClients, c *cli.Context) *deploy.Deployer {
	d := &deploy.Deployer{
		CFN:          clients.cfn,
		S3:           clients.s3,
		Bucket:       c.String(flagS3Bucket),
		Prefix:       c.String(flagS3Prefix),
		Region:       clients.region,
		Progress:     s.err,
		PollInterval: clients.pollInterval,
	}
	d.Terminal, d.Width, d.Height = terminal(s.err)
	return d
}

// prepare reads the stacks from the flags and makes the AWS clients and the Deployer, for deploy
// and diff.
func prepare(c *cli.Context, s streams, deps deployDeps) (*stacks, *awsClients, *deploy.Deployer, error) {
	st, err := readStacks(c)
	if err != nil {
		return nil, nil, nil, err
	}
	clients, err := deps.clients(c.Context, c)
	if err != nil {
		return nil, nil, nil, err
	}
	return st, clients, newDeployer(s, clients, c), nil
}

func runDeploy(c *cli.Context, s streams, deps deployDeps) error {
	ctx := c.Context
	yes, noExecute := c.Bool(flagYes), c.Bool(flagNoExecuteChangeset)
	confirm := c.Bool(flagConfirmChangeset) && !yes
	if noExecute && c.Bool(flagConfirmChangeset) {
		return usageError(fmt.Errorf("--%s and --%s contradict each other", flagConfirmChangeset, flagNoExecuteChangeset))
	}
	st, clients, d, err := prepare(c, s, deps)
	if err != nil {
		return err
	}
	defer clients.report(c, s)
	ask := newPrompter(s)
	d.Review = func(cs deploy.ChangeSet) (deploy.Decision, error) {
		if err := deploy.WriteChangeSet(s.err, cs); err != nil {
			return deploy.Discard, err
		}
		switch {
		case noExecute:
			return deploy.Keep, nil
		case confirm:
			ok, err := ask.yes(fmt.Sprintf("Deploy this change set to stack %q?", cs.Stack), "--"+flagYes)
			if err != nil || !ok {
				return deploy.Discard, err
			}
		}
		return deploy.Execute, nil
	}
	d.ConfirmRecreate = func(stack, status string) (bool, error) {
		if yes {
			return true, nil
		}
		return ask.yes(fmt.Sprintf("Stack %q is in %s: its first create failed. Delete it and create it again?", stack, status), "--"+flagYes)
	}

	changed := false
	repo, err := d.Deploy(ctx, st.repositoryStack())
	if done, err := reportDeploy(s, repo, err, &changed); done || err != nil {
		return err
	}
	image := st.imageURI
	if image == "" {
		uri := repo.Outputs[template.OutputRepositoryURI]
		if uri == "" {
			if repo.Decision == deploy.Keep {
				fmt.Fprintf(s.err, "Stopping: stack %q has no repository until its change set is executed, so the image cannot be pushed\n", st.repository)
				return nil
			}
			return fmt.Errorf("stack %q (%s) has no %s output to push the image to", st.repository, repo.Status, template.OutputRepositoryURI)
		}
		if image, err = deps.buildAndPush(ctx, c, uri); err != nil {
			return err
		}
	}
	res, err := d.Deploy(ctx, st.mainStack(image))
	if done, err := reportDeploy(s, res, err, &changed); done || err != nil {
		return err
	}
	if res.Decision == deploy.Keep {
		return nil
	}
	if !changed && c.Bool(flagFailOnEmptyChangeset) {
		return &exitError{err: fmt.Errorf("no changes to deploy to stacks %q and %q (--%s)", st.repository, st.main, flagFailOnEmptyChangeset), code: 1}
	}
	return writeOutputs(s.out, st.output, res.Outputs)
}

// reportDeploy says on stderr what Deploy did to a stack, and whether deploy stops there: after a
// change set the user declined.
func reportDeploy(s streams, res *deploy.Result, err error, changed *bool) (done bool, _ error) {
	switch {
	case errors.Is(err, deploy.ErrNoChanges):
		fmt.Fprintf(s.err, "Stack %q: no changes\n", res.Stack)
		return false, nil
	case err != nil:
		return true, commandError(err)
	}
	switch res.Decision {
	case deploy.Keep:
		fmt.Fprintf(s.err, "Change set %s of stack %q was not executed (--%s). Review it in the CloudFormation console and execute it there, or with:\n"+
			"  aws cloudformation execute-change-set --change-set-name %s\n", res.ChangeSet.Name, res.Stack, flagNoExecuteChangeset, res.ChangeSet.ID)
		if res.ChangeSet.Type == "CREATE" {
			fmt.Fprintf(s.err, "Until then stack %q stays in REVIEW_IN_PROGRESS; cfnbuild destroy deletes it.\n", res.Stack)
		}
		return false, nil
	case deploy.Discard:
		fmt.Fprintf(s.err, "Change set of stack %q deleted, not executed; stopping.\n", res.Stack)
		return true, nil
	}
	*changed = true
	if res.Settled {
		fmt.Fprintf(s.err, "Stack %q: CREATE_COMPLETE, then %s without %s: scaling owns the task count from now on\n", res.Stack, res.Status, template.ParamDesiredCount)
		return false, nil
	}
	fmt.Fprintf(s.err, "Stack %q: %s\n", res.Stack, res.Status)
	return false, nil
}

// commandError gives errors their exit status: 130 for an interruption (Ctrl-C), like a shell.
func commandError(err error) error {
	if errors.Is(err, context.Canceled) {
		return &exitError{err: err, code: 130}
	}
	return err
}

// writeOutputs prints a stack's outputs: "Key<TAB>Value" lines sorted by key, or a JSON object.
func writeOutputs(w io.Writer, format string, outputs map[string]string) error {
	if format == "json" {
		if outputs == nil {
			outputs = map[string]string{}
		}
		b, err := json.MarshalIndent(outputs, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(outputs)) {
		fmt.Fprintf(&b, "%s\t%s\n", k, outputs[k])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// placeholderImage stands in for the image when diff previews a main stack that does not exist
// yet without --image-uri.
func placeholderImage(region string) string {
	return "000000000000.dkr.ecr." + region + ".amazonaws.com/cfnbuild-diff-placeholder@sha256:" + strings.Repeat("0", 64)
}

func runDiff(c *cli.Context, s streams, deps deployDeps) error {
	ctx := c.Context
	st, clients, d, err := prepare(c, s, deps)
	if err != nil {
		return err
	}
	defer clients.report(c, s)

	main := st.mainStack(st.imageURI)
	if st.imageURI == "" {
		delete(main.Parameters, template.ParamImageURI)
		main.KeepParameters = []string{template.ParamImageURI}
		main.CreateParameters[template.ParamImageURI] = placeholderImage(clients.region)
	}
	var sets []deploy.ChangeSet
	for _, stack := range []deploy.Stack{st.repositoryStack(), main} {
		cs, err := d.Diff(ctx, stack)
		if err != nil {
			return commandError(err)
		}
		if stack.Name == st.main && st.imageURI == "" && cs.Type == "CREATE" {
			fmt.Fprintf(s.err, "Stack %q does not exist yet: shown with a placeholder image (pass --%s for the real one)\n", st.main, flagImageURI)
		}
		sets = append(sets, cs)
	}
	if st.output == "json" {
		return writeChangeSetsJSON(s.out, sets)
	}
	for _, cs := range sets {
		if err := deploy.WriteChangeSet(s.out, cs); err != nil {
			return err
		}
	}
	return nil
}

// writeChangeSetsJSON prints change sets as a JSON array, for scripts.
func writeChangeSetsJSON(w io.Writer, sets []deploy.ChangeSet) error {
	type change struct {
		Action      string `json:"action"`
		LogicalID   string `json:"logicalId"`
		PhysicalID  string `json:"physicalId,omitempty"`
		Type        string `json:"type"`
		Replacement string `json:"replacement,omitempty"`
	}
	type changeSet struct {
		Stack   string   `json:"stack"`
		Type    string   `json:"type"`
		Changes []change `json:"changes"`
	}
	out := []changeSet{}
	for _, cs := range sets {
		j := changeSet{Stack: cs.Stack, Type: cs.Type, Changes: []change{}}
		for _, ch := range cs.Changes {
			j.Changes = append(j.Changes, change(ch))
		}
		out = append(out, j)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func runDestroy(c *cli.Context, s streams, deps deployDeps) error {
	ctx := c.Context
	main, repo, err := stackNames(c)
	if err != nil {
		return err
	}
	if !c.Bool(flagYes) {
		ok, err := newPrompter(s).yes(fmt.Sprintf("Delete stacks %q and %q with everything in them (the queues and their messages, the logs, the image repository and its images)?", main, repo), "--"+flagYes)
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintln(s.err, "Nothing deleted.")
			return nil
		}
	}
	clients, err := deps.clients(ctx, c)
	if err != nil {
		return err
	}
	defer clients.report(c, s)
	d := newDeployer(s, clients, c)
	for _, name := range []string{main, repo} {
		existed, err := d.Destroy(ctx, name)
		if err != nil {
			return commandError(destroyError(name, main, repo, err))
		}
		if existed {
			fmt.Fprintf(s.err, "Stack %q deleted\n", name)
		} else {
			fmt.Fprintf(s.err, "Stack %q does not exist\n", name)
		}
	}
	return nil
}

// destroyError says what destroy could not delete: the resources of a failed deletion, and the
// repository stack, which is kept while the main stack still refers to its images.
func destroyError(name, main, repo string, err error) error {
	var b strings.Builder
	var sf *deploy.StackFailedError
	if errors.As(err, &sf) {
		fmt.Fprintf(&b, "delete stack %q: it is %s, and these resources were not deleted:", name, sf.Status)
		for _, r := range sf.Reasons {
			if r.Type == "AWS::CloudFormation::Stack" {
				continue
			}
			fmt.Fprintf(&b, "\n  %s (%s) %s: %s", r.LogicalID, r.Type, r.PhysicalID, r.Reason)
		}
		err = errors.New(b.String())
	} else {
		err = fmt.Errorf("delete stack %q: %w", name, err)
	}
	if name == main {
		return fmt.Errorf("%w\nstack %q was kept: the main stack still uses its images", err, repo)
	}
	return err
}

// prompter asks yes/no questions on stderr and reads the answers from stdin.
type prompter struct {
	in  *bufio.Reader
	out io.Writer
}

func newPrompter(s streams) *prompter { return &prompter{in: bufio.NewReader(s.in), out: s.err} }

// yes asks question and reports whether the answer is y or yes. With nothing to read (stdin
// closed or not a terminal with input), it fails naming the flag that answers yes.
func (p *prompter) yes(question, yesFlag string) (bool, error) {
	fmt.Fprintf(p.out, "%s [y/N] ", question)
	line, err := p.in.ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(p.out)
		return false, fmt.Errorf("cannot ask %q: no answer on stdin; pass %s to answer yes", question, yesFlag)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// pollInterval is how often deploy polls AWS: change sets take seconds, stacks minutes.
const pollInterval = 2 * time.Second
