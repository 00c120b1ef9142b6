package main

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cfnbuild/cfnbuild/cmd/cfnbuild/internal/config"
)

// Every command reads samconfig.toml the way `sam` does: --config-file and --config-env select the
// file and the environment; [ENV.global.parameters] applies under [ENV.<command>.parameters]; a key
// is a flag name with "_" for "-". A flag set on the command line or by its CFNBUILD_* environment
// variable wins over the file, and the file over the flag's default.

const (
	flagConfigFile = "config-file"
	flagConfigEnv  = "config-env"
	// sourcesKey is where, in App.Metadata, each flag set from the file records its origin.
	sourcesKey = "samconfig-sources"
)

// withSamconfig adds --config-file/--config-env to cmd and applies the file before cmd runs.
func withSamconfig(app *cli.App, cmd *cli.Command) {
	cmd.Flags = append(cmd.Flags,
		&cli.StringFlag{Name: flagConfigFile, Value: config.DefaultFile, Usage: "samconfig.toml to read `FILE`", EnvVars: []string{"CFNBUILD_CONFIG_FILE"}},
		&cli.StringFlag{Name: flagConfigEnv, Value: config.DefaultEnv, Usage: "environment `ENV` of the config file ([ENV.<command>.parameters])", EnvVars: []string{"CFNBUILD_CONFIG_ENV"}},
	)
	cmd.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
		return usageError(fmt.Errorf("%w (see: cfnbuild %s --help)", err, cmd.Name))
	}
	before := cmd.Before
	cmd.Before = func(c *cli.Context) error {
		if err := applySamconfig(c, app, cmd); err != nil {
			return usageError(err)
		}
		if before != nil {
			return before(c)
		}
		return nil
	}
}

func applySamconfig(c *cli.Context, app *cli.App, cmd *cli.Command) error {
	path, env := c.String(flagConfigFile), c.String(flagConfigEnv)
	f, err := config.Load(path)
	if errors.Is(err, fs.ErrNotExist) && !c.IsSet(flagConfigFile) {
		if c.IsSet(flagConfigEnv) {
			return fmt.Errorf("--config-env %q given, but there is no %s here", env, path)
		}
		return nil // no samconfig.toml: defaults and flags apply
	}
	if err != nil {
		return err
	}
	if err := checkKeys(f, app); err != nil {
		return err
	}
	if c.IsSet(flagConfigEnv) && !f.HasEnv(env) {
		return fmt.Errorf("%s has no [%s.*.parameters] table for --config-env %q", path, env, env)
	}
	sources := flagSources(app)
	for _, p := range f.Params(env, cmd.Name) {
		name := flagName(p.Key)
		fl := findFlag(cmd.Flags, name)
		if fl == nil || c.IsSet(name) {
			continue // a global key another command reads, or set by flag or environment
		}
		if p.IsArray() && !isMultiValue(fl) {
			return fmt.Errorf("%s: takes one value, not an array", p.Where())
		}
		for _, v := range p.Strings() {
			if err := c.Set(name, v); err != nil {
				return fmt.Errorf("%s: invalid value %q: %v", p.Where(), v, err)
			}
		}
		sources[name] = p.Where()
	}
	return nil
}

// checkKeys rejects a table for a command cfnbuild does not have, and a key that is no flag of
// its command (for the global table: of any command).
func checkKeys(f *config.File, app *cli.App) error {
	for _, t := range f.Tables() {
		var flags []cli.Flag
		if t.Command == config.GlobalCommand {
			for _, cmd := range app.Commands {
				flags = append(flags, cmd.Flags...)
			}
		} else if cmd := app.Command(t.Command); cmd != nil {
			flags = cmd.Flags
		} else {
			return fmt.Errorf("%s: [%s]: cfnbuild has no command %q (commands: %s)", f.Path, t.Name(), t.Command, strings.Join(commandNames(app), ", "))
		}
		keys := make([]string, 0, len(t.Values))
		for k := range t.Values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			name := flagName(k)
			if name == flagConfigFile || name == flagConfigEnv || findFlag(flags, name) == nil || strings.Contains(k, "-") {
				return fmt.Errorf("%s: [%s]: unknown key %q%s", f.Path, t.Name(), k, suggestKey(k, flags))
			}
		}
	}
	return nil
}

func suggestKey(key string, flags []cli.Flag) string {
	want := flagName(key)
	for _, fl := range flags {
		for _, n := range fl.Names() {
			if n != flagConfigFile && n != flagConfigEnv && (strings.Contains(n, want) || strings.Contains(want, n)) && len(n) > 2 {
				return fmt.Sprintf(" (did you mean %q?)", strings.ReplaceAll(n, "-", "_"))
			}
		}
	}
	return ""
}

func commandNames(app *cli.App) []string {
	names := []string{config.GlobalCommand}
	for _, cmd := range app.Commands {
		names = append(names, cmd.Name)
	}
	return names
}

func flagName(key string) string { return strings.ReplaceAll(key, "_", "-") }

func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, fl := range flags {
		if slices.Contains(fl.Names(), name) {
			return fl
		}
	}
	return nil
}

func isMultiValue(fl cli.Flag) bool {
	switch fl.(type) {
	case *cli.StringSliceFlag, *cli.IntSliceFlag:
		return true
	}
	return false
}

func flagSources(app *cli.App) map[string]string {
	if app.Metadata == nil {
		app.Metadata = map[string]any{}
	}
	m, ok := app.Metadata[sourcesKey].(map[string]string)
	if !ok {
		m = map[string]string{}
		app.Metadata[sourcesKey] = m
	}
	return m
}

// origin names where a flag's value came from, for error messages: the samconfig key, or the flag
// (and its environment variable).
func origin(c *cli.Context, name string) string {
	if where, ok := flagSources(c.App)[name]; ok {
		return where
	}
	return "--" + name + " (or " + envName(name) + ")"
}

// envName is the environment variable that sets a flag: CFNBUILD_ and the key in upper case.
func envName(flag string) string {
	return "CFNBUILD_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// Flag constructors: each flag can also be set by its CFNBUILD_* environment variable.

func stringFlag(name, usage, value string) *cli.StringFlag {
	return &cli.StringFlag{Name: name, Usage: usage, Value: value, EnvVars: []string{envName(name)}}
}

func intFlag(name, usage string, value int) *cli.IntFlag {
	return &cli.IntFlag{Name: name, Usage: usage, Value: value, EnvVars: []string{envName(name)}}
}

func floatFlag(name, usage string, value float64) *cli.Float64Flag {
	return &cli.Float64Flag{Name: name, Usage: usage, Value: value, EnvVars: []string{envName(name)}}
}

func boolFlag(name, usage string) *cli.BoolFlag {
	return &cli.BoolFlag{Name: name, Usage: usage, EnvVars: []string{envName(name)}}
}

func sliceFlag(name, usage string) *cli.StringSliceFlag {
	return &cli.StringSliceFlag{Name: name, Usage: usage, EnvVars: []string{envName(name)}}
}

// mergeFlags concatenates flag lists, keeping the first flag of each name, so commands can share
// groups of flags (template, stack, image) that overlap.
func mergeFlags(groups ...[]cli.Flag) []cli.Flag {
	var out []cli.Flag
	for _, g := range groups {
		for _, fl := range g {
			if findFlag(out, fl.Names()[0]) == nil {
				out = append(out, fl)
			}
		}
	}
	return out
}
