package httpserver

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"
)

// Check reports whether one dependency is usable; nil means yes.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Health serves /healthz (the process is alive) and /readyz (it can serve:
// every check passes and it is not shutting down). A load balancer takes a
// replica out of rotation on a failing /readyz but leaves it running.
type Health struct {
	checks   []Check
	timeout  time.Duration
	draining atomic.Bool
}

// NewHealth returns a Health running checks with a bounded total time, so a
// hung dependency makes /readyz fail fast instead of hang.
func NewHealth(checks ...Check) *Health {
	return &Health{checks: checks, timeout: 2 * time.Second}
}

// Live handles /healthz.
func (h *Health) Live() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		JSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// Ready handles /readyz.
func (h *Health) Ready() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.draining.Load() {
			JSON(w, http.StatusServiceUnavailable, map[string]any{"status": "shutting down"})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
		defer cancel()
		failed := map[string]string{}
		for _, c := range h.checks {
			if err := c.Fn(ctx); err != nil {
				failed[c.Name] = err.Error()
			}
		}
		if len(failed) > 0 {
			JSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "failed": failed})
			return
		}
		JSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}
