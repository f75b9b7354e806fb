package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/authservertest"
)

// What the abuse tests (abuse_test.go) share: the backends they run on,
// floods of requests, and the measures they take of a running process
// (its memory, its metrics, its audit trail).

// backend is where an authserver under attack keeps its data: memory,
// or PostgreSQL with the expiring groups (codes, sessions, login and
// request counters) in Redis.
type backend struct {
	d *durable // nil: memory
}

// eachBackend runs fn on memory storage, then on PostgreSQL + Redis
// (skipped without them, failed under CI=true).
func eachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Run("memory", func(t *testing.T) { fn(t, backend{}) })
	t.Run("postgres+redis", func(t *testing.T) { fn(t, backend{d: needDurable(t)}) })
}

// env is the authserver environment for a server at addr on b, plus extra.
func (b backend) env(t *testing.T, addr string, extra map[string]string) map[string]string {
	var env map[string]string
	if b.d == nil {
		env = authEnv(t, addr, t.TempDir())
	} else {
		env = b.d.env(t, addr)
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// startAuth starts an authserver on b with extra settings.
func (b backend) startAuth(t *testing.T, extra map[string]string) *proc {
	t.Helper()
	ln := listen(t)
	return startOn(t, "authserver", ln, b.env(t, ln.Addr().String(), extra))
}

// trustLoopback makes the authserver believe X-Forwarded-For from the
// test, so that one test can send from as many addresses as it likes.
var trustLoopback = map[string]string{"AUTHSERVER_HTTP_TRUSTED_PROXIES": "127.0.0.1,::1"}

// audited counts the audit events of the given type and detail (any
// detail if empty) that auth has recorded: JSON log lines with memory
// storage, rows of the audit table with PostgreSQL.
func (b backend) audited(t *testing.T, auth *proc, event, detail string) int {
	t.Helper()
	if b.d == nil {
		n := 0
		sc := bufio.NewScanner(strings.NewReader(auth.logs.String()))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if !strings.Contains(string(line), `"msg":"audit"`) {
				continue
			}
			var e struct{ Event, Detail string }
			if json.Unmarshal(line, &e) == nil && e.Event == event && (detail == "" || e.Detail == detail) {
				n++
			}
		}
		return n
	}
	var n int
	b.query(t, func(ctx context.Context, c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE event_type = $1 AND ($2 = '' OR detail = $2)`, event, detail).Scan(&n)
	})
	return n
}

// waitAudited waits until auth has recorded at least n events of the type
// (the JSON log is flushed every second), and returns the count by detail.
func (b backend) waitAudited(t *testing.T, auth *proc, event string, n int, details ...string) map[string]int {
	t.Helper()
	require.Eventually(t, func() bool { return b.audited(t, auth, event, "") >= n }, time.Minute, 50*time.Millisecond,
		"%d %s events recorded", n, event)
	got := map[string]int{}
	for _, d := range details {
		got[d] = b.audited(t, auth, event, d)
	}
	return got
}

// query runs fn on a connection to b's database.
func (b backend) query(t *testing.T, fn func(ctx context.Context, c *pgx.Conn) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgx.Connect(ctx, b.d.pgDSN)
	require.NoError(t, err)
	defer func() { _ = c.Close(context.Background()) }()
	require.NoError(t, fn(ctx, c))
}

// rows counts the rows of a table in b's database.
func (b backend) rows(t *testing.T, table string) int {
	t.Helper()
	var n int
	b.query(t, func(ctx context.Context, c *pgx.Conn) error {
		return c.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n)
	})
	return n
}

// redisKeys counts the Redis keys under b's prefix, or under b's prefix
// followed by sub.
func (b backend) redisKeys(t *testing.T, sub string) int {
	t.Helper()
	c := goredis.NewClient(mustRedisOpts(t, b.d.redisURL))
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n := 0
	iter := c.Scan(ctx, 0, b.d.prefix+sub+"*", 1000).Iterator()
	for iter.Next(ctx) {
		n++
	}
	require.NoError(t, iter.Err())
	return n
}

// memory is what a process holds, measured from outside: its resident
// set (VmRSS), and from its /metrics the Go heap in use and the heap that
// was live at the last collection (half the heap goal that collection
// set, with GOGC at its default of 100), which leaves out the garbage a
// flood leaves behind and keeps what it made the process hold on to.
type memory struct {
	rss, heapInuse, heapLive int64
}

func (m memory) String() string {
	return fmt.Sprintf("RSS %.1f MB, heap in use %.1f MB, live heap %.1f MB", mb(m.rss), mb(m.heapInuse), mb(m.heapLive))
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }

// memoryOf measures p.
func memoryOf(t *testing.T, p *proc) memory {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the flood bounds need /proc to read a process's memory from: %v", err)
		}
		t.Skipf("no /proc to read a process's memory from: %v", err)
	}
	var m memory
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			require.NoError(t, err, line)
			m.rss = kb << 10
		}
	}
	require.Positive(t, m.rss, "VmRSS of %s", p.name)
	metrics := scrape(t, p)
	m.heapInuse = int64(metricValue(t, metrics, "go_memstats_heap_inuse_bytes"))
	m.heapLive = int64(metricValue(t, metrics, "go_memstats_next_gc_bytes")) / 2
	return m
}

// collect makes the authserver collect its garbage, so that what is
// measured next is what it holds: its start leaves a large heap goal
// behind (the decoy password hash takes 19 MiB), and a measure taken
// before the next collection would count memory it has long let go.
// There is no endpoint to ask for a collection, so it sends about 50 MB
// of form bodies that the token endpoint reads and refuses (no client
// credentials) before anything else.
func collect(t *testing.T, auth *proc) {
	t.Helper()
	c := floodClient(4)
	body := url.Values{"grant_type": {"client_credentials"}, "pad": {strings.Repeat("p", 60<<10)}}.Encode()
	require.NoError(t, flood(400, 4, func(int) error {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, auth.url("/oauth/token"), strings.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		a, err := do(c, req)
		if err == nil && a.status != 401 {
			err = fmt.Errorf("%d %s", a.status, a.body)
		}
		return err
	}))
}

// growth is how much each measure grew from m to later.
func (m memory) growth(later memory) memory {
	return memory{rss: later.rss - m.rss, heapInuse: later.heapInuse - m.heapInuse, heapLive: later.heapLive - m.heapLive}
}

// scrape is p's /metrics page.
func scrape(t *testing.T, p *proc) string {
	t.Helper()
	r := get(t, p.url("/metrics"))
	require.Equal(t, 200, r.status, "%s /metrics", p.name)
	return r.raw
}

// metricValue is the value of the sample of name (without labels) on a
// metrics page.
func metricValue(t *testing.T, page, name string) float64 {
	t.Helper()
	for _, line := range strings.Split(page, "\n") {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			require.NoError(t, err, line)
			return v
		}
	}
	t.Fatalf("no %s on the metrics page", name)
	return 0
}

// series counts the samples of name on a metrics page, one per label set.
func series(page, name string) int {
	n := 0
	for _, line := range strings.Split(page, "\n") {
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			n++
		}
	}
	return n
}

// floodClient keeps up to conns connections to each server open, so a
// flood reuses them rather than opening a socket for every request. Its
// timeout only turns a hang into a failure.
func floodClient(conns int) *http.Client {
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		MaxIdleConnsPerHost: conns, DisableCompression: true,
	}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// flood calls fn(i) for every i in [0, n) from workers goroutines, and
// returns the first error any call returned.
func flood(n, workers int, fn func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan int)
	)
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

// tally counts answers by a key (a status, a description), safely from
// several goroutines.
type tally struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *tally) add(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[key]++
}

func (c *tally) get(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key]
}

func (c *tally) total() (n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, v := range c.m {
		n += v
	}
	return n
}

func (c *tally) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprint(c.m)
}

// answer is a response read in full, for calls made off the test's
// goroutine (where require cannot stop the test).
type answer struct {
	status int
	header http.Header
	body   string
	url    string // where the request ended, after any redirects followed
	took   time.Duration
}

// do sends req with c and reads the whole answer.
func do(c *http.Client, req *http.Request) (answer, error) {
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return answer{took: time.Since(start)}, err
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(raw), url: resp.Request.URL.String(), took: time.Since(start)}, err
}

// formRequest is a POST of form to u, from addr (X-Forwarded-For, believed
// by an authserver that trusts the test) when addr is not empty, with the
// client's Basic credentials when user is not empty.
func formRequest(ctx context.Context, u string, form url.Values, addr, user, pass string) *http.Request {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		panic(err) // a URL the test made itself
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if addr != "" {
		req.Header.Set("X-Forwarded-For", addr)
	}
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	return req
}

// passwordGrant asks auth for a token for username and password as the
// refresher client, whose secret needs no slow hash: what such a request
// costs is the user's password alone.
func passwordGrant(ctx context.Context, c *http.Client, auth *proc, addr, username, password string) (answer, error) {
	form := url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}}
	return do(c, formRequest(ctx, auth.url("/oauth/token"), form, addr, refresherClient, refresherSecret))
}

var (
	csrfField   = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	hiddenField = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)
)

// pageForm is the hidden fields of the first form on a page (its CSRF
// token among them), unescaped.
func pageForm(body string) (url.Values, error) {
	if end := strings.Index(body, "</form>"); end >= 0 {
		body = body[:end]
	}
	if !csrfField.MatchString(body) {
		return nil, errors.New("no CSRF token on the page")
	}
	f := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(body, -1) {
		if !f.Has(m[1]) {
			f.Set(m[1], html.UnescapeString(m[2]))
		}
	}
	return f, nil
}

// pageBrowser is a browser of its own for the authserver's pages, safe to
// use off the test's goroutine, sending from addr when it is not empty.
type pageBrowser struct {
	c    *http.Client
	base string
	addr string
}

func newPageBrowser(auth *proc, addr string) *pageBrowser {
	jar, _ := cookiejar.New(nil)
	c := floodClient(2)
	c.Jar = jar
	return &pageBrowser{c: c, base: "http://" + auth.addr, addr: addr}
}

func (b *pageBrowser) get(ctx context.Context, path string) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.base+path, nil)
	if err != nil {
		return answer{}, err
	}
	if b.addr != "" {
		req.Header.Set("X-Forwarded-For", b.addr)
	}
	return do(b.c, req)
}

func (b *pageBrowser) post(ctx context.Context, path string, form url.Values) (answer, error) {
	return do(b.c, formRequest(ctx, b.base+path, form, b.addr, "", ""))
}

// login fills in the login page (fetched for its CSRF token) and submits
// it: 303 signed in, 401 wrong, 429 throttled (with Retry-After).
func (b *pageBrowser) login(ctx context.Context, username, password string) (answer, error) {
	page, err := b.get(ctx, "/oauth/login")
	if err != nil {
		return page, err
	}
	form, err := pageForm(page.body)
	if err != nil {
		return page, fmt.Errorf("login page %d: %w", page.status, err)
	}
	form.Set("username", username)
	form.Set("password", password)
	return b.post(ctx, "/oauth/login", form)
}

// formOf fetches a page of the authserver and returns its form's hidden
// fields, for the test's goroutine.
func (b *pageBrowser) formOf(t *testing.T, path string) url.Values {
	t.Helper()
	page, err := b.get(t.Context(), path)
	require.NoError(t, err)
	require.Equal(t, 200, page.status, "%s: %s", path, page.body)
	form, err := pageForm(page.body)
	require.NoError(t, err, path)
	return form
}

// signIn logs b in as username, for the test's goroutine.
func (b *pageBrowser) signIn(t *testing.T, username, password string) {
	t.Helper()
	a, err := b.login(t.Context(), username, password)
	require.NoError(t, err)
	require.Equal(t, 303, a.status, "signed in as %s: %s", username, a.body)
}

// consent signs b in as alice if it is not, and gives the demo browser
// client its consent, so that its authorization requests get codes at
// once.
func (b *pageBrowser) consent(t *testing.T) {
	t.Helper()
	a, err := b.get(t.Context(), authservertest.AuthorizePath(nil))
	require.NoError(t, err)
	if a.status == 302 && strings.Contains(a.header.Get("Location"), "/oauth/login") {
		b.signIn(t, "alice", "alice-password")
		a, err = b.get(t.Context(), authservertest.AuthorizePath(nil))
		require.NoError(t, err)
	}
	if a.status == 302 {
		return // consent given before
	}
	require.Equal(t, 200, a.status, a.body)
	form := authservertest.ConsentForm(t, authservertest.Page{Body: a.body}, "allow")
	a, err = b.post(t.Context(), "/oauth/authorize", form)
	require.NoError(t, err)
	require.Equal(t, 303, a.status, a.body)
}

// code asks for an authorization code for the demo browser client, with
// consent given.
func (b *pageBrowser) code(t *testing.T) string {
	t.Helper()
	a, err := b.get(t.Context(), authservertest.AuthorizePath(nil))
	require.NoError(t, err)
	require.Equal(t, 302, a.status, "a code at once: %s", a.body)
	u, err := url.Parse(a.header.Get("Location"))
	require.NoError(t, err)
	code := u.Query().Get("code")
	require.NotEmpty(t, code, "the redirect carries a code: %s", u)
	return code
}

// redeem exchanges a code of the demo browser client, as client id.
func redeem(t *testing.T, auth *proc, code, id, secret string) response {
	t.Helper()
	return postForm(t, auth.url("/oauth/token"), url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {authservertest.Callback}, "code_verifier": {authservertest.PKCEVerifier}}, id, secret)
}

// logLines returns the lines of p's log after the first skip bytes.
func logLines(p *proc, skip int) []string {
	s := p.logs.String()
	if skip > len(s) {
		skip = len(s)
	}
	return strings.Split(strings.TrimSpace(s[skip:]), "\n")
}

// oauthError is the error code and description of an RFC 6749 §5.2
// answer.
func oauthError(body string) (code, desc string) {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal([]byte(body), &e)
	return e.Error, e.Description
}

// browserSystem is the three services set up for the webapp's browser
// flow on loopback addresses: a client registered for the webapp's own
// callback, the webapp pointed at the authserver's pages.
type browserSystem struct {
	auth, rs, web *proc
}

// startBrowserSystem starts it, with the webapp's sessions in Redis when
// d is not nil, and extra webapp settings.
func startBrowserSystem(t *testing.T, d *durable, webExtra map[string]string) *browserSystem {
	t.Helper()
	webLn, authLn := listen(t), listen(t)
	webURL := "http://" + webLn.Addr().String()
	fixture := filepath.Join(t.TempDir(), "webapp-client.yaml")
	require.NoError(t, os.WriteFile(fixture, []byte(`clients:
  - id: webapp-abuse
    name: Webapp under attack
    type: confidential
    secret: webapp-abuse-secret
    grant_types: [authorization_code, refresh_token]
    redirect_uris: ["`+webURL+`/callback"]
    post_logout_redirect_uris: ["`+webURL+`/"]
    scopes: [openid, profile, current_time, epoch_time]
    default_scopes: [current_time, epoch_time]
`), 0o600))
	env := authEnv(t, authLn.Addr().String(), t.TempDir())
	env["AUTHSERVER_TOKENS_MAX_ACCESS_TTL"] = "1h"
	env["AUTHSERVER_FIXTURES"] += "," + fixture
	s := &browserSystem{auth: startOn(t, "authserver", authLn, env)}
	s.rs = startRS(t, s.auth)
	web := webEnv(s.auth, s.rs)
	for k, v := range map[string]string{
		"WEBAPP_BROWSER_CLIENT_ID":     "webapp-abuse",
		"WEBAPP_BROWSER_CLIENT_SECRET": "webapp-abuse-secret",
		"WEBAPP_BROWSER_AUTHORIZE_URL": s.auth.url("/oauth/authorize"),
		"WEBAPP_BROWSER_REVOKE_URL":    s.auth.url("/oauth/revoke"),
		"WEBAPP_BROWSER_ISSUER":        "http://" + s.auth.addr,
		"WEBAPP_BROWSER_REDIRECT_URL":  webURL + "/callback",
		// OpenID Connect: who signed in, and signing out there too.
		"WEBAPP_BROWSER_JWKS_URL":                 s.auth.url("/oauth/jwks.json"),
		"WEBAPP_BROWSER_USERINFO_URL":             s.auth.url("/oauth/userinfo"),
		"WEBAPP_BROWSER_END_SESSION_URL":          s.auth.url("/oauth/end_session"),
		"WEBAPP_BROWSER_POST_LOGOUT_REDIRECT_URL": webURL + "/",
	} {
		web[k] = v
	}
	if d != nil {
		web["WEBAPP_REDIS_URL"] = d.redisURL
		web["WEBAPP_REDIS_KEY_PREFIX"] = d.prefix + "web:"
		// Longer than a refresh may take (the authserver timeout).
		web["WEBAPP_REDIS_LOCK_LEASE"] = "1m"
	}
	for k, v := range webExtra {
		web[k] = v
	}
	s.web = startOn(t, "webapp", webLn, web)
	return s
}

// webBrowser is one person's browser on the webapp: cookies kept for both
// sites, redirects followed.
type webBrowser struct {
	s *browserSystem
	c *http.Client
}

func (s *browserSystem) browser() *webBrowser {
	jar, _ := cookiejar.New(nil)
	return &webBrowser{s: s, c: &http.Client{Jar: jar, Timeout: time.Minute}}
}

func (b *webBrowser) get(t *testing.T, u string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	require.NoError(t, err)
	a, err := do(b.c, req)
	require.NoError(t, err)
	return a
}

func (b *webBrowser) post(t *testing.T, u string, form url.Values) answer {
	t.Helper()
	a, err := do(b.c, formRequest(t.Context(), u, form, "", "", ""))
	require.NoError(t, err)
	return a
}

// startSignIn starts signing in on the webapp, and returns the page the
// browser lands on: the authserver's login page, or wherever an
// authserver session leads.
func (b *webBrowser) startSignIn(t *testing.T) answer {
	t.Helper()
	return b.get(t, b.s.web.url("/login"))
}

// finishSignIn goes on from the page a sign-in has reached: the login
// form filled in as username, consent given if asked. It returns the
// page it ends on: the webapp's home page, or its refusal.
func (b *webBrowser) finishSignIn(t *testing.T, at answer, username, password string) answer {
	t.Helper()
	if strings.HasPrefix(at.url, b.s.auth.url("/oauth/login")) {
		form, err := pageForm(at.body)
		require.NoError(t, err, at.body)
		form.Set("username", username)
		form.Set("password", password)
		at = b.post(t, b.s.auth.url("/oauth/login"), form)
	}
	if strings.HasPrefix(at.url, b.s.auth.url("/oauth/authorize")) && at.status == 200 {
		at = b.post(t, b.s.auth.url("/oauth/authorize"), authservertest.ConsentForm(t, authservertest.Page{Body: at.body}, "allow"))
	}
	return at
}

// signIn signs in on the webapp as username and requires it to work.
func (b *webBrowser) signIn(t *testing.T, username, password string) {
	t.Helper()
	at := b.finishSignIn(t, b.startSignIn(t), username, password)
	require.Equal(t, 200, at.status, "signed in as %s: %s", username, at.body)
	require.Contains(t, at.body, "Sign out", "signed in as %s", username)
}

// signedIn reports whether the webapp's home page shows b signed in.
func (b *webBrowser) signedIn(t *testing.T) bool {
	t.Helper()
	home := b.get(t, b.s.web.url("/"))
	require.Equal(t, 200, home.status, home.body)
	return strings.Contains(home.body, "Sign out")
}
