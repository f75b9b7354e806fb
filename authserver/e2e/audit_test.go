package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/faulttest"
)

// The audit trail in PostgreSQL holds every token the server answered with,
// whatever happens to the server or the database: each event is committed,
// or spooled to the data directory, before the response is sent.

// issuer sends client_credentials requests from several goroutines and
// counts the tokens acknowledged: a 200 whose body was read in full.
type issuer struct {
	url   string
	http  *http.Client
	acked atomic.Int64
	stop  atomic.Bool
	wg    sync.WaitGroup
}

func newIssuer(auth *proc, workers int) *issuer {
	is := &issuer{
		url: auth.url("/oauth/token"),
		http: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			MaxIdleConnsPerHost: workers, DisableCompression: true,
		}},
	}
	for range workers {
		is.wg.Go(func() {
			for !is.stop.Load() {
				if !is.issue() {
					if is.stop.Load() {
						return
					}
					time.Sleep(10 * time.Millisecond) // a 503 or a refused connection
				}
			}
		})
	}
	return is
}

// issue asks for one token and reports whether it was acknowledged.
func (is *issuer) issue() bool {
	req, _ := http.NewRequest(http.MethodPost, is.url, strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(serviceClient, serviceSecret)
	resp, err := is.http.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 || json.Unmarshal(raw, &body) != nil || body.AccessToken == "" {
		return false
	}
	is.acked.Add(1)
	return true
}

// halt stops the workers and returns how many tokens were acknowledged.
func (is *issuer) halt() int {
	is.stop.Store(true)
	is.wg.Wait()
	is.http.CloseIdleConnections()
	return int(is.acked.Load())
}

// issuedRows counts the token.issued audit rows of client service, and
// their distinct ids.
func issuedRows(t *testing.T, dsn string) (rows, ids int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT event_id) FROM audit_log
		WHERE event_type = 'token.issued' AND client_id = $1`, serviceClient).Scan(&rows, &ids))
	return rows, ids
}

// spoolBytes is the size of every audit spool file in dir.
func spoolBytes(t *testing.T, dir string) int64 {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "audit-spool-*.jsonl"))
	require.NoError(t, err)
	var n int64
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			n += st.Size()
		}
	}
	return n
}

// TestKillDuringLoadLosesNoAuditEvent kill -9s a loaded authserver three
// times: every token a client received has its audit row, and no event is
// stored twice.
func TestKillDuringLoadLosesNoAuditEvent(t *testing.T) {
	d := needDurable(t)
	ln := listen(t)
	env := d.env(t, ln.Addr().String())
	env["AUTHSERVER_DATA_DIR"] = t.TempDir()

	acked := 0
	for round := range 3 {
		auth := startOn(t, "authserver", ln, env)
		is := newIssuer(auth, 16)
		require.Eventually(t, func() bool { return is.acked.Load() > 200 }, time.Minute, 10*time.Millisecond,
			"round %d: load is flowing", round)
		time.Sleep(300 * time.Millisecond)
		auth.kill() // mid-load: requests are in flight and events being written
		acked += is.halt()
	}
	require.Positive(t, acked)

	startOn(t, "authserver", ln, env) // replays a spool, should a kill have left one
	var rows, ids int
	assert.Eventually(t, func() bool { rows, ids = issuedRows(t, d.pgDSN); return rows >= acked }, time.Minute, 50*time.Millisecond,
		"every acknowledged token has its audit row")
	t.Logf("%d tokens acknowledged, %d token.issued rows", acked, rows)
	assert.GreaterOrEqual(t, rows, acked, "audit events lost by kill -9")
	assert.Equal(t, rows, ids, "no event stored twice")
}

// TestAuditSurvivesPostgresOutage cuts PostgreSQL away while tokens are
// issued: the events wait in the spool and reach the table when it is back;
// and a spool left by a kill -9 during an outage is replayed at the next
// start.
func TestAuditSurvivesPostgresOutage(t *testing.T) {
	d := needDurable(t)
	pg := faulttest.NewProxy(t, d.pgAddr)
	ln := listen(t)
	env := d.env(t, ln.Addr().String())
	u, _ := url.Parse(d.pgDSN)
	u.Host = pg.Addr()
	env["AUTHSERVER_POSTGRES_DSN"] = u.String()
	dataDir := t.TempDir()
	env["AUTHSERVER_DATA_DIR"] = dataDir
	// The client cache keeps client_credentials working with PostgreSQL
	// away; long enough here that a slow machine does not outlast it.
	env["AUTHSERVER_STORAGE_CLIENT_CACHE_TTL"] = "1m"
	// Signing keys in PostgreSQL go stale after two refresh intervals, and
	// then signing stops (503) until they can be reloaded; the test
	// config's 1 s would leave a loaded machine 2 s to issue its tokens.
	env["AUTHSERVER_SIGNING_REFRESH_INTERVAL"] = "1m"
	auth := startOn(t, "authserver", ln, env)

	// outage issues tokens for a while with PostgreSQL cut away, and
	// returns how many were acknowledged.
	outage := func() int {
		is := newIssuer(auth, 8)
		require.Eventually(t, func() bool { return is.acked.Load() > 20 }, time.Minute, 10*time.Millisecond)
		pg.Cut()
		before := is.acked.Load()
		require.Eventually(t, func() bool { return is.acked.Load() > before+100 }, time.Minute, 10*time.Millisecond,
			"tokens are still issued with PostgreSQL down")
		require.Positive(t, spoolBytes(t, dataDir), "their audit events are spooled")
		return is.halt()
	}

	acked := outage()
	pg.Restore()
	require.Eventually(t, func() bool { rows, _ := issuedRows(t, d.pgDSN); return rows >= acked }, time.Minute, 100*time.Millisecond,
		"the spooled events reach the table once PostgreSQL is back")
	require.Eventually(t, func() bool { return spoolBytes(t, dataDir) == 0 }, time.Minute, 50*time.Millisecond,
		"and the spool is emptied")
	assert.NotContains(t, auth.logs.String(), `"msg":"audit"`, "no event had to fall back to the JSON log")
	// One warning for the outage, not one per event. On a loaded machine a
	// write that outlasted its timeout before the cut may have warned
	// already (then this outage's warning is held back for a minute, or
	// comes as a second one).
	if warnings := strings.Count(auth.logs.String(), "audit table not written"); warnings < 1 || warnings > 2 {
		t.Errorf("%d outage warnings, want one (two if load made a write time out earlier); the audit lines:\n%s",
			warnings, auditLines(auth.logs.String()))
	}

	// Down again, and the server is killed before it can replay.
	acked += outage()
	auth.kill()
	require.Positive(t, spoolBytes(t, dataDir))
	pg.Restore()
	startOn(t, "authserver", ln, env)
	require.Eventually(t, func() bool { rows, _ := issuedRows(t, d.pgDSN); return rows >= acked }, time.Minute, 100*time.Millisecond,
		"the next start replays the spool the killed server left")
	require.Eventually(t, func() bool { return spoolBytes(t, dataDir) == 0 }, time.Minute, 50*time.Millisecond)
	rows, ids := issuedRows(t, d.pgDSN)
	t.Logf("%d tokens acknowledged, %d token.issued rows", acked, rows)
	assert.Equal(t, rows, ids, "no event stored twice")
}

// auditLines returns the audit committer's log lines, to tell what it did.
func auditLines(logs string) string {
	var out []string
	for line := range strings.Lines(logs) {
		if strings.Contains(line, `"logger":"audit"`) && !strings.Contains(line, `"event"`) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}
