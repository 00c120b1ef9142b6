package motoserver

import (
	"net/http"
	"syscall"
	"testing"
)

func TestStartAnswersAndStops(t *testing.T) {
	var s *Server
	t.Run("start", func(t *testing.T) {
		s = Start(t)
		resp, err := http.Get(s.URL + "/moto-api/")
		if err != nil {
			t.Fatalf("GET %s/moto-api/: %v", s.URL, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /moto-api/ status = %d, want 200", resp.StatusCode)
		}
		s.Reset(t)
	})
	if s == nil || t.Skipped() {
		return
	}
	// The subtest's cleanup stopped the server: its process must be gone.
	if err := syscall.Kill(s.cmd.Process.Pid, 0); err == nil {
		t.Fatalf("moto_server (pid %d) still runs after the test ended", s.cmd.Process.Pid)
	}
}
