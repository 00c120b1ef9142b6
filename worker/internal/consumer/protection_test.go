package consumer_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cfnbuild/cfnbuild/worker/internal/consumer"
	"github.com/cfnbuild/cfnbuild/worker/internal/memqueue"
	"github.com/cfnbuild/cfnbuild/worker/internal/queue"
)

// fakeAgent is the ECS agent's task protection endpoint, recording every state it is sent.
type fakeAgent struct {
	mu     sync.Mutex
	states []bool
	bodies []map[string]any
	status int // answer status; 0: 200
	answer string
}

func (a *fakeAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut || r.URL.Path != "/task-protection/v1/state" || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
		return
	}
	var body map[string]any
	b, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(b, &body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	a.states = append(a.states, body["ProtectionEnabled"] == true)
	a.bodies = append(a.bodies, body)
	status, answer := a.status, a.answer
	a.mu.Unlock()
	if status != 0 {
		w.WriteHeader(status)
	}
	if answer == "" {
		answer = `{"protection":{"ProtectionEnabled":true}}`
	}
	io.WriteString(w, answer)
}

func (a *fakeAgent) got() ([]bool, []map[string]any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]bool(nil), a.states...), append([]map[string]any(nil), a.bodies...)
}

func TestTaskProtectionOnWhileBusyOffWhenIdle(t *testing.T) {
	agent := &fakeAgent{}
	srv := httptest.NewServer(agent)
	defer srv.Close()

	q := memqueue.New(memqueue.Options{Visibility: 30 * time.Second})
	q.Send("a")
	q.Send("b")
	var seenWhileRunning []bool
	cfg := fast()
	cfg.ProtectionTTL = 3 * time.Minute
	cfg.ProtectionRefresh = 10 * time.Millisecond
	stop := start(t, &consumer.Consumer{
		Queue: q, Config: cfg,
		Protector: &consumer.AgentProtector{AgentURI: srv.URL},
		Job: consumer.JobFunc(func(ctx context.Context, m queue.Message) error {
			if m.Body == "a" {
				// Run until protection was renewed at least twice (or the test's deadline).
				for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
					if s, _ := agent.got(); len(s) >= 3 {
						break
					}
				}
				seenWhileRunning, _ = agent.got()
			}
			return nil
		}),
	})
	eventually(t, "protection is off", func() bool {
		s, _ := agent.got()
		return len(s) > 0 && !s[len(s)-1]
	})
	stop()

	if len(seenWhileRunning) < 3 {
		t.Errorf("states while the job ran %v; want protection set and renewed twice", seenWhileRunning)
	}
	for _, s := range seenWhileRunning {
		if !s {
			t.Errorf("states while the job ran %v; want only true", seenWhileRunning)
		}
	}
	states, bodies := agent.got()
	if states[0] != true || states[len(states)-1] != false {
		t.Errorf("states %v; want on first, off last", states)
	}
	if bodies[0]["ExpiresInMinutes"] != 3.0 {
		t.Errorf("enable request %v; want ExpiresInMinutes 3", bodies[0])
	}
	if _, ok := bodies[len(bodies)-1]["ExpiresInMinutes"]; ok {
		t.Errorf("disable request %v; want no ExpiresInMinutes", bodies[len(bodies)-1])
	}
	if v, in := q.Counts(); v != 0 || in != 0 {
		t.Errorf("queue holds %d visible, %d in flight; want none", v, in)
	}
}

func TestTaskProtectionIsNotSetPerMessage(t *testing.T) {
	agent := &fakeAgent{}
	srv := httptest.NewServer(agent)
	defer srv.Close()
	q := memqueue.New(memqueue.Options{Visibility: 30 * time.Second})
	for range 50 {
		q.Send("x")
	}
	cfg := fast()
	cfg.PollWait = time.Second // the queue is never found empty while messages remain
	stop := start(t, &consumer.Consumer{Queue: q, Config: cfg, Protector: &consumer.AgentProtector{AgentURI: srv.URL},
		Job: consumer.JobFunc(func(context.Context, queue.Message) error { return nil })})
	eventually(t, "the queue is empty", func() bool { v, in := q.Counts(); return v == 0 && in == 0 })
	stop()
	if states, _ := agent.got(); len(states) != 2 || !states[0] || states[1] {
		t.Errorf("states over 50 back-to-back messages %v; want [true false]", states)
	}
}

func TestTaskProtectionFailuresAreNotFatal(t *testing.T) {
	for _, agent := range []*fakeAgent{
		{status: http.StatusInternalServerError, answer: "boom"},
		{answer: `{"failure":{"Arn":"arn","Reason":"TASK_NOT_VALID","Detail":"no"}}`},
		{answer: `{"error":{"Code":"AccessDeniedException","Message":"denied"}}`},
	} {
		srv := httptest.NewServer(agent)
		q := memqueue.New(memqueue.Options{Visibility: 30 * time.Second})
		q.Send("x")
		log, logs := newLog()
		stop := start(t, &consumer.Consumer{Queue: q, Config: fast(), Log: log, Protector: &consumer.AgentProtector{AgentURI: srv.URL},
			Job: consumer.JobFunc(func(context.Context, queue.Message) error { return nil })})
		eventually(t, "the message is deleted", func() bool { v, in := q.Counts(); return v == 0 && in == 0 })
		stop()
		srv.Close()
		warns := logs.records(t, "set task scale-in protection")
		if len(warns) == 0 || !strings.Contains(warns[0]["error"].(string), "set task protection to true") {
			t.Errorf("agent answering %d %s: warnings %v; want one naming the failed call", agent.status, agent.answer, warns)
		}
	}
}

func TestAgentProtectorUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	p := &consumer.AgentProtector{AgentURI: url}
	if err := p.SetProtection(context.Background(), true, time.Minute); err == nil {
		t.Fatal("SetProtection to a closed port = nil; want an error")
	}
}
