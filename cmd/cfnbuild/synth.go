package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/cfnbuild/cfnbuild/template"
)

func synthCommand(s streams) *cli.Command {
	return &cli.Command{
		Name:      "synth",
		Usage:     "print the CloudFormation template (YAML, or minified JSON)",
		UsageText: "cfnbuild synth [--format yaml|json] [-o FILE] [--repository] [template flags]",
		Flags: mergeFlags([]cli.Flag{
			stringFlag("format", "output `FORMAT`: yaml, or json (minified, as deployed)", "yaml"),
			&cli.StringFlag{Name: "output-file", Aliases: []string{"o"}, Usage: "write the template to `FILE` instead of stdout"},
			boolFlag("repository", "print the image-repository stack instead of the main stack"),
		}, templateFlags()),
		Action: func(c *cli.Context) error {
			format := c.String("format")
			if format != template.FormatYAML && format != template.FormatJSON {
				return usageError(fmt.Errorf("%s: unknown format %q; use yaml or json", origin(c, "format"), format))
			}
			cfg, err := templateConfig(c)
			if err != nil {
				return err
			}
			synth := template.Synth
			if c.Bool("repository") {
				synth = template.SynthRepository
			}
			body, err := synth(cfg, format)
			if err != nil {
				return err
			}
			if path := c.String("output-file"); path != "" {
				if err := os.WriteFile(path, body, 0o644); err != nil {
					return fmt.Errorf("writing template: %w", err)
				}
				fmt.Fprintf(s.err, "wrote %s (%d bytes)\n", path, len(body))
				return nil
			}
			_, err = s.out.Write(body)
			return err
		},
	}
}
