package auditlog

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/pkg/zaplog"
)

type fakeWriter struct {
	mu      sync.Mutex
	batches [][]domain.AuditEvent
	fail    error
}

func (f *fakeWriter) RecordMany(_ context.Context, events []domain.AuditEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.batches = append(f.batches, append([]domain.AuditEvent(nil), events...))
	return nil
}

func (f *fakeWriter) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, b := range f.batches {
		n += len(b)
	}
	return n
}

func event(i int) domain.AuditEvent {
	return domain.AuditEvent{Type: domain.AuditTokenIssued, ClientID: "c", Detail: strings.Repeat("x", i%3)}
}

func TestBatcherWritesInBatches(t *testing.T) {
	var logs bytes.Buffer
	log, _ := zaplog.New(&logs, "info")
	w := &fakeWriter{}
	b := NewBatcher(w, log, 100, 10, time.Hour)
	for i := 0; i < 25; i++ {
		require.NoError(t, b.Record(context.Background(), event(i)))
	}
	require.Eventually(t, func() bool { return w.total() >= 20 }, time.Second, time.Millisecond, "full batches go at once")
	b.Close()
	assert.Equal(t, 25, w.total(), "Close flushes the rest")
	for _, batch := range w.batches {
		assert.LessOrEqual(t, len(batch), 10)
	}
	assert.Empty(t, logs.String())
}

func TestBatcherFlushesOnTimer(t *testing.T) {
	w := &fakeWriter{}
	log, _ := zaplog.New(&bytes.Buffer{}, "info")
	b := NewBatcher(w, log, 100, 1000, 10*time.Millisecond)
	defer b.Close()
	require.NoError(t, b.Record(context.Background(), event(1)))
	require.Eventually(t, func() bool { return w.total() == 1 }, time.Second, time.Millisecond)
}

func TestBatcherFallsBackToTheLog(t *testing.T) {
	var logs bytes.Buffer
	log, _ := zaplog.New(&logs, "info")
	w := &fakeWriter{fail: errors.New("database down")}
	b := NewBatcher(w, log, 100, 10, time.Hour)
	for i := 0; i < 3; i++ {
		require.NoError(t, b.Record(context.Background(), event(i)))
	}
	b.Close()
	assert.Equal(t, 3, strings.Count(logs.String(), `"msg":"audit"`), "nothing lost when the store fails")
	assert.Contains(t, logs.String(), "database down")

	logs.Reset()
	full := NewBatcher(&fakeWriter{}, log, 1, 1000, time.Hour)
	full.queue <- event(0) // fill the queue
	require.NoError(t, full.Record(context.Background(), event(1)))
	assert.Equal(t, 1, strings.Count(logs.String(), `"msg":"audit"`), "a full queue spills to the log, never blocks")
	full.Close()
}
