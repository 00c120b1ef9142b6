package consumer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cfnbuild/cfnbuild/worker/internal/queue"
)

// Builtin is the job used without a command: it prints "Hello World" and the message.
type Builtin struct {
	Out io.Writer // each Write is one or more whole lines
}

// Run implements Job.
func (b Builtin) Run(ctx context.Context, m queue.Message) error {
	body := strings.TrimSuffix(m.Body, "\n")
	if _, err := io.WriteString(b.Out, "Hello World\n"+body+"\n"); err != nil {
		return fmt.Errorf("print message %s: %w", m.ID, err)
	}
	return nil
}

// Command runs a program per message, directly (no shell), in its own process group: the body on
// its stdin, MESSAGE_ID and RECEIVE_COUNT added to its environment, its output passed on line by
// line. Exit status 0 is success. When ctx is done the process group gets SIGTERM, then SIGKILL
// after KillGrace.
type Command struct {
	Args      []string  // program and arguments; a program without a slash is looked up in PATH
	Env       []string  // environment, "KEY=value"; MESSAGE_ID and RECEIVE_COUNT are appended
	Stdout    io.Writer // the program's output goes here, one Write per line
	Stderr    io.Writer // the program's error output goes here, one Write per line
	KillGrace time.Duration
}

// Run implements Job.
func (c *Command) Run(ctx context.Context, m queue.Message) error {
	if len(c.Args) == 0 {
		return errors.New("run job command: no program given")
	}
	cmd := exec.Command(c.Args[0], c.Args[1:]...)
	cmd.Env = append(slices.Clip(c.Env), "MESSAGE_ID="+m.ID, "RECEIVE_COUNT="+strconv.Itoa(m.ReceiveCount))
	cmd.Stdin = strings.NewReader(m.Body)
	stdout, stderr := &lineWriter{w: c.Stdout}, &lineWriter{w: c.Stderr}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Its own process group, so that a stop reaches its children; killed if the worker dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// Don't wait for output from leftover children longer than the grace.
	cmd.WaitDelay = c.KillGrace
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start job command %s: %w", c.Args[0], err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		pgid := cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		t := time.NewTimer(c.KillGrace)
		select {
		case <-done:
		case <-t.C:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-done
		}
		t.Stop()
		err = fmt.Errorf("stop job command %s: %w", c.Args[0], ctx.Err())
	}
	stdout.Flush()
	stderr.Flush()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return fmt.Errorf("job command %s: %s", c.Args[0], exitErr.ProcessState)
	}
	if err != nil && !errors.Is(err, exec.ErrWaitDelay) {
		return err
	}
	return nil
}

// maxLine is where a line without a newline is cut, so one job cannot hold memory or the log.
const maxLine = 64 << 10

// lineWriter passes on what is written to it one whole line per Write, so that lines from
// several jobs and the worker's own log lines interleave only at line boundaries.
type lineWriter struct {
	w   io.Writer
	buf []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 && len(l.buf) < maxLine {
			break
		}
		n := i + 1
		if i < 0 || n > maxLine {
			n = maxLine
		}
		line := l.buf[:n]
		if line[len(line)-1] != '\n' {
			line = append(slices.Clip(line), '\n')
		}
		if _, err := l.w.Write(line); err != nil {
			return len(p), nil // the log is gone; the job must not fail for it
		}
		l.buf = l.buf[n:]
	}
	if len(l.buf) == 0 {
		l.buf = nil
	}
	return len(p), nil
}

// Flush passes on a last line without a newline.
func (l *lineWriter) Flush() {
	if len(l.buf) > 0 {
		_, _ = l.w.Write(append(l.buf, '\n'))
		l.buf = nil
	}
}

// ParseCommandLine splits s into words as a POSIX shell would, without expanding anything: words
// are separated by blanks; 'single quotes' keep everything literally; "double quotes" keep
// everything but \\, \", \$, \` and backslash-newline; a backslash outside quotes keeps the next
// character literally. An unterminated quote or a trailing backslash is an error.
func ParseCommandLine(s string) ([]string, error) {
	var (
		words   []string
		word    strings.Builder
		inWord  bool
		quote   rune // 0, '\'' or '"'
		quoteAt int
	)
	runes := []rune(s)
	for i := 0; i < len(runes); i++ {
		c := runes[i]
		switch quote {
		case '\'':
			if c == '\'' {
				quote = 0
			} else {
				word.WriteRune(c)
			}
		case '"':
			switch {
			case c == '"':
				quote = 0
			case c == '\\' && i+1 < len(runes) && strings.ContainsRune("\\\"$`\n", runes[i+1]):
				i++
				if runes[i] != '\n' {
					word.WriteRune(runes[i])
				}
			default:
				word.WriteRune(c)
			}
		default:
			switch c {
			case ' ', '\t', '\n':
				if inWord {
					words = append(words, word.String())
					word.Reset()
					inWord = false
				}
			case '\'', '"':
				quote, quoteAt, inWord = c, i, true
			case '\\':
				if i+1 == len(runes) {
					return nil, fmt.Errorf("parse command line %q: it ends with a backslash", s)
				}
				i++
				if runes[i] != '\n' {
					word.WriteRune(runes[i])
					inWord = true
				}
			default:
				word.WriteRune(c)
				inWord = true
			}
		}
	}
	if quote != 0 {
		kind := "double"
		if quote == '\'' {
			kind = "single"
		}
		return nil, fmt.Errorf("parse command line %q: unterminated %s quote at character %d", s, kind, quoteAt+1)
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}
