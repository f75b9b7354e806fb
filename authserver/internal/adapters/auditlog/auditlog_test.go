package auditlog

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/authserver/storage/postgres"
	"github.com/oauth2ref/pkg/zaplog"
)

// table is an audit table in a PostgreSQL schema of the test's own.
type table struct {
	dsn   string
	store *postgres.Store
}

// pgTable migrates a new schema on the test server (AUTHSERVER_POSTGRES_DSN
// or the loopback default), dropped when the test ends. Without a server the
// test is skipped, except under CI.
func pgTable(t *testing.T) *table {
	t.Helper()
	dsn := os.Getenv("AUTHSERVER_POSTGRES_DSN")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL not reachable: %v", err)
		}
		t.Skipf("PostgreSQL not reachable; set AUTHSERVER_POSTGRES_DSN: %v", err)
	}
	defer conn.Close(context.Background())
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "audit_" + hex.EncodeToString(b)
	_, err = conn.Exec(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, dsn); err == nil {
			_, _ = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			_ = c.Close(ctx)
		}
	})
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	tb := &table{dsn: u.String()}
	tb.store = openTable(t, tb.dsn)
	_, err = tb.store.Migrate(ctx)
	require.NoError(t, err)
	return tb
}

func openTable(t *testing.T, dsn string) *postgres.Store {
	s, err := postgres.Open(context.Background(), postgres.Config{DSN: dsn, MaxConns: 4}, time.Now)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

// counts returns the audit rows and their distinct ids.
func (tb *table) counts(t *testing.T) (rows, ids int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, tb.dsn)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT event_id) FROM audit_log`).Scan(&rows, &ids))
	return rows, ids
}

// pgStore is the Store the server wires up (authserver/storage.go).
type pgStore struct{ pg *postgres.Store }

func (p pgStore) AppendAudit(ctx context.Context, entries []Entry) error {
	recs := make([]postgres.AuditRecord, len(entries))
	for i, e := range entries {
		recs[i] = postgres.AuditRecord{ID: e.ID, Event: e.Event}
	}
	return p.pg.AppendAudit(ctx, recs)
}

func (p pgStore) Ping(ctx context.Context) error { return p.pg.Ping(ctx) }

// faulty wraps a store: it can hold writes at a gate, fail them, or commit
// them and report a failure anyway (a lost acknowledgement).
type faulty struct {
	Store
	gate    chan struct{} // nil: no gate
	fail    atomic.Bool
	lostAck atomic.Bool
	delay   time.Duration
	calls   atomic.Int64
	stored  atomic.Int64 // events committed through this wrapper
}

var errDown = fmt.Errorf("%w: store down", domain.ErrUnavailable)

func (f *faulty) AppendAudit(ctx context.Context, entries []Entry) error {
	f.calls.Add(1)
	if f.gate != nil {
		<-f.gate
	}
	if f.fail.Load() {
		return errDown
	}
	time.Sleep(f.delay)
	if err := f.Store.AppendAudit(ctx, entries); err != nil {
		return err
	}
	f.stored.Add(int64(len(entries)))
	if f.lostAck.Load() {
		return fmt.Errorf("%w: connection lost after commit", domain.ErrUnavailable)
	}
	return nil
}

func (f *faulty) Ping(ctx context.Context) error {
	if f.fail.Load() {
		return errDown
	}
	return f.Store.Ping(ctx)
}

// logs is a logger whose lines a test can read.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.buf.Write(p) }
func (l *logs) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.buf.String() }

func newLogger(t *testing.T) (*zap.Logger, *logs) {
	l := &logs{}
	log, err := zaplog.New(l, "info")
	require.NoError(t, err)
	return log, l
}

func newCommitter(t *testing.T, store Store, spoolDir string, log *zap.Logger) *Committer {
	t.Helper()
	c, err := NewCommitter(Config{Store: store, SpoolDir: spoolDir, Fallback: log, Log: log, RetryEvery: 50 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func event(i int) domain.AuditEvent {
	return domain.AuditEvent{Time: time.Now().UTC(), Type: domain.AuditTokenIssued, ClientID: "c" + strconv.Itoa(i),
		Outcome: domain.OutcomeSuccess, Detail: "client_credentials"}
}

// recordAll records n events at once and returns Record's errors.
func recordAll(c *Committer, n int) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = c.Record(context.Background(), event(i)) })
	}
	wg.Wait()
	return errs
}

// spooled returns the spool files in dir and their total size. A file
// removed between the listing and its stat (a replay just finished) is not
// counted.
func spooled(t *testing.T, dir string) (files int, size int64) {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, spoolPrefix+"*"+spoolSuffix))
	require.NoError(t, err)
	for _, p := range m {
		st, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		require.NoError(t, err)
		files++
		size += st.Size()
	}
	return files, size
}

func TestIDRoundTrips(t *testing.T) {
	id := NewID()
	assert.Equal(t, byte(0x40), id[6]&0xf0, "version 4")
	got, err := parseID(id.String())
	require.NoError(t, err)
	assert.Equal(t, id, got)
	assert.NotEqual(t, id, NewID())
	for _, bad := range []string{"", "not-a-uuid", strings.Repeat("z", 36), "0123456789abcdef0123456789abcdef0123"} {
		_, err := parseID(bad)
		assert.Error(t, err, bad)
	}
}

func TestRecordReturnsOnlyAfterTheCommit(t *testing.T) {
	tb := pgTable(t)
	store := &faulty{Store: pgStore{tb.store}, gate: make(chan struct{})}
	log, out := newLogger(t)
	c := newCommitter(t, store, t.TempDir(), log)

	const n = 50
	var returned atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			assert.NoError(t, c.Record(context.Background(), event(i)))
			returned.Add(1)
		})
	}
	time.Sleep(200 * time.Millisecond)
	assert.Zero(t, returned.Load(), "no Record returns while its batch is not committed")
	rows, _ := tb.counts(t)
	assert.Zero(t, rows)

	close(store.gate)
	wg.Wait()
	rows, ids := tb.counts(t)
	assert.Equal(t, n, rows, "every event is in the table once Record returned")
	assert.Equal(t, n, ids)
	assert.Less(t, store.calls.Load(), int64(10), "events that queue during a write go in the next batch together")
	assert.NotContains(t, out.String(), `"msg":"audit"`, "nothing went to the log")
}

func TestRecordIsBoundedByContext(t *testing.T) {
	tb := pgTable(t)
	store := &faulty{Store: pgStore{tb.store}, gate: make(chan struct{})}
	log, _ := newLogger(t)
	c := newCommitter(t, store, "", log)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, c.Record(ctx, event(1)), context.DeadlineExceeded)
	close(store.gate)
	require.Eventually(t, func() bool { rows, _ := tb.counts(t); return rows == 1 }, 5*time.Second, 20*time.Millisecond,
		"the event is still written")
}

func TestFailedWriteSpoolsAndWakesThenReplays(t *testing.T) {
	tb := pgTable(t)
	store := &faulty{Store: pgStore{tb.store}}
	store.fail.Store(true)
	dir := t.TempDir()
	log, out := newLogger(t)
	c := newCommitter(t, store, dir, log)

	for _, err := range recordAll(c, 20) {
		assert.NoError(t, err, "a spooled event is durable")
	}
	rows, _ := tb.counts(t)
	assert.Zero(t, rows)
	files, size := spooled(t, dir)
	assert.Equal(t, 1, files)
	assert.Positive(t, size)
	for _, err := range recordAll(c, 10) {
		assert.NoError(t, err)
	}
	assert.Equal(t, 1, strings.Count(out.String(), "audit table not written"), "one warning per outage")
	assert.NotContains(t, out.String(), `"msg":"audit"`, "nothing went to the log")

	store.fail.Store(false)
	require.Eventually(t, func() bool { rows, _ := tb.counts(t); return rows == 30 }, time.Minute, 20*time.Millisecond,
		"the spool is replayed once the store answers")
	require.Eventually(t, func() bool { _, size := spooled(t, dir); return size == 0 }, time.Minute, 20*time.Millisecond,
		"and emptied")
	// The outage ends when the committer says so; until then a new event
	// still goes to the spool (durable, but not what is tested next).
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "audit table written again") }, time.Minute, 20*time.Millisecond)

	for _, err := range recordAll(c, 5) {
		assert.NoError(t, err)
	}
	rows, ids := tb.counts(t)
	assert.Equal(t, 35, rows, "and writes go to the table again")
	assert.Equal(t, 35, ids)
	c.Close()
	files, _ = spooled(t, dir)
	assert.Zero(t, files, "an empty spool is removed at Close")
}

func TestReplayAfterALostAcknowledgementStoresOnce(t *testing.T) {
	tb := pgTable(t)
	store := &faulty{Store: pgStore{tb.store}}
	store.lostAck.Store(true) // committed, but the committer is told it failed
	dir := t.TempDir()
	log, _ := newLogger(t)
	c := newCommitter(t, store, dir, log)
	for _, err := range recordAll(c, 10) {
		assert.NoError(t, err)
	}
	require.Eventually(t, func() bool { return store.stored.Load() >= 20 }, 5*time.Second, 10*time.Millisecond,
		"written once, spooled, replayed (and told it failed again)")
	store.lostAck.Store(false)
	require.Eventually(t, func() bool { _, size := spooled(t, dir); return size == 0 }, 5*time.Second, 20*time.Millisecond)
	rows, ids := tb.counts(t)
	assert.Equal(t, 10, rows, "each event stored once however often it is written")
	assert.Equal(t, 10, ids)
}

// TestReplayKilledMidwayThenAgain spools events, lets a child process replay
// them slowly, kill -9s it half way, and replays again.
func TestReplayKilledMidwayThenAgain(t *testing.T) {
	if os.Getenv("AUDITLOG_REPLAY_CHILD") != "" {
		replayChild(t)
		return
	}
	tb := pgTable(t)
	dir := t.TempDir()
	const n = 3000

	// Spool n events, as a process does while the table is down.
	down := &faulty{Store: pgStore{tb.store}}
	down.fail.Store(true)
	log, _ := newLogger(t)
	c, err := NewCommitter(Config{Store: down, SpoolDir: dir, Fallback: log, Log: log, RetryEvery: time.Hour})
	require.NoError(t, err)
	for _, err := range recordAll(c, n) {
		require.NoError(t, err)
	}
	c.Close()
	left, err := filepath.Glob(filepath.Join(dir, spoolPrefix+"*"+spoolSuffix))
	require.NoError(t, err)
	require.Len(t, left, 1, "the spool stays for the next start")

	child := exec.Command(os.Args[0], "-test.run=^TestReplayKilledMidwayThenAgain$", "-test.v") //nolint:gosec // G702: the test binary itself, re-run as the child
	child.Env = append(os.Environ(), "AUDITLOG_REPLAY_CHILD="+dir, "AUDITLOG_REPLAY_DSN="+tb.dsn)
	var childOut bytes.Buffer
	child.Stdout, child.Stderr = &childOut, &childOut
	require.NoError(t, child.Start())
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	require.Eventually(t, func() bool { rows, _ := tb.counts(t); return rows > 0 }, 15*time.Second, 5*time.Millisecond,
		"the child starts replaying: %s", &childOut)
	require.NoError(t, child.Process.Kill())
	<-exited //nolint:errcheck // killed on purpose; only its exit is awaited
	rows, _ := tb.counts(t)
	require.Less(t, rows, n, "killed half way")
	require.FileExists(t, left[0], "the spool outlives the kill")

	again := newCommitter(t, pgStore{tb.store}, dir, log)
	require.Eventually(t, func() bool { files, _ := spooled(t, dir); return files == 1 }, time.Minute, 20*time.Millisecond,
		"the dead process's spool is replayed and removed; only the new one's own file is left")
	rows, ids := tb.counts(t)
	assert.Equal(t, n, rows, "every event once: none lost, none twice")
	assert.Equal(t, n, ids)
	again.Close()
}

// replayChild replays the spool in AUDITLOG_REPLAY_CHILD slowly, until it
// is killed.
func replayChild(t *testing.T) {
	s := openTable(t, os.Getenv("AUDITLOG_REPLAY_DSN"))
	log, _ := newLogger(t)
	slow := &faulty{Store: pgStore{s}, delay: 100 * time.Millisecond}
	c, err := NewCommitter(Config{Store: slow, SpoolDir: os.Getenv("AUDITLOG_REPLAY_CHILD"), Fallback: log, Log: log, MaxBatch: 100})
	require.NoError(t, err)
	defer c.Close()
	time.Sleep(30 * time.Second) // killed long before
}

func TestTornAndBadLinesAreSkipped(t *testing.T) {
	tb := pgTable(t)
	dir := t.TempDir()
	line := func(e Entry) string {
		return fmt.Sprintf(`{"id":%q,"time":"2026-01-01T00:00:00Z","event":"token.issued","client_id":"c","outcome":"success"}`+"\n", e.ID)
	}
	body := line(Entry{ID: NewID()}) + "not json\n" + line(Entry{ID: NewID()}) + `{"id":"` + NewID().String() + `","ti`
	require.NoError(t, os.WriteFile(filepath.Join(dir, spoolPrefix+"dead"+spoolSuffix), []byte(body), 0o600))
	log, out := newLogger(t)
	newCommitter(t, pgStore{tb.store}, dir, log)
	require.Eventually(t, func() bool { rows, _ := tb.counts(t); return rows == 2 }, 5*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		_, err := os.Stat(filepath.Join(dir, spoolPrefix+"dead"+spoolSuffix))
		return os.IsNotExist(err)
	},
		5*time.Second, 20*time.Millisecond)
	assert.Contains(t, out.String(), "audit spool lines that cannot be read were skipped")
}

// An event the table refuses (PostgreSQL takes no NUL in text) goes to the
// log alone: it neither fails its batch nor stops the spool from draining.
func TestAnEventTheTableRefusesIsLoggedAlone(t *testing.T) {
	tb := pgTable(t)
	dir := t.TempDir()
	log, out := newLogger(t)
	c := newCommitter(t, pgStore{tb.store}, dir, log)
	poison := event(0)
	poison.ClientID = "bad\x00id"
	errs := make([]error, 11)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() { errs[i] = c.Record(context.Background(), event(i)) })
	}
	wg.Go(func() { errs[10] = c.Record(context.Background(), poison) })
	wg.Wait()
	for _, err := range errs[:10] {
		assert.NoError(t, err)
	}
	rows, _ := tb.counts(t)
	assert.Equal(t, 10, rows, "the rest of its batch is stored")
	assert.Equal(t, 1, strings.Count(out.String(), `"msg":"audit"`), "the refused event is logged")
	assert.Contains(t, out.String(), "audit table refused an event")
	assert.NotContains(t, out.String(), "audit table not written", "a refusal is not an outage")

	// The same from a spool left behind.
	good := func() string {
		return fmt.Sprintf(`{"id":%q,"time":"2026-01-01T00:00:00Z","event":"token.issued","client_id":"c","outcome":"success"}`+"\n", NewID())
	}
	bad := fmt.Sprintf(`{"id":%q,"time":"2026-01-01T00:00:00Z","event":"token.issued","client_id":"a\u0000b","outcome":"success"}`+"\n", NewID())
	left := filepath.Join(dir, spoolPrefix+"dead"+spoolSuffix)
	require.NoError(t, os.WriteFile(left, []byte(good()+bad+good()), 0o600))
	newCommitter(t, pgStore{tb.store}, dir, log)
	require.Eventually(t, func() bool { rows, _ := tb.counts(t); return rows == 12 }, 5*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { _, err := os.Stat(left); return os.IsNotExist(err) }, 5*time.Second, 20*time.Millisecond)
	assert.Equal(t, 2, strings.Count(out.String(), `"msg":"audit"`))
}

func TestALiveProcessSpoolIsNotTaken(t *testing.T) {
	tb := pgTable(t)
	dir := t.TempDir()
	down := &faulty{Store: pgStore{tb.store}}
	down.fail.Store(true)
	log, _ := newLogger(t)
	a := newCommitter(t, down, dir, log)
	for _, err := range recordAll(a, 5) {
		require.NoError(t, err)
	}
	b := newCommitter(t, pgStore{tb.store}, dir, log)
	time.Sleep(200 * time.Millisecond)
	rows, _ := tb.counts(t)
	assert.Zero(t, rows, "a running process's spool is its own")
	b.Close()

	a.Close()
	newCommitter(t, pgStore{tb.store}, dir, log)
	require.Eventually(t, func() bool { rows, _ := tb.counts(t); return rows == 5 }, 5*time.Second, 20*time.Millisecond,
		"once it has gone, the next start replays it")
}

func TestWithoutStoreOrSpoolEventsGoToTheLog(t *testing.T) {
	down := &faulty{Store: pgStore{}}
	down.fail.Store(true)

	t.Run("no spool directory", func(t *testing.T) {
		log, out := newLogger(t)
		c := newCommitter(t, down, "", log)
		for _, err := range recordAll(c, 3) {
			assert.ErrorIs(t, err, errNotDurable, "the request still succeeds; the event is only logged")
		}
		assert.Equal(t, 3, strings.Count(out.String(), `"msg":"audit"`))
		assert.Contains(t, out.String(), `"event_id":"`)
		assert.Equal(t, 1, strings.Count(out.String(), "audit table not written"))
	})
	t.Run("spool fails too", func(t *testing.T) {
		log, out := newLogger(t)
		c := newCommitter(t, down, t.TempDir(), log)
		require.NoError(t, c.spool.own.f.Close()) // every write to it fails now
		for _, err := range recordAll(c, 3) {
			assert.ErrorIs(t, err, errNotDurable)
		}
		assert.Equal(t, 3, strings.Count(out.String(), `"msg":"audit"`))
		assert.Equal(t, 1, strings.Count(out.String(), "audit spool not written"))
	})
	t.Run("after Close", func(t *testing.T) {
		log, out := newLogger(t)
		c := newCommitter(t, down, "", log)
		c.Close()
		assert.ErrorIs(t, c.Record(context.Background(), event(1)), errNotDurable)
		assert.Equal(t, 1, strings.Count(out.String(), `"msg":"audit"`))
	})
}

func TestLogWritesOneLinePerEvent(t *testing.T) {
	log, out := newLogger(t)
	require.NoError(t, NewLog(log).Record(context.Background(), event(7)))
	assert.Equal(t, 1, strings.Count(out.String(), `"msg":"audit"`))
	assert.Contains(t, out.String(), `"client_id":"c7"`)
}
