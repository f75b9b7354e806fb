package httpapi

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/oauth2ref/authserver/internal/domain"
)

// A caller that hung up while its request waited (say, for a password
// hash) is no server error: no 500, nothing logged above debug.
func TestACallerWhoLeftIsNoError(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequest("POST", "/token", nil).WithContext(ctx)
	w := httptest.NewRecorder()
	writeError(w, r, log, fmt.Errorf("verifying: %w", context.Canceled))
	assert.Equal(t, statusClientGone, w.Code)
	for _, e := range logs.All() {
		assert.Equal(t, zapcore.DebugLevel, e.Level, e.Message)
	}

	// A cancellation that is not the caller's is still an internal error.
	logs.TakeAll()
	w = httptest.NewRecorder()
	writeError(w, httptest.NewRequest("POST", "/token", nil), log, context.Canceled)
	assert.Equal(t, 500, w.Code)
	assert.Equal(t, 1, logs.FilterLevelExact(zapcore.ErrorLevel).Len())
}

func TestThrottledAnswersSayWhenToRetry(t *testing.T) {
	for _, tc := range []struct {
		code   domain.ErrorCode
		status int
	}{{domain.InvalidGrant, 400}, {domain.InvalidClient, 401}} {
		w := httptest.NewRecorder()
		writeError(w, httptest.NewRequest("POST", "/token", nil), zap.NewNop(), &domain.Throttled{RetryAfter: 1500 * time.Millisecond, Code: tc.code})
		assert.Equal(t, tc.status, w.Code)
		assert.Equal(t, "2", w.Header().Get("Retry-After"))
		assert.Contains(t, w.Body.String(), `"error":"`+string(tc.code)+`"`)
		assert.Contains(t, w.Body.String(), "try again in 2 seconds")
	}
}
