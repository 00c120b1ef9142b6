package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// DefaultFile and DefaultEnv are SAM CLI's defaults for --config-file and --config-env.
const (
	DefaultFile = "samconfig.toml"
	DefaultEnv  = "default"
	// GlobalCommand names the table whose keys apply to every command.
	GlobalCommand = "global"
	// Version is the only samconfig format version SAM CLI (and so cfnbuild) understands.
	Version = 0.1
)

// File is a parsed samconfig.toml.
type File struct {
	Path   string
	tables map[string]map[string]*Table // env -> command -> table
}

// Table is one [<env>.<command>.parameters] table.
type Table struct {
	Env, Command string
	Values       map[string]any
}

// Name is the table's name as written in the file, e.g. "default.deploy.parameters".
func (t *Table) Name() string { return t.Env + "." + t.Command + ".parameters" }

// Param is one key of a merged command configuration, with where it came from.
type Param struct {
	Key   string
	Value any
	File  string
	Table string
}

// Where names the parameter's origin: `samconfig.toml: [default.deploy.parameters] max_tasks`.
func (p Param) Where() string { return fmt.Sprintf("%s: [%s] %s", p.File, p.Table, p.Key) }

// Load reads and parses the file at path.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config file: %w", err)
	}
	return Parse(path, data)
}

// Parse parses samconfig.toml content; path is used in error messages only.
func Parse(path string, data []byte) (*File, error) {
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return nil, fmt.Errorf("%s:%d: %s", path, perr.Position.Line, perr.Message)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f := &File{Path: path, tables: map[string]map[string]*Table{}}
	if err := checkVersion(path, doc["version"]); err != nil {
		return nil, err
	}
	for _, env := range slices.Sorted(maps.Keys(doc)) {
		if env == "version" {
			continue
		}
		commands, ok := doc[env].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: %q must be a table of commands ([%s.<command>.parameters]), not %s", path, env, env, typeName(doc[env]))
		}
		for _, cmd := range slices.Sorted(maps.Keys(commands)) {
			sections, ok := commands[cmd].(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s: [%s] %q must be a table ([%s.%s.parameters]), not %s", path, env, cmd, env, cmd, typeName(commands[cmd]))
			}
			for _, section := range slices.Sorted(maps.Keys(sections)) {
				if section != "parameters" {
					return nil, fmt.Errorf("%s: unknown table [%s.%s.%s]: only [%s.%s.parameters] is read", path, env, cmd, section, env, cmd)
				}
				values, ok := sections[section].(map[string]any)
				if !ok {
					return nil, fmt.Errorf("%s: [%s.%s] parameters must be a table, not %s", path, env, cmd, typeName(sections[section]))
				}
				t := &Table{Env: env, Command: cmd, Values: values}
				for _, k := range slices.Sorted(maps.Keys(values)) {
					if err := checkValue(values[k]); err != nil {
						return nil, fmt.Errorf("%s: [%s] %s: %w", path, t.Name(), k, err)
					}
				}
				if f.tables[env] == nil {
					f.tables[env] = map[string]*Table{}
				}
				f.tables[env][cmd] = t
			}
		}
	}
	return f, nil
}

func checkVersion(path string, v any) error {
	switch v := v.(type) {
	case nil:
		return fmt.Errorf("%s: missing top-level key version (write: version = 0.1)", path)
	case float64:
		if v == Version {
			return nil
		}
	case string:
		if v == "0.1" {
			return nil
		}
	}
	return fmt.Errorf("%s: version = %v is not supported (write: version = 0.1)", path, v)
}

// checkValue accepts what a flag can take: a string, number or boolean, or an array of those.
func checkValue(v any) error {
	switch v := v.(type) {
	case string, int64, bool:
		return nil
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return fmt.Errorf("%v is not a usable number", v)
		}
		return nil
	case []any:
		for i, e := range v {
			switch e.(type) {
			case string, int64, float64, bool:
			default:
				return fmt.Errorf("element %d is %s; arrays may hold only strings, numbers and booleans", i, typeName(e))
			}
		}
		return nil
	default:
		return fmt.Errorf("value is %s; use a string, number, boolean or array", typeName(v))
	}
}

// Tables lists every table of the file, sorted by env then command.
func (f *File) Tables() []*Table {
	var out []*Table
	for _, env := range slices.Sorted(maps.Keys(f.tables)) {
		for _, cmd := range slices.Sorted(maps.Keys(f.tables[env])) {
			out = append(out, f.tables[env][cmd])
		}
	}
	return out
}

// Params returns the configuration of command in env: the global table's keys, overridden by the
// command table's, sorted by key.
func (f *File) Params(env, command string) []Param {
	merged := map[string]Param{}
	for _, cmd := range []string{GlobalCommand, command} {
		t := f.tables[env][cmd]
		if t == nil {
			continue
		}
		for k, v := range t.Values {
			merged[k] = Param{Key: k, Value: v, File: f.Path, Table: t.Name()}
		}
	}
	out := make([]Param, 0, len(merged))
	for _, k := range slices.Sorted(maps.Keys(merged)) {
		out = append(out, merged[k])
	}
	return out
}

// HasEnv reports whether the file has any table for env.
func (f *File) HasEnv(env string) bool { return len(f.tables[env]) > 0 }

// Strings renders a value as flag arguments: one string for a scalar, one per element for an array.
func (p Param) Strings() []string {
	if a, ok := p.Value.([]any); ok {
		out := make([]string, len(a))
		for i, e := range a {
			out[i] = scalarString(e)
		}
		return out
	}
	return []string{scalarString(p.Value)}
}

// IsArray reports whether the value was written as a TOML array.
func (p Param) IsArray() bool {
	_, ok := p.Value.([]any)
	return ok
}

func scalarString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprint(v)
}

func typeName(v any) string {
	switch v.(type) {
	case map[string]any:
		return "a table"
	case []any, []map[string]any:
		return "an array"
	case string:
		return "a string"
	case int64, float64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("a %T", v)
}

// KeyValue is one pair of a SAM-style list.
type KeyValue struct{ Key, Value string }

// ParseKeyValues parses SAM CLI's list form used by parameter_overrides and tags:
// `Key=Value Key2="value 2" Key3='v3'`, pairs separated by whitespace, values optionally quoted
// with single or double quotes (a backslash escapes the quote inside). SAM's long form
// `ParameterKey=K,ParameterValue=V` is accepted too.
func ParseKeyValues(s string) ([]KeyValue, error) {
	var out []KeyValue
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			return out, nil
		}
		start := i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		key := s[start:i]
		if i >= len(s) || s[i] != '=' {
			return nil, fmt.Errorf("%q at offset %d is not Key=Value", key, start)
		}
		if key == "" {
			return nil, fmt.Errorf("empty key at offset %d", start)
		}
		i++ // '='
		var val strings.Builder
		for i < len(s) && !isSpace(s[i]) {
			c := s[i]
			if c == '"' || c == '\'' {
				q := c
				i++
				closed := false
				for i < len(s) {
					if s[i] == '\\' && i+1 < len(s) && (s[i+1] == q || s[i+1] == '\\') {
						val.WriteByte(s[i+1])
						i += 2
						continue
					}
					if s[i] == q {
						closed = true
						i++
						break
					}
					val.WriteByte(s[i])
					i++
				}
				if !closed {
					return nil, fmt.Errorf("value of %q has an unterminated %c quote", key, q)
				}
				continue
			}
			val.WriteByte(c)
			i++
		}
		kv := KeyValue{Key: key, Value: val.String()}
		if key == "ParameterKey" {
			long, err := parseLongForm(kv.Value)
			if err != nil {
				return nil, err
			}
			kv = long
		}
		out = append(out, kv)
	}
}

// parseLongForm handles the value of `ParameterKey=K,ParameterValue=V` after "ParameterKey=".
func parseLongForm(v string) (KeyValue, error) {
	key, rest, ok := strings.Cut(v, ",ParameterValue=")
	if !ok || key == "" {
		return KeyValue{}, fmt.Errorf("%q is not ParameterKey=K,ParameterValue=V", "ParameterKey="+v)
	}
	return KeyValue{Key: key, Value: rest}, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
