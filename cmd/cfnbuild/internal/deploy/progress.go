package deploy

import (
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

// progress draws a stack operation: on a terminal, a table of each resource's latest status
// redrawn in place; otherwise one line per event.
type progress struct {
	w             io.Writer
	terminal      bool
	width, height int
	rows          []*progressRow
	byID          map[string]*progressRow
	drawn         int // lines drawn by the last redraw
}

type progressRow struct {
	logicalID, typ, status, reason string
}

func (d *Deployer) newProgress() *progress {
	return &progress{w: d.progress(), terminal: d.Terminal, width: d.Width, height: d.Height, byID: map[string]*progressRow{}}
}

func (p *progress) event(e types.StackEvent) {
	id := aws.ToString(e.LogicalResourceId)
	r := p.byID[id]
	if r == nil {
		r = &progressRow{logicalID: id, typ: aws.ToString(e.ResourceType)}
		p.byID[id] = r
		p.rows = append(p.rows, r)
	}
	r.status, r.reason = string(e.ResourceStatus), oneLine(aws.ToString(e.ResourceStatusReason))
	if !p.terminal {
		line := fmt.Sprintf("%-36s %-44s %-28s %s", r.logicalID, r.typ, r.status, r.reason)
		fmt.Fprintln(p.w, strings.TrimRight(line, " "))
	}
}

// flush redraws the table on a terminal: up to the first line drawn last time, then every row.
func (p *progress) flush() {
	if !p.terminal || len(p.rows) == 0 {
		return
	}
	lines := p.lines()
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	for len(lines) < p.drawn {
		lines = append(lines, "") // blank what a longer table left
	}
	for _, l := range lines {
		b.WriteString("\r\x1b[2K" + l + "\n")
	}
	p.drawn = len(lines)
	io.WriteString(p.w, b.String())
}

// lines renders the rows in aligned columns. When they would not fit the terminal's height, the
// oldest finished rows make way for one line that counts them.
func (p *progress) lines() []string {
	rows := p.rows
	hidden := 0
	if p.height > 2 && len(rows) > p.height-1 {
		over := len(rows) - (p.height - 2)
		var kept []*progressRow
		for _, r := range rows {
			if over > 0 && strings.HasSuffix(r.status, "_COMPLETE") && r != rows[0] {
				over--
				hidden++
				continue
			}
			kept = append(kept, r)
		}
		rows = kept
	}
	var wID, wType, wStatus int
	for _, r := range rows {
		wID, wType, wStatus = max(wID, len(r.logicalID)), max(wType, len(r.typ)), max(wStatus, len(r.status))
	}
	var out []string
	for _, r := range rows {
		l := strings.TrimRight(fmt.Sprintf("%-*s  %-*s  %-*s  %s", wID, r.logicalID, wType, r.typ, wStatus, r.status, r.reason), " ")
		out = append(out, p.clip(l))
	}
	if hidden > 0 {
		out = append(out, p.clip(fmt.Sprintf("… and %d more resources complete", hidden)))
	}
	return out
}

// clip cuts a line to the terminal's width, so that each row takes one line and redrawing counts
// lines right.
func (p *progress) clip(l string) string {
	if p.width <= 1 {
		return l
	}
	r := []rune(l)
	if len(r) < p.width {
		return l
	}
	return string(r[:p.width-2]) + "…"
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
