// Package auditlog writes audit events to where they are kept: the JSON log
// (one line per event, for memory storage), or a database through a batcher
// that keeps the request path free of audit writes.
package auditlog

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/oauth2ref/authserver/internal/domain"
)

// Log writes each event as one JSON log line with msg "audit".
type Log struct {
	log *zap.Logger
}

// NewLog returns a Log writing to log.
func NewLog(log *zap.Logger) *Log { return &Log{log: log.WithOptions(zap.WithCaller(false))} }

// Record writes e as one log line at info level; it never fails.
func (l *Log) Record(_ context.Context, e domain.AuditEvent) error {
	l.log.Info("audit",
		zap.Time("at", e.Time),
		zap.String("event", string(e.Type)),
		zap.String("client_id", e.ClientID),
		zap.String("user_id", e.UserID),
		zap.String("outcome", string(e.Outcome)),
		zap.String("detail", e.Detail))
	return nil
}

// Writer stores events in bulk.
type Writer interface {
	// RecordMany stores events in one write: all of them, or none and an error.
	RecordMany(ctx context.Context, events []domain.AuditEvent) error
}

// Batcher queues events and writes them in batches from one goroutine, so
// issuing a token never waits on an audit insert. Nothing is dropped
// silently: when the queue is full, or a write fails, the events go to the
// fallback log instead (a database outage must not stop token issuance, and
// the JSON log is the audit trail of last resort).
type Batcher struct {
	w        Writer
	fallback *Log
	log      *zap.Logger
	queue    chan domain.AuditEvent
	maxBatch int
	every    time.Duration

	stop chan struct{}
	done sync.WaitGroup
}

// NewBatcher starts a batcher writing to w at most maxBatch events at a
// time, at least every interval. Close flushes what is queued.
func NewBatcher(w Writer, log *zap.Logger, queue, maxBatch int, every time.Duration) *Batcher {
	b := &Batcher{
		w: w, fallback: NewLog(log), log: log,
		queue: make(chan domain.AuditEvent, queue), maxBatch: maxBatch, every: every,
		stop: make(chan struct{}),
	}
	b.done.Add(1)
	go b.run()
	return b
}

// Record queues e for the next batch without waiting; when the queue is full, e
// goes to the fallback log instead.
func (b *Batcher) Record(ctx context.Context, e domain.AuditEvent) error {
	select {
	case b.queue <- e:
		return nil
	default:
		return b.fallback.Record(ctx, e)
	}
}

func (b *Batcher) run() {
	defer b.done.Done()
	t := time.NewTicker(b.every)
	defer t.Stop()
	batch := make([]domain.AuditEvent, 0, b.maxBatch)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := b.w.RecordMany(ctx, batch)
		cancel()
		if err != nil {
			b.log.Warn("audit batch not stored; writing it to the log", zap.Int("events", len(batch)), zap.Error(err))
			for _, e := range batch {
				_ = b.fallback.Record(context.Background(), e)
			}
		}
		batch = batch[:0]
	}
	for {
		select {
		case e := <-b.queue:
			batch = append(batch, e)
			if len(batch) >= b.maxBatch {
				flush()
			}
		case <-t.C:
			flush()
		case <-b.stop:
			for {
				select {
				case e := <-b.queue:
					batch = append(batch, e)
					if len(batch) >= b.maxBatch {
						flush()
					}
				default:
					flush()
					return
				}
			}
		}
	}
}

// Close writes what is queued and stops.
func (b *Batcher) Close() {
	close(b.stop)
	b.done.Wait()
}
