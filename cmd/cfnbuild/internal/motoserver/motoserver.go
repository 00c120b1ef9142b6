// Package motoserver starts moto_server (a local AWS emulator) on a free loopback port for tests.
//
// Start returns once the server answers; the server is stopped by its PID when the test ends.
// Without moto_server on PATH the test fails when CI=true and is skipped, saying so, otherwise.
package motoserver

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is a running moto_server.
type Server struct {
	// URL is the endpoint, http://127.0.0.1:PORT.
	URL string
	cmd *exec.Cmd
	log *bytes.Buffer
	mu  *sync.Mutex
}

// Env returns environment variables that point the AWS SDKs and CLI at the server with dummy
// credentials, to append to os.Environ() for a child process.
func (s *Server) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + s.URL,
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_SESSION_TOKEN=",
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_PROFILE=",
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// SetEnv points this process's AWS SDK at the server for the rest of the test (t.Setenv).
func (s *Server) SetEnv(t testing.TB) {
	t.Helper()
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// Reset clears all of moto's state (POST /moto-api/reset).
func (s *Server) Reset(t testing.TB) {
	t.Helper()
	resp, err := http.Post(s.URL+"/moto-api/reset", "application/json", nil)
	if err != nil {
		t.Fatalf("resetting moto_server: %v", err)
	}
	resp.Body.Close()
}

// Log returns what the server printed so far, for failure messages.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// Start starts moto_server on a free 127.0.0.1 port and stops it when tb ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := start()
	if err == errNotInstalled {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("moto_server is not on PATH; CI must install it")
		}
		tb.Skip("skipping: moto_server is not on PATH (CI=true makes this a failure)")
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return s
}

var errNotInstalled = fmt.Errorf("moto_server is not on PATH")

// StartMain is Start for TestMain, which has no testing.TB: the caller must defer Stop. It returns
// a nil server and a reason when moto_server is missing and CI is not "true".
func StartMain() (*Server, string, error) {
	s, err := start()
	if err == errNotInstalled && os.Getenv("CI") != "true" {
		return nil, "moto_server is not on PATH (CI=true makes this a failure)", nil
	}
	return s, "", err
}

func start() (*Server, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, errNotInstalled
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a port picked free can be taken before moto binds it
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s := &Server{URL: "http://127.0.0.1:" + strconv.Itoa(port), log: &bytes.Buffer{}, mu: &sync.Mutex{}}
		s.cmd = exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
		s.cmd.Stdout = lockedWriter{s.mu, s.log}
		s.cmd.Stderr = lockedWriter{s.mu, s.log}
		s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := s.cmd.Start(); err != nil {
			return nil, fmt.Errorf("starting moto_server: %w", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- s.cmd.Wait() }()
		if lastErr = s.waitReady(exited); lastErr == nil {
			return s, nil
		}
		s.kill()
	}
	return nil, lastErr
}

func (s *Server) waitReady(exited <-chan error) error {
	deadline := time.Now().Add(30 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("moto_server exited at start (%v): %s", err, s.Log())
		default:
		}
		resp, err := client.Get(s.URL + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("moto_server did not answer at %s within 30s: %s", s.URL, s.Log())
}

// Stop stops the server by its PID (SIGTERM to its process group, then SIGKILL).
func (s *Server) Stop() {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.kill()
}

func (s *Server) kill() {
	pid := s.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		for i := 0; i < 50; i++ {
			if syscall.Kill(pid, 0) != nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		close(done)
	}()
	<-done
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
