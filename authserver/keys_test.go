package authserver_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver"
	"github.com/oauth2ref/authserver/storage"
)

// pgSchemaDSN returns a URL DSN for an empty PostgreSQL schema of the test's
// own, dropped when it ends. It skips the test when PostgreSQL is not
// reachable, unless CI is set, where that fails it.
func pgSchemaDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("AUTHSERVER_POSTGRES_DSN")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	u, err := url.Parse(dsn)
	if err != nil || !strings.HasPrefix(u.Scheme, "postgres") {
		t.Skip("AUTHSERVER_POSTGRES_DSN is not a URL; this test proxies its host")
	}
	admin := func(sql string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer func() { _ = conn.Close(ctx) }()
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := admin("SELECT 1"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL not reachable: %v", err)
		}
		t.Skip("PostgreSQL not reachable; set AUTHSERVER_POSTGRES_DSN")
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "as_" + hex.EncodeToString(b)
	require.NoError(t, admin("CREATE SCHEMA "+schema))
	t.Cleanup(func() {
		if err := admin("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// cutProxy is a TCP proxy the test can cut (every connection dropped, new
// ones closed at once) and restore: a database outage, as a server sees it.
type cutProxy struct {
	addr   string
	target string
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cutProxy{addr: ln.Addr().String(), target: target}
	t.Cleanup(func() { _ = ln.Close(); p.down() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.pipe(c)
		}
	}()
	return p
}

func (p *cutProxy) pipe(c net.Conn) {
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		_ = c.Close()
		return
	}
	p.mu.Unlock()
	up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, c, up)
	p.mu.Unlock()
	go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
	_, _ = io.Copy(c, up)
	_ = c.Close()
}

func (p *cutProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

func (p *cutProxy) up() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// fakeClock starts at the real time and moves only when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func keysOnPostgres(tb testing.TB, dsn string) authserver.Option {
	return placed(tb, storage.Config{
		Default:        storage.Memory,
		Groups:         map[storage.Group]storage.Backend{storage.SigningKeys: storage.Postgres},
		Postgres:       storage.PostgresConfig{DSN: dsn, MaxConns: 4, QueryTimeout: time.Second, Migrate: true},
		ConnectTimeout: 5 * time.Second,
	})
}

// A replica whose key store is down meets a token signed with a key it has
// not loaded yet: it cannot tell whether the token is good, so it answers
// 503 temporarily_unavailable with Retry-After, not {"active":false}; and
// once its keys are older than its staleness bound it stops signing.
func TestKeyStoreOutageAtTheEdge(t *testing.T) {
	ctx := context.Background()
	dsn := pgSchemaDSN(t)
	u, _ := url.Parse(dsn)
	proxy := newCutProxy(t, u.Host)
	u.Host = proxy.addr
	proxied := u.String()
	clock := &fakeClock{t: time.Now()}
	const refresh = time.Hour // no periodic reload during the test

	a := start(t, keysOnPostgres(t, proxied), authserver.WithKeyRefresh(refresh), authserver.WithClock(clock.Now))
	// `authserver keys rotate`, then a replica that loaded the new key
	// issues a token with it.
	kid, err := authserver.RotateKeys(ctx, authserver.WithIssuer(a.URL), keysOnPostgres(t, dsn), authserver.WithClock(clock.Now))
	require.NoError(t, err)
	b := start(t, keysOnPostgres(t, dsn), authserver.WithIssuer(a.URL), authserver.WithClock(clock.Now))
	tok := b.post(t, "/oauth/token", url.Values{"grant_type": {"client_credentials"}}, "service", serviceSecret)
	require.Equal(t, 200, tok.status, tok.raw)
	access := tok.body["access_token"].(string)
	header, _ := base64.RawURLEncoding.DecodeString(strings.Split(access, ".")[0])
	require.Contains(t, string(header), kid)

	proxy.down()
	clock.Advance(2 * time.Second) // past the reload rate limit
	for _, try := range []string{"reload fails", "rate-limited, outage known"} {
		intro := a.post(t, "/oauth/introspect", url.Values{"token": {access}}, "resourceserver", "resourceserver-secret")
		assert.Equal(t, 503, intro.status, "%s: %s", try, intro.raw)
		assert.Equal(t, "temporarily_unavailable", intro.body["error"], try)
		assert.Equal(t, "1", intro.header.Get("Retry-After"), try)
	}
	rev := a.post(t, "/oauth/revoke", url.Values{"token": {access}}, "service", serviceSecret)
	assert.Equal(t, 503, rev.status, "revocation cannot tell either: %s", rev.raw)

	// Signing: fine within the staleness bound (2 × the refresh interval),
	// refused past it.
	ok := a.post(t, "/oauth/token", url.Values{"grant_type": {"client_credentials"}}, "service", serviceSecret)
	assert.Equal(t, 200, ok.status, ok.raw)
	clock.Advance(2*refresh + time.Second)
	refused := a.post(t, "/oauth/token", url.Values{"grant_type": {"client_credentials"}}, "service", serviceSecret)
	assert.Equal(t, 503, refused.status, refused.raw)
	assert.Equal(t, "temporarily_unavailable", refused.body["error"])
	assert.Equal(t, "1", refused.header.Get("Retry-After"))

	// Back up: the replica recovers by itself, on the next request.
	proxy.up()
	clock.Advance(2 * time.Second)
	again := a.post(t, "/oauth/token", url.Values{"grant_type": {"client_credentials"}}, "service", serviceSecret)
	require.Equal(t, 200, again.status, again.raw)
	header, _ = base64.RawURLEncoding.DecodeString(strings.Split(again.body["access_token"].(string), ".")[0])
	assert.Contains(t, string(header), kid, "signs with the new key")
	intro := a.post(t, "/oauth/introspect", url.Values{"token": {again.body["access_token"].(string)}}, "resourceserver", "resourceserver-secret")
	assert.Equal(t, true, intro.body["active"], intro.raw)
}
