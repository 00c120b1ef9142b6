package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cfnbuild/cfnbuild/worker/internal/consumer"
	"github.com/cfnbuild/cfnbuild/worker/internal/queue"
)

// helperEnv makes the test binary act as a job program (see TestMain) in the given mode.
const helperEnv = "CONSUMER_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helper(mode))
	}
	os.Exit(m.Run())
}

// helper is the job program: what it does depends on mode.
func helper(mode string) int {
	switch mode {
	case "echo":
		body, _ := io.ReadAll(os.Stdin)
		fmt.Printf("body=%s\n", body)
		fmt.Printf("MESSAGE_ID=%s\nRECEIVE_COUNT=%s\n", os.Getenv("MESSAGE_ID"), os.Getenv("RECEIVE_COUNT"))
		fmt.Fprint(os.Stderr, "to stderr\nno newline")
		return 0
	case "exit3":
		return 3
	case "tree": // a child in the same process group; both ignore SIGTERM, so only SIGKILL ends them
		signal.Ignore(syscall.SIGTERM)
		child := exec.Command(os.Args[0])
		child.Env = append(os.Environ(), helperEnv+"=stubborn")
		if err := child.Start(); err != nil {
			return 1
		}
		fmt.Printf("pids %d %d\n", os.Getpid(), child.Process.Pid)
		time.Sleep(time.Hour)
	case "stubborn":
		signal.Ignore(syscall.SIGTERM)
		time.Sleep(time.Hour)
	case "polite": // stops on SIGTERM with the status a shell gives
		fmt.Println("started")
		time.Sleep(time.Hour)
	}
	return 0
}

// lines is a writer that keeps each Write as one entry, and signals each.
type lines struct {
	mu    sync.Mutex
	all   []string
	added chan string
}

func newLines() *lines { return &lines{added: make(chan string, 100)} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.all = append(l.all, string(p))
	l.mu.Unlock()
	l.added <- string(p)
	return len(p), nil
}

func (l *lines) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.all)
}

func helperCommand(mode string, out, errOut io.Writer) *consumer.Command {
	return &consumer.Command{
		Args:      []string{os.Args[0], "-test.run=^$"},
		Env:       append(os.Environ(), helperEnv+"="+mode),
		Stdout:    out,
		Stderr:    errOut,
		KillGrace: 200 * time.Millisecond,
	}
}

func TestCommandGetsBodyAndEnvironmentAndPassesOutputByLine(t *testing.T) {
	out, errOut := newLines(), newLines()
	c := helperCommand("echo", out, errOut)
	err := c.Run(context.Background(), queue.Message{ID: "id-1", Body: "hello\nworld", ReceiveCount: 2})
	if err != nil {
		t.Fatalf("Run = %v; want nil for exit status 0", err)
	}
	if got, want := out.get(), []string{"body=hello\n", "world\n", "MESSAGE_ID=id-1\n", "RECEIVE_COUNT=2\n"}; !slices.Equal(got, want) {
		t.Errorf("stdout writes %q; want %q", got, want)
	}
	if got, want := errOut.get(), []string{"to stderr\n", "no newline\n"}; !slices.Equal(got, want) {
		t.Errorf("stderr writes %q; want %q", got, want)
	}
}

func TestCommandNonZeroExitIsAnError(t *testing.T) {
	c := helperCommand("exit3", io.Discard, io.Discard)
	err := c.Run(context.Background(), queue.Message{ID: "m"})
	if err == nil || !strings.HasSuffix(err.Error(), "exit status 3") {
		t.Fatalf("Run = %v; want an error ending in exit status 3", err)
	}
}

func TestCommandMissingProgramIsAnError(t *testing.T) {
	c := &consumer.Command{Args: []string{"/nonexistent/job"}, Stdout: io.Discard, Stderr: io.Discard}
	err := c.Run(context.Background(), queue.Message{ID: "m"})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Run = %v; want a not-exist error", err)
	}
}

func TestCommandStopSendsSIGTERMToTheProcessGroup(t *testing.T) {
	out := newLines()
	c := helperCommand("polite", out, io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, queue.Message{ID: "m"}) }()
	<-out.added // "started"
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v; want context.Canceled", err)
	}
}

func TestCommandStopKillsTheWholeProcessGroup(t *testing.T) {
	out := newLines()
	c := helperCommand("tree", out, io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, queue.Message{ID: "m"}) }()
	var pids []int
	for _, f := range strings.Fields(<-out.added)[1:] {
		pid, _ := strconv.Atoi(f)
		pids = append(pids, pid)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v; want context.Canceled", err)
	}
	for _, pid := range pids {
		deadline := time.Now().Add(10 * time.Second)
		for alive(pid) {
			if time.Now().After(deadline) {
				syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("process %d of the job's group still runs after the stop", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...: comm may hold anything, so the state follows the last ')'.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

func TestBuiltinPrintsHelloWorldAndTheMessage(t *testing.T) {
	out := newLines()
	if err := (consumer.Builtin{Out: out}).Run(context.Background(), queue.Message{Body: "hi there"}); err != nil {
		t.Fatal(err)
	}
	if got, want := out.get(), []string{"Hello World\nhi there\n"}; !slices.Equal(got, want) {
		t.Errorf("wrote %q; want %q in one write", got, want)
	}
}

func TestParseCommandLine(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"   \t ", nil},
		{"/bin/job", []string{"/bin/job"}},
		{"  /bin/job  a   b ", []string{"/bin/job", "a", "b"}},
		{`python3 -c 'print("hi")'`, []string{"python3", "-c", `print("hi")`}},
		{`a 'b c' "d e"`, []string{"a", "b c", "d e"}},
		{`a 'it''s'`, []string{"a", "its"}},
		{`a "it's"`, []string{"a", "it's"}},
		{`a ''`, []string{"a", ""}},
		{`a ""`, []string{"a", ""}},
		{`a b\ c`, []string{"a", "b c"}},
		{`a \'q\'`, []string{"a", "'q'"}},
		{`a "x\"y" "\\" "\$HOME" "\n"`, []string{"a", `x"y`, `\`, "$HOME", `\n`}},
		{`a '\n' $HOME *.txt ~`, []string{"a", `\n`, "$HOME", "*.txt", "~"}},
		{"a\\\nb", []string{"ab"}},
		{"a pre'mid'post", []string{"a", "premidpost"}},
		{"a\tb\nc", []string{"a", "b", "c"}},
		{"été 'ünï'", []string{"été", "ünï"}},
	} {
		got, err := consumer.ParseCommandLine(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseCommandLine(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{`job 'unterminated`, `parse command line "job 'unterminated": unterminated single quote at character 5`},
		{`job "unterminated`, `parse command line "job \"unterminated": unterminated double quote at character 5`},
		{`job "a\"`, `parse command line "job \"a\\\"": unterminated double quote at character 5`},
		{`job a\`, `parse command line "job a\\": it ends with a backslash`},
	} {
		_, err := consumer.ParseCommandLine(tc.in)
		if err == nil || err.Error() != tc.want {
			t.Errorf("ParseCommandLine(%q) error = %v; want %s", tc.in, err, tc.want)
		}
	}
}
