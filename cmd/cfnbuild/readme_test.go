package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestREADMEDocumentsEveryKey keeps the README true: every flag of every command is documented
// as its samconfig key (`max_tasks`), and every command is named.
func TestREADMEDocumentsEveryKey(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	app := newApp(streams{})
	for _, cmd := range app.Commands {
		if !strings.Contains(readme, "`cfnbuild "+cmd.Name) {
			t.Errorf("README does not document the command %q", cmd.Name)
		}
		for _, fl := range cmd.Flags {
			name := fl.Names()[0]
			if name == flagConfigFile || name == flagConfigEnv || isHidden(fl) {
				continue
			}
			key := strings.ReplaceAll(name, "-", "_")
			if !strings.Contains(readme, "`"+key+"`") && !strings.Contains(readme, "`"+key+"` /") {
				t.Errorf("README does not document key `%s` (cfnbuild %s --%s)", key, cmd.Name, name)
			}
		}
	}
}

func isHidden(fl cli.Flag) bool {
	if v, ok := fl.(interface{ IsVisible() bool }); ok {
		return !v.IsVisible()
	}
	return false
}
