package main

// Process-level tests: the worker binary, configured only through the contract's environment
// variables, against moto_server. The job command is this test binary, re-executed as a helper
// (jobHelper) that records what it ran to a file and can sleep or fail depending on the body.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cfnbuild/cfnbuild/worker/internal/motoserver"
)

// jobHelperArg as the first argument makes the test binary the job helper.
const jobHelperArg = "__jobhelper"

var moto motoserver.Shared

func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == jobHelperArg {
		os.Exit(jobHelper(os.Args[2]))
	}
	code := m.Run()
	moto.Stop()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// jobHelper is the job command of these tests. The body is a name followed by directives:
// "fail" exits 1; "sleep=D" sleeps D first; "sleep1=D" sleeps D on the first receive only. It
// appends "start|done|fail NAME MESSAGE_ID RECEIVE_COUNT" lines to the record file.
func jobHelper(record string) int {
	body, err := readAll(os.Stdin)
	if err != nil {
		return 3
	}
	fields := strings.Fields(body)
	if len(fields) == 0 {
		return 4
	}
	name := fields[0]
	rc := os.Getenv("RECEIVE_COUNT")
	note := func(kind string) {
		f, err := os.OpenFile(record, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			os.Exit(5)
		}
		fmt.Fprintf(f, "%s %s %s %s\n", kind, name, os.Getenv("MESSAGE_ID"), rc)
		f.Close()
	}
	note("start")
	fmt.Printf("job %s output\n", name)
	fmt.Fprintf(os.Stderr, "job %s error output\n", name)
	for _, d := range fields[1:] {
		k, v, _ := strings.Cut(d, "=")
		switch k {
		case "sleep", "sleep1":
			dur, _ := time.ParseDuration(v)
			if k == "sleep" || rc == "1" {
				time.Sleep(dur)
			}
		case "fail":
			note("fail")
			return 1
		}
	}
	note("done")
	return 0
}

func readAll(f *os.File) (string, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(f)
	return b.String(), err
}

// built is the worker binary, built once per test run.
var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

func workerBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "worker-test-")
		if built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "worker")
		args := []string{"build", "-o", built.bin}
		if raceEnabled {
			args = append(args, "-race")
		}
		goBin, err := exec.LookPath("go")
		if err != nil {
			built.err = err
			return
		}
		out, err := exec.Command(goBin, append(args, ".")...).CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatalf("build the worker: %v", built.err)
	}
	return built.bin
}

var queueSeq atomic.Int64

// newQueue creates a queue (and dead-letter queue) with a name unique to the test.
func newQueue(t *testing.T, srv *motoserver.Server, opts motoserver.QueueOptions) motoserver.Queue {
	name := strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())
	return srv.CreateQueue(t, fmt.Sprintf("%.50s-%d", name, queueSeq.Add(1)), opts)
}

// jobCommand is a JOB_COMMAND that runs the job helper, recording to a new file it returns.
func jobCommand(t *testing.T) (command, record string) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	record = filepath.Join(t.TempDir(), "record")
	return fmt.Sprintf("'%s' %s '%s'", self, jobHelperArg, record), record
}

// event is one line of the record file.
type event struct{ kind, name, id, rc string }

func events(t *testing.T, record string) []event {
	t.Helper()
	data, err := os.ReadFile(record)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []event
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		if len(f) == 4 {
			out = append(out, event{f[0], f[1], f[2], f[3]})
		}
	}
	return out
}

// count counts the events of kind (and name, unless empty).
func count(evs []event, kind, name string) int {
	n := 0
	for _, e := range evs {
		if e.kind == kind && (name == "" || e.name == name) {
			n++
		}
	}
	return n
}

// syncBuffer is an output buffer safe to read while the process writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a running worker process.
type proc struct {
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
	code   int // exit code once done; -1 when killed by a signal
}

// startWorker starts the worker with moto's environment plus env, and nothing else.
func startWorker(t *testing.T, srv *motoserver.Server, env ...string) *proc {
	t.Helper()
	p := &proc{stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(workerBinary(t))
	if srv != nil {
		p.cmd.Env = srv.Env()
	}
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start the worker: %v", err)
	}
	go func() {
		_ = p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("worker %d stdout:\n%s\nstderr:\n%s", p.cmd.Process.Pid, p.stdout, p.stderr)
		}
	})
	return p
}

func (p *proc) signal(sig syscall.Signal) { _ = p.cmd.Process.Signal(sig) }

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(60 * time.Second):
		t.Fatalf("worker %d did not exit within 60s", p.cmd.Process.Pid)
		return 0
	}
}

// jobLines returns the worker's per-job log lines, failing t on any stdout line that is neither a
// JSON log line nor a line of job output.
func (p *proc) jobLines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(p.stdout.String()))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "job ") && strings.HasSuffix(line, " output") || line == "Hello World" || !strings.HasPrefix(line, "{") {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Errorf("worker stdout line %q is not JSON: %v", line, err)
			continue
		}
		if r["msg"] == "job" {
			out = append(out, r)
		}
	}
	return out
}

func outcomes(lines []map[string]any) map[string]int {
	out := map[string]int{}
	for _, r := range lines {
		out[r["outcome"].(string)]++
	}
	return out
}

// waitFor polls cond until it holds, failing t after a generous deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func emptyQueue(t *testing.T, srv *motoserver.Server, url string) func() bool {
	return func() bool { v, in := srv.Counts(t, url); return v == 0 && in == 0 }
}

func TestWorkerProcessesAllMessagesOnceAndDeletesThem(t *testing.T) {
	t.Parallel()
	srv := moto.Get(t)
	q := newQueue(t, srv, motoserver.QueueOptions{Visibility: 30 * time.Second})
	const n = 60
	var bodies []string
	for i := range n {
		bodies = append(bodies, fmt.Sprintf("m%d", i))
	}
	srv.Send(t, q.URL, bodies...)
	agent := &fakeAgent{}
	agentSrv := httptest.NewServer(agent)
	defer agentSrv.Close()

	command, record := jobCommand(t)
	// One job at a time: moto's DeleteMessage is not safe under concurrent calls (two at once can
	// bring one deleted message back), and this test counts exact deliveries. Concurrency is
	// covered by the consumer's tests and, at this level, by the SIGTERM and fault-injection tests.
	w := startWorker(t, srv, "QUEUE_URL="+q.URL, "JOB_COMMAND="+command, "WORKER_CONCURRENCY=1", "ECS_AGENT_URI="+agentSrv.URL)
	waitFor(t, "all jobs are done and the queue is empty", func() bool {
		return count(events(t, record), "done", "") == n && emptyQueue(t, srv, q.URL)()
	})
	w.signal(syscall.SIGTERM)
	if code := w.wait(t); code != 0 {
		t.Errorf("worker exit code after SIGTERM = %d; want 0", code)
	}
	evs := events(t, record)
	for _, b := range bodies {
		if got := count(evs, "done", b); got != 1 {
			t.Errorf("message %s processed %d times; want once", b, got)
		}
	}
	if v, in := srv.Counts(t, q.URL); v != 0 || in != 0 {
		t.Errorf("queue holds %d visible, %d in flight; want none", v, in)
	}
	if got := outcomes(w.jobLines(t)); got["succeeded"] != n || len(got) != 1 {
		t.Errorf("job outcomes logged %v; want %d succeeded", got, n)
	}
	if !strings.Contains(w.stdout.String(), "job m7 output\n") || !strings.Contains(w.stderr.String(), "job m7 error output\n") {
		t.Errorf("the job's output and error output are not in the worker's stdout and stderr")
	}
	if states := agent.got(); len(states) < 2 || !states[0] || states[len(states)-1] {
		t.Errorf("task protection states %v; want on first, off last", states)
	}
}

// fakeAgent is the ECS agent's task protection endpoint.
type fakeAgent struct {
	mu     sync.Mutex
	states []bool
}

func (a *fakeAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct{ ProtectionEnabled bool }
	if r.Method != http.MethodPut || r.URL.Path != "/task-protection/v1/state" || json.NewDecoder(r.Body).Decode(&body) != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	a.states = append(a.states, body.ProtectionEnabled)
	a.mu.Unlock()
	fmt.Fprintf(w, `{"protection":{"ProtectionEnabled":%t}}`, body.ProtectionEnabled)
}

func (a *fakeAgent) got() []bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]bool(nil), a.states...)
}

func TestWorkerBuiltinJob(t *testing.T) {
	t.Parallel()
	srv := moto.Get(t)
	q := newQueue(t, srv, motoserver.QueueOptions{Visibility: 30 * time.Second})
	srv.Send(t, q.URL, "hi from the test")
	w := startWorker(t, srv, "QUEUE_URL="+q.URL, "JOB_COMMAND=")
	waitFor(t, "the message is deleted", func() bool {
		return strings.Contains(w.stdout.String(), `"outcome":"succeeded"`) && emptyQueue(t, srv, q.URL)()
	})
	w.signal(syscall.SIGTERM)
	if code := w.wait(t); code != 0 {
		t.Errorf("exit code after SIGTERM = %d; want 0", code)
	}
	if !strings.Contains(w.stdout.String(), "Hello World\nhi from the test\n") {
		t.Errorf("stdout %q; want Hello World and the message", w.stdout)
	}
}

func TestWorkerFailingJobGoesToDeadLetterQueue(t *testing.T) {
	t.Parallel()
	srv := moto.Get(t)
	q := newQueue(t, srv, motoserver.QueueOptions{Visibility: 30 * time.Second, MaxReceiveCount: 2})
	srv.Send(t, q.URL, "bad fail")
	command, record := jobCommand(t)
	w := startWorker(t, srv, "QUEUE_URL="+q.URL, "JOB_COMMAND="+command, "JOB_RETRY_DELAY=1")
	waitFor(t, "the message is in the dead-letter queue", func() bool { v, _ := srv.Counts(t, q.DLQURL); return v == 1 })
	w.signal(syscall.SIGTERM)
	if code := w.wait(t); code != 0 {
		t.Errorf("exit code after SIGTERM = %d; want 0", code)
	}
	var rcs []string
	for _, e := range events(t, record) {
		if e.kind == "fail" {
			rcs = append(rcs, e.rc)
		}
	}
	if strings.Join(rcs, ",") != "1,2" {
		t.Errorf("the job failed with receive counts %v; want 1,2 (maxReceiveCount 2)", rcs)
	}
	if got := outcomes(w.jobLines(t)); got["failed"] != 2 || len(got) != 1 {
		t.Errorf("job outcomes logged %v; want 2 failed", got)
	}
	if v, in := srv.Counts(t, q.URL); v != 0 || in != 0 {
		t.Errorf("queue holds %d visible, %d in flight; want none", v, in)
	}
	if got := srv.Drain(t, q.DLQURL); len(got) != 1 || got[0] != "bad fail" {
		t.Errorf("dead-letter queue holds %q; want the failing message", got)
	}
}

func TestWorkerJobTimeoutKillsAndRetries(t *testing.T) {
	t.Parallel()
	srv := moto.Get(t)
	q := newQueue(t, srv, motoserver.QueueOptions{Visibility: 2 * time.Second})
	srv.Send(t, q.URL, "slow sleep1=60s")
	command, record := jobCommand(t)
	w := startWorker(t, srv, "QUEUE_URL="+q.URL, "JOB_COMMAND="+command, "JOB_TIMEOUT=2", "JOB_RETRY_DELAY=1")
	waitFor(t, "the retry succeeds", func() bool { return count(events(t, record), "done", "slow") == 1 && emptyQueue(t, srv, q.URL)() })
	w.signal(syscall.SIGTERM)
	w.wait(t)
	if got := outcomes(w.jobLines(t)); got["timed_out"] != 1 || got["succeeded"] != 1 {
		t.Errorf("job outcomes logged %v; want 1 timed_out, 1 succeeded", got)
	}
}

func TestWorkerHeartbeatKeepsLongJobFromSecondWorker(t *testing.T) {
	t.Parallel()
	srv := moto.Get(t)
	// The job runs 5 s on a queue whose visibility timeout is 2 s; a second worker polls meanwhile.
	q := newQueue(t, srv, motoserver.QueueOptions{Visibility: 2 * time.Second})
	srv.Send(t, q.URL, "long sleep=5s")
	command, record := jobCommand(t)
	env := []string{"QUEUE_URL=" + q.URL, "JOB_COMMAND=" + command, "JOB_TIMEOUT=60"}
	a := startWorker(t, srv, env...)
	waitFor(t, "the job starts", func() bool { return count(events(t, record), "start", "long") == 1 })
	b := startWorker(t, srv, env...)
	waitFor(t, "the job is done and its message deleted", func() bool {
		return count(events(t, record), "done", "long") >= 1 && emptyQueue(t, srv, q.URL)()
	})
	a.signal(syscall.SIGTERM)
	b.signal(syscall.SIGTERM)
	a.wait(t)
	b.wait(t)
	if got := count(events(t, record), "start", "long"); got != 1 {
		t.Errorf("the job started %d times; want once: the heartbeat keeps the message from the second worker", got)
	}
	if got := len(b.jobLines(t)); got != 0 {
		t.Errorf("the second worker ran %d jobs; want none", got)
	}
}

func TestWorkerSIGTERMLetsRunningJobsFinish(t *testing.T) {
	t.Parallel()
	srv := moto.Get(t)
	q := newQueue(t, srv, motoserver.QueueOptions{Visibility: 30 * time.Second})
	// Different lengths, so that the two deletes do not race in moto (see above).
	srv.Send(t, q.URL, "s1 sleep=1s", "s2 sleep=3s")
	command, record := jobCommand(t)
	w := startWorker(t, srv, "QUEUE_URL="+q.URL, "JOB_COMMAND="+command, "WORKER_CONCURRENCY=2")
	waitFor(t, "both jobs run", func() bool { return count(events(t, record), "start", "") == 2 })
	srv.Send(t, q.URL, "u1", "u2", "u3") // no free slot: the worker does not receive these
	w.signal(syscall.SIGTERM)
	if code := w.wait(t); code != 0 {
		t.Errorf("exit code after SIGTERM = %d; want 0", code)
	}
	// Right after the exit: the running jobs finished and their messages are gone; the others
	// are visible at once.
	if v, in := srv.Counts(t, q.URL); v != 3 || in != 0 {
		t.Errorf("queue holds %d visible, %d in flight after the exit; want 3, 0", v, in)
	}
	evs := events(t, record)
	if count(evs, "done", "s1") != 1 || count(evs, "done", "s2") != 1 || count(evs, "start", "") != 2 {
		t.Errorf("recorded %v; want s1 and s2 done, nothing else started", evs)
	}
	if got := outcomes(w.jobLines(t)); got["succeeded"] != 2 || len(got) != 1 {
		t.Errorf("job outcomes logged %v; want 2 succeeded", got)
	}
}

func TestWorkerStopTimeoutReleasesUnfinishedJobsMessage(t *testing.T) {
	t.Parallel()
	srv := moto.Get(t)
	q := newQueue(t, srv, motoserver.QueueOptions{Visibility: 30 * time.Second})
	srv.Send(t, q.URL, "endless sleep=1h")
	command, record := jobCommand(t)
	w := startWorker(t, srv, "QUEUE_URL="+q.URL, "JOB_COMMAND="+command, "WORKER_STOP_TIMEOUT=1")
	waitFor(t, "the job runs", func() bool { return count(events(t, record), "start", "endless") == 1 })
	w.signal(syscall.SIGTERM)
	if code := w.wait(t); code != 0 {
		t.Errorf("exit code after SIGTERM = %d; want 0", code)
	}
	if v, in := srv.Counts(t, q.URL); v != 1 || in != 0 {
		t.Errorf("queue holds %d visible, %d in flight after the exit; want the message visible at once: 1, 0", v, in)
	}
	if got := outcomes(w.jobLines(t)); got["abandoned"] != 1 || len(got) != 1 {
		t.Errorf("job outcomes logged %v; want 1 abandoned", got)
	}
}

func TestWorkerMissingQueueExitsNonZero(t *testing.T) {
	t.Parallel()
	srv := moto.Get(t)
	w := startWorker(t, srv, "QUEUE_URL="+srv.URL+"/123456789012/no-such-queue")
	if code := w.wait(t); code != 1 {
		t.Errorf("exit code = %d; want 1", code)
	}
	if !strings.Contains(w.stdout.String(), "the queue does not exist; check QUEUE_URL") {
		t.Errorf("stdout %q; want a clear error about the missing queue", w.stdout)
	}
}

func TestWorkerBadConfigurationExits2BeforeAnyRequest(t *testing.T) {
	t.Parallel()
	var requests atomic.Int64
	sqs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	defer sqs.Close()
	base := []string{"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=us-east-1", "AWS_ENDPOINT_URL=" + sqs.URL,
		"AWS_CONFIG_FILE=" + os.DevNull, "AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull, "AWS_EC2_METADATA_DISABLED=true"}
	url := "QUEUE_URL=" + sqs.URL + "/123456789012/jobs"
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{nil, "QUEUE_URL is not set"},
		{[]string{url, "WORKER_CONCURRENCY=abc"}, `WORKER_CONCURRENCY=\"abc\": not an integer`},
		{[]string{url, "WORKER_CONCURRENCY=0"}, `WORKER_CONCURRENCY=\"0\": must be between 1 and 1000`},
		{[]string{url, "JOB_TIMEOUT=0"}, `JOB_TIMEOUT=\"0\": must be between 1 and 43200`},
		{[]string{url, "JOB_COMMAND=/bin/job 'x"}, `unterminated single quote`},
		{[]string{url, "JOB_COMMAND=/nonexistent/job"}, `JOB_COMMAND: find program`},
	} {
		w := startWorker(t, nil, append(slicesClone(base), tc.env...)...)
		if code := w.wait(t); code != 2 {
			t.Errorf("env %v: exit code = %d; want 2", tc.env, code)
		}
		if !strings.Contains(w.stdout.String(), tc.want) {
			t.Errorf("env %v: stdout %q; want it to contain %s", tc.env, w.stdout, tc.want)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("the worker made %d requests with a bad configuration; want none", n)
	}
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }
