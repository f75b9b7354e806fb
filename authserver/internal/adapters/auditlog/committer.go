package auditlog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/oauth2ref/authserver/internal/domain"
)

// Entry is an event with the random id that makes storing it idempotent: a
// replay writes it again and the table keeps one copy.
type Entry struct {
	ID    ID
	Event domain.AuditEvent
}

// ID is an audit event's id: a version 4 UUID (122 random bits).
type ID [16]byte

// NewID returns a random id.
func NewID() ID {
	var id ID
	_, _ = rand.Read(id[:]) // never fails (crypto/rand, Go 1.24 and later)
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return id
}

func (id ID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], id[0:4])
	hex.Encode(b[9:13], id[4:6])
	hex.Encode(b[14:18], id[6:8])
	hex.Encode(b[19:23], id[8:10])
	hex.Encode(b[24:], id[10:])
	b[8], b[13], b[18], b[23] = '-', '-', '-', '-'
	return string(b[:])
}

// parseID reads the form String writes.
func parseID(s string) (ID, error) {
	var id ID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return id, fmt.Errorf("audit id %q: not a UUID", s)
	}
	h := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	if _, err := hex.Decode(id[:], []byte(h)); err != nil {
		return id, fmt.Errorf("audit id %q: not a UUID", s)
	}
	return id, nil
}

// Store is the table the Committer writes to.
type Store interface {
	// AppendAudit stores entries in one transaction, skipping any whose id
	// is stored already.
	AppendAudit(ctx context.Context, entries []Entry) error
	// Ping reports whether the store answers.
	Ping(ctx context.Context) error
}

// Config configures a Committer. Zero durations take the defaults.
type Config struct {
	Store Store
	// SpoolDir is where batches go when the store fails, until it answers
	// again. Empty: no spool, such batches go to Fallback.
	SpoolDir string
	// Fallback receives, as JSON log lines, the events that neither the
	// store nor the spool took: the audit trail of last resort.
	Fallback *zap.Logger
	// Log receives the Committer's own warnings.
	Log *zap.Logger
	// WriteTimeout bounds one write to the store (the store may bound it
	// further). Default 5s.
	WriteTimeout time.Duration
	// MaxWait bounds how long Record waits for its event to be stored.
	// Default WriteTimeout + 5s: long enough for a failed write and the
	// spool after it.
	MaxWait time.Duration
	// RetryEvery is how often a failed store is tried again, and the spool
	// replayed into it. Default 1s.
	RetryEvery time.Duration
	// MaxBatch caps the events written in one statement. Default 1000.
	MaxBatch int
}

// Committer stores audit events in a table by group commit: Record queues
// its event and waits until the batch holding it is committed, so an event
// is durable before the response that acknowledges its change is sent. One
// writer takes everything queued, writes it in one statement and wakes the
// waiters; meanwhile new events queue for the next batch. Under load the
// batches grow, so throughput holds while each request waits about one
// round trip.
//
// When a write fails, the batch is appended to a spool file (and fsynced)
// before its waiters wake, and later batches go straight to the spool until
// the store answers again; a background loop then replays the spool into the
// table and empties it. A spool left by a crash is replayed at the next
// start. Ids make every replay idempotent.
//
// Only when the spool fails too (or there is none) does an event go to the
// JSON log, as it did before: recording never fails a request whose change
// is already committed.
type Committer struct {
	store    Store
	spool    *spool
	fallback *Log
	log      *zap.Logger
	cfg      Config

	mu     sync.Mutex
	next   *batch // the batch being filled
	closed bool
	wake   chan struct{}

	degraded     atomic.Bool // the store failed: write to the spool until it answers
	spoolFailing atomic.Bool
	lastWarn     atomic.Int64 // unix nanoseconds of the last outage warning
	lastRefused  atomic.Int64 // and of the last refused event's

	stop   chan struct{}
	cancel context.CancelFunc // ends a replay under way
	loops  sync.WaitGroup     // run and retry
}

// batch is a group of events committed together; done closes when they are
// stored (err nil) or, failing that, logged (err set).
type batch struct {
	entries []Entry
	done    chan struct{}
	err     error
}

func newBatch() *batch { return &batch{done: make(chan struct{})} }

var errNotDurable = errors.New("auditlog: neither the audit table nor the spool took the event; it went to the JSON log")

// NewCommitter starts a Committer. With a spool directory it creates the
// directory if needed, takes its own spool file there and replays, in the
// background, any spool that a process that is gone left behind.
func NewCommitter(cfg Config) (*Committer, error) {
	if cfg.Store == nil || cfg.Fallback == nil || cfg.Log == nil {
		return nil, errors.New("auditlog: Store, Fallback and Log are required")
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 5 * time.Second
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = cfg.WriteTimeout + 5*time.Second
	}
	if cfg.RetryEvery <= 0 {
		cfg.RetryEvery = time.Second
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1000
	}
	c := &Committer{
		store: cfg.Store, fallback: NewLog(cfg.Fallback), log: cfg.Log, cfg: cfg,
		next: newBatch(), wake: make(chan struct{}, 1), stop: make(chan struct{}),
	}
	if cfg.SpoolDir != "" {
		sp, err := openSpool(cfg.SpoolDir, cfg.Log)
		if err != nil {
			return nil, err
		}
		c.spool = sp
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.loops.Add(2)
	go c.run()
	go c.retry(ctx)
	return c, nil
}

// Record stores e and returns once it is durable in the table or the
// spool. It returns an error, and the event is still written, if ctx ends
// or MaxWait passes first; it returns errNotDurable if the event could only
// be logged.
func (c *Committer) Record(ctx context.Context, e domain.AuditEvent) error {
	entry := Entry{ID: NewID(), Event: e}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		c.fallback.write(e, zap.Stringer("event_id", entry.ID))
		return errNotDurable
	}
	b := c.next
	b.entries = append(b.entries, entry)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default: // the writer is already told
	}
	t := time.NewTimer(c.cfg.MaxWait)
	defer t.Stop()
	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("auditlog: event %s not stored after %s; still queued", entry.ID, c.cfg.MaxWait)
	}
}

// run is the writer: it takes the queued batch whenever there is one and
// commits it.
func (c *Committer) run() {
	defer c.loops.Done()
	for {
		select {
		case <-c.wake:
		case <-c.stop:
			// Record queues nothing once closed is set, which Close did
			// before stop: this is the last batch.
			if b := c.take(); b != nil {
				c.commit(b)
			}
			return
		}
		if b := c.take(); b != nil {
			c.commit(b)
		}
	}
}

// take swaps in an empty batch and returns the full one, nil if it was
// empty.
func (c *Committer) take() *batch {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.next.entries) == 0 {
		return nil
	}
	b := c.next
	c.next = newBatch()
	return b
}

func (c *Committer) commit(b *batch) {
	for start := 0; start < len(b.entries); start += c.cfg.MaxBatch {
		if err := c.persist(b.entries[start:min(start+c.cfg.MaxBatch, len(b.entries))]); err != nil {
			b.err = err
		}
	}
	close(b.done)
}

// persist stores entries in the table, else the spool, else the log.
func (c *Committer) persist(entries []Entry) error {
	if !c.degraded.Load() {
		rest, err := c.write(context.Background(), entries)
		if err == nil {
			return nil
		}
		c.enterDegraded(err, len(rest))
		entries = rest
	}
	if c.spool != nil {
		err := c.spool.append(entries)
		if err == nil {
			if c.spoolFailing.CompareAndSwap(true, false) {
				c.log.Info("audit spool written again")
			}
			return nil
		}
		if c.spoolFailing.CompareAndSwap(false, true) {
			c.log.Warn("audit spool not written; audit events go to the JSON log until it is", zap.Error(err))
		}
	}
	for _, e := range entries {
		c.fallback.write(e.Event, zap.Stringer("event_id", e.ID))
	}
	c.fallback.sync()
	return errNotDurable
}

// write stores entries in the table. Should the table refuse them for
// another reason than an outage (an event it cannot take, or a schema not
// migrated), it writes each event alone, and logs those refused alone: one
// bad event must not hold up the others, nor stop the spool from draining.
// On an outage it returns the error and the entries not stored.
func (c *Committer) write(ctx context.Context, entries []Entry) (rest []Entry, err error) {
	switch err = c.append(ctx, entries); {
	case err == nil:
		return nil, nil
	case outage(err):
		return entries, err
	}
	for i := range entries {
		err := c.append(ctx, entries[i:i+1])
		switch {
		case err == nil:
		case outage(err):
			return entries[i:], err
		default:
			c.refused(entries[i], err)
		}
	}
	return nil, nil
}

func (c *Committer) append(ctx context.Context, entries []Entry) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.WriteTimeout)
	defer cancel()
	return c.store.AppendAudit(ctx, entries)
}

// outage reports whether err says the table could not be reached or
// answered too late, so that a later try may succeed.
func outage(err error) bool {
	return errors.Is(err, domain.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// refused logs an event the table will not take, with a warning at most
// once a minute.
func (c *Committer) refused(e Entry, err error) {
	c.fallback.write(e.Event, zap.Stringer("event_id", e.ID))
	c.fallback.sync()
	now := time.Now().UnixNano()
	if last := c.lastRefused.Load(); last == 0 || now-last >= int64(time.Minute) {
		c.lastRefused.Store(now)
		c.log.Warn("audit table refused an event; it is kept in the JSON log only", zap.Stringer("event_id", e.ID), zap.Error(err))
	}
}

// enterDegraded switches writes to the spool and warns, once per outage
// (and at most once a minute should the store flap).
func (c *Committer) enterDegraded(err error, n int) {
	if !c.degraded.CompareAndSwap(false, true) {
		return
	}
	now := time.Now().UnixNano()
	if last := c.lastWarn.Load(); last != 0 && now-last < int64(time.Minute) {
		return
	}
	c.lastWarn.Store(now)
	where := "the JSON log (no spool directory is set)"
	if c.spool != nil {
		where = "the spool in " + c.cfg.SpoolDir + ", replayed into the table when it answers"
	}
	c.log.Warn("audit table not written; audit events go to "+where, zap.Int("events", n), zap.Error(err))
}

// retry replays the spool (one left by a crash at once, then every
// RetryEvery), and finds out when a failed store answers again.
func (c *Committer) retry(ctx context.Context) {
	defer c.loops.Done()
	t := time.NewTicker(c.cfg.RetryEvery)
	defer t.Stop()
	for {
		c.replay(ctx)
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
	}
}

// replay moves what is spooled into the table, and ends degraded mode once
// the table has taken a write (or, with nothing spooled, answers a ping).
func (c *Committer) replay(ctx context.Context) {
	replayed := 0
	if c.spool != nil {
		n, err := c.spool.replay(ctx, c.cfg.MaxBatch, func(entries []Entry) error {
			_, err := c.write(ctx, entries)
			return err
		})
		replayed = n
		if err != nil {
			if ctx.Err() == nil {
				c.enterDegraded(err, 0)
			}
			return
		}
	}
	if c.degraded.Load() && replayed == 0 {
		pctx, cancel := context.WithTimeout(ctx, c.cfg.WriteTimeout)
		err := c.store.Ping(pctx)
		cancel()
		if err != nil {
			return
		}
	}
	if c.degraded.CompareAndSwap(true, false) {
		c.log.Info("audit table written again", zap.Int("replayed_from_spool", replayed))
	} else if replayed > 0 {
		c.log.Info("audit spool replayed into the table", zap.Int("events", replayed))
	}
}

// Close commits what is queued, stops the background work and releases the
// spool. Whatever is still spooled stays on disk for the next start.
func (c *Committer) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	close(c.stop)
	c.cancel()
	c.loops.Wait()
	if c.spool != nil {
		c.spool.close()
	}
}
