package consumer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Protector turns ECS task scale-in protection on, for ttl, or off.
type Protector interface {
	SetProtection(ctx context.Context, enabled bool, ttl time.Duration) error
}

// protectionTimeout bounds one call to the Protector.
const protectionTimeout = 5 * time.Second

// protection remembers the state last set, so that the agent is called only on changes and
// refreshes, not per message. Failures are logged, never fatal.
type protection struct {
	p   Protector
	ttl time.Duration
	log *slog.Logger

	mu sync.Mutex
	on bool
}

// set turns protection on or off unless it already is (or, with refresh, renews it anyway).
func (pr *protection) set(ctx context.Context, enabled, refresh bool) {
	if pr.p == nil {
		return
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.on == enabled && !refresh {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), protectionTimeout)
	defer cancel()
	if err := pr.p.SetProtection(cctx, enabled, pr.ttl); err != nil {
		pr.log.Warn("set task scale-in protection", "enabled", enabled, "error", err.Error())
		return
	}
	if pr.on != enabled {
		pr.log.Info("task scale-in protection", "enabled", enabled)
	}
	pr.on = enabled
}

// AgentProtector sets task scale-in protection through the ECS container agent's endpoint,
// $ECS_AGENT_URI/task-protection/v1/state.
type AgentProtector struct {
	AgentURI string       // the value of ECS_AGENT_URI
	Client   *http.Client // nil: http.DefaultClient
}

// SetProtection implements Protector. ttl is rounded up to whole minutes, 1 to 2880.
func (a *AgentProtector) SetProtection(ctx context.Context, enabled bool, ttl time.Duration) error {
	body := map[string]any{"ProtectionEnabled": enabled}
	if enabled {
		body["ExpiresInMinutes"] = min(2880, max(1, int((ttl+time.Minute-1)/time.Minute)))
	}
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode task protection request: %w", err)
	}
	url := strings.TrimSuffix(a.AgentURI, "/") + "/task-protection/v1/state"
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("set task protection to %t at %s: %w", enabled, url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	c := a.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("set task protection to %t: %w", enabled, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("set task protection to %t: agent answered %s: %s", enabled, resp.Status, bytes.TrimSpace(answer))
	}
	// The agent can answer 200 with a failure or an error from the ECS API in the body.
	var parsed struct {
		Failure *struct{ Reason, Detail string } `json:"failure"`
		Error   *struct{ Code, Message string }  `json:"error"`
	}
	if json.Unmarshal(answer, &parsed) == nil {
		switch {
		case parsed.Failure != nil:
			return fmt.Errorf("set task protection to %t: %s %s", enabled, parsed.Failure.Reason, parsed.Failure.Detail)
		case parsed.Error != nil:
			return fmt.Errorf("set task protection to %t: %s: %s", enabled, parsed.Error.Code, parsed.Error.Message)
		}
	}
	return nil
}
