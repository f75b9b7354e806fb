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
	require.Eventually(t, func() bool { return w.total() >= 20 }, time.Minute, time.Millisecond, "full batches go at once, not after the hour")
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
	require.Eventually(t, func() bool { return w.total() == 1 }, time.Minute, time.Millisecond)
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
	stuck := &stuckWriter{entered: make(chan struct{}), release: make(chan struct{})}
	full := NewBatcher(stuck, log, 1, 1, time.Hour)
	require.NoError(t, full.Record(context.Background(), event(0)))
	<-stuck.entered                                                 // the batcher is busy writing event 0,
	require.NoError(t, full.Record(context.Background(), event(1))) // so event 1 stays in the queue and fills it
	require.NoError(t, full.Record(context.Background(), event(2)))
	assert.Equal(t, 1, strings.Count(logs.String(), `"msg":"audit"`), "a full queue spills to the log, never blocks")
	close(stuck.release)
	full.Close()
}

// stuckWriter holds the first batch until released, as a slow database
// would, so the test knows the batcher is busy and its queue stays as the
// test filled it. (Filling the queue while the batcher is idle races with
// the batcher taking the event out.)
type stuckWriter struct {
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (w *stuckWriter) RecordMany(context.Context, []domain.AuditEvent) error {
	w.once.Do(func() { close(w.entered) })
	<-w.release
	return nil
}
