package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cfnbuild/cfnbuild/worker/internal/motoserver"
)

// TestWorkerFaultInjection runs several worker processes over a few hundred messages, SIGTERMs and
// SIGKILLs them at random moments and restarts them. At the end every message was processed at
// least once and is either deleted (its job succeeds) or in the dead-letter queue (its job always
// fails): none is lost. Run with -v to see the counts.
func TestWorkerFaultInjection(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the fault-injection test in -short mode")
	}
	t.Parallel()
	srv := moto.Get(t)
	const (
		messages   = 300
		failEvery  = 10 // every 10th job always fails
		workers    = 3
		maxKills   = 24
		maxReceive = 5
	)
	// A short visibility timeout, so that messages held by a killed worker come back soon.
	q := newQueue(t, srv, motoserver.QueueOptions{Visibility: 3 * time.Second, MaxReceiveCount: maxReceive})
	var bodies []string
	failing := map[string]bool{}
	for i := range messages {
		name := fmt.Sprintf("m%03d", i)
		if i%failEvery == 0 {
			failing[name] = true
			bodies = append(bodies, name+" fail")
		} else {
			bodies = append(bodies, fmt.Sprintf("%s sleep=%dms", name, rand.IntN(150)))
		}
	}
	srv.Send(t, q.URL, bodies...)

	command, record := jobCommand(t)
	env := []string{"QUEUE_URL=" + q.URL, "JOB_COMMAND=" + command, "JOB_TIMEOUT=3", "JOB_RETRY_DELAY=1",
		"WORKER_CONCURRENCY=3", "WORKER_STOP_TIMEOUT=2"}
	procs := make([]*proc, workers)
	for i := range procs {
		procs[i] = startWorker(t, srv, env...)
	}

	var sigterms, sigkills int
	finished := func() bool {
		return emptyQueue(t, srv, q.URL)() && count(events(t, record), "done", "")+count(events(t, record), "fail", "") > 0
	}
	deadline := time.Now().Add(90 * time.Second)
	for sigterms+sigkills < maxKills && !finished() {
		if time.Now().After(deadline) {
			t.Fatal("the workers did not finish within 90s")
		}
		time.Sleep(time.Duration(100+rand.IntN(400)) * time.Millisecond)
		i := rand.IntN(workers)
		p := procs[i]
		if rand.IntN(2) == 0 {
			sigterms++
			p.signal(syscall.SIGTERM)
			if code := p.wait(t); code != 0 {
				t.Errorf("worker exit code after SIGTERM = %d; want 0", code)
			}
		} else {
			sigkills++
			p.signal(syscall.SIGKILL)
			p.wait(t)
		}
		procs[i] = startWorker(t, srv, env...)
	}
	waitFor(t, "the queue is empty", emptyQueue(t, srv, q.URL))
	for _, p := range procs {
		p.signal(syscall.SIGTERM)
		if code := p.wait(t); code != 0 {
			t.Errorf("worker exit code after SIGTERM = %d; want 0", code)
		}
	}

	dead := map[string]int{}
	for _, b := range srv.Drain(t, q.DLQURL) {
		dead[strings.Fields(b)[0]]++
	}
	evs := events(t, record)
	var processed, duplicates, lost, succeededButDead int
	for _, b := range bodies {
		name := strings.Fields(b)[0]
		done, failed := count(evs, "done", name), count(evs, "fail", name)
		if done+failed > 0 {
			processed++
		}
		if done > 1 {
			duplicates += done - 1
		}
		switch {
		case failing[name] && (failed == 0 || dead[name] != 1):
			lost++
			t.Errorf("failing message %s: failed %d times, in the dead-letter queue %d times; want at least once, once", name, failed, dead[name])
		case !failing[name] && done == 0:
			lost++
			t.Errorf("message %s was never processed (in the dead-letter queue %d times)", name, dead[name])
		case !failing[name] && dead[name] > 0:
			succeededButDead++
			t.Errorf("message %s succeeded but is in the dead-letter queue", name)
		}
	}
	t.Logf("fault injection: sent %d (%d failing), processed %d, duplicates %d, kills %d (%d SIGTERM, %d SIGKILL), in DLQ %d, lost %d",
		messages, len(failing), processed, duplicates, sigterms+sigkills, sigterms, sigkills, len(dead), lost)
	if processed != messages || lost != 0 || succeededButDead != 0 {
		t.Errorf("processed %d of %d, lost %d, succeeded but dead-lettered %d; want all processed, none lost", processed, messages, lost, succeededButDead)
	}
}
