// Package config reads samconfig.toml the way AWS SAM CLI does.
//
// A file holds `version = 0.1` and tables named [<env>.<command>.parameters]. For a command run
// with --config-env ENV, the keys of [ENV.global.parameters] apply first and the keys of
// [ENV.<command>.parameters] override them. Keys are the command's flag names with "_" for "-".
// The package only parses and merges; which keys exist is the CLI's business, so every value keeps
// the file and table it came from for error messages ("samconfig.toml: [default.deploy.parameters]
// max_tasks: ..."). It also parses SAM's "Key=Value Key2='v 2'" lists (parameter_overrides, tags).
package config
