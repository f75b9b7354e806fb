// Command mint drives a token endpoint as fast as it answers, for
// scripts/bench.sh. Two modes:
//
//	client_credentials (default): -n requests over -c connections; with
//	-out, the access tokens are written one a line (the introspection
//	scenarios replay them).
//
//	refresh (-chains > 0): -chains password grants (-password-c at a time:
//	each costs an argon2id), then every refresh token rotated -rotations
//	times in a row, -c chains at a time. Each rotation stores a new refresh
//	token, so chains*rotations refresh tokens are stored without paying
//	chains*rotations argon2ids.
//
// With -pid it samples that process's VmRSS during the run. It prints one
// JSON object on stdout and progress on stderr; it exits 1 if any request
// failed.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type config struct {
	url, client, secret string
	n, c                int
	maxTime             time.Duration
	out                 string
	pid                 int
	chains, rotations   int
	passwordC           int
	username, password  string
	start               string
	scope               string
}

// Result is the JSON printed on stdout.
type Result struct {
	Mode      string  `json:"mode"`
	Requests  int64   `json:"requests"`
	OK        int64   `json:"ok"`
	Non2xx    int64   `json:"non2xx"`
	Errors    int64   `json:"errors"` // transport errors and unreadable answers
	FirstErr  string  `json:"first_error,omitempty"`
	Seconds   float64 `json:"seconds"`
	RPS       float64 `json:"rps"`
	Written   int64   `json:"tokens_written,omitempty"`
	Password  int64   `json:"password_grants,omitempty"`
	Rotations int64   `json:"rotations,omitempty"`
	RSS       *RSS    `json:"rss,omitempty"`
}

// RSS is the sampled process's memory, in KiB, from /proc/<pid>/status.
type RSS struct {
	BeforeKB int64 `json:"before_kb"`
	PeakKB   int64 `json:"peak_kb"` // highest VmRSS seen, sampled every 50 ms
	HWMKB    int64 `json:"hwm_kb"`  // VmHWM at the end: the peak since the process started
	AfterKB  int64 `json:"after_kb"`
}

func main() {
	var cfg config
	flag.StringVar(&cfg.url, "url", "http://127.0.0.1:5001/oauth/token", "token endpoint")
	flag.StringVar(&cfg.client, "client", "service", "client id (client_secret_basic)")
	flag.StringVar(&cfg.secret, "secret", "", "client secret")
	flag.IntVar(&cfg.n, "n", 1000, "client_credentials requests")
	flag.IntVar(&cfg.c, "c", 64, "concurrent connections")
	flag.DurationVar(&cfg.maxTime, "max-time", 0, "stop starting requests after this long (0: no limit)")
	flag.StringVar(&cfg.out, "out", "", "write access tokens (or, with -start code -rotations 0, refresh tokens) to this file, one a line")
	flag.IntVar(&cfg.pid, "pid", 0, "sample this process's RSS")
	flag.IntVar(&cfg.chains, "chains", 0, "refresh mode: password grants, each starting a refresh token chain")
	flag.IntVar(&cfg.rotations, "rotations", 100, "refresh mode: rotations per chain")
	flag.IntVar(&cfg.passwordC, "password-c", 8, "refresh mode: concurrent password grants (or authorizations with -start code)")
	flag.StringVar(&cfg.start, "start", "password", "refresh mode: how chains start: password (a password grant each, an argon2id each) or code (one login, then an authorization code per chain, consent remembered)")
	flag.StringVar(&cfg.username, "username", "alice", "refresh mode: resource owner")
	flag.StringVar(&cfg.password, "password", "alice-password", "refresh mode: resource owner's password")
	flag.StringVar(&cfg.scope, "scope", "", "scope to ask for (empty: the client's default)")
	flag.Parse()
	if cfg.c < 1 || cfg.passwordC < 1 {
		fmt.Fprintln(os.Stderr, "mint: -c and -password-c must be positive")
		os.Exit(2)
	}

	m := newMinter(cfg)
	var sampler *rssSampler
	if cfg.pid > 0 {
		sampler = startSampler(cfg.pid)
	}
	start := time.Now()
	res := Result{Mode: "client_credentials"}
	var err error
	if cfg.chains > 0 {
		res.Mode = "refresh"
		if cfg.start == "code" {
			err = m.codeChains(cfg)
		} else {
			err = m.refreshChains(cfg)
		}
	} else {
		err = m.clientCredentials(cfg)
	}
	res.Seconds = time.Since(start).Seconds()
	if sampler != nil {
		res.RSS = sampler.stop()
	}
	res.Requests, res.OK, res.Non2xx, res.Errors = m.requests.Load(), m.ok.Load(), m.non2xx.Load(), m.errs.Load()
	res.Written, res.Password, res.Rotations = m.written.Load(), m.passwordGrants.Load(), m.rotations.Load()
	if p := m.firstErr.Load(); p != nil {
		res.FirstErr = *p
	}
	if res.Seconds > 0 {
		res.RPS = float64(res.Requests) / res.Seconds
	}
	_ = json.NewEncoder(os.Stdout).Encode(res)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mint:", err)
		os.Exit(1)
	}
	if res.Non2xx > 0 || res.Errors > 0 {
		fmt.Fprintf(os.Stderr, "mint: %d non-2xx answers, %d errors; first: %s\n", res.Non2xx, res.Errors, res.FirstErr)
		os.Exit(1)
	}
}

type minter struct {
	hc       *http.Client
	url      string
	auth     string
	scope    string
	requests atomic.Int64
	ok       atomic.Int64
	non2xx   atomic.Int64
	errs     atomic.Int64
	written  atomic.Int64

	passwordGrants atomic.Int64
	rotations      atomic.Int64
	firstErr       atomic.Pointer[string]
}

func newMinter(cfg config) *minter {
	t := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        cfg.c + cfg.passwordC,
		MaxIdleConnsPerHost: cfg.c + cfg.passwordC,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	pair := url.QueryEscape(cfg.client) + ":" + url.QueryEscape(cfg.secret)
	return &minter{
		hc:    &http.Client{Transport: t, Timeout: 30 * time.Second},
		url:   cfg.url,
		auth:  "Basic " + base64.StdEncoding.EncodeToString([]byte(pair)),
		scope: cfg.scope,
	}
}

type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// post sends one token request; ok=false means it failed (and was counted).
func (m *minter) post(form url.Values) (tokenAnswer, bool) {
	if m.scope != "" {
		form.Set("scope", m.scope)
	}
	m.requests.Add(1)
	// Nothing cancels a run: it ends when every request is done or -max-time passes.
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, m.url, strings.NewReader(form.Encode()))
	if err != nil {
		m.fail(&m.errs, err.Error())
		return tokenAnswer{}, false
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", m.auth)
	resp, err := m.hc.Do(req)
	if err != nil {
		m.fail(&m.errs, err.Error())
		return tokenAnswer{}, false
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close() // read to the end: a close error changes nothing
	if err != nil {
		m.fail(&m.errs, err.Error())
		return tokenAnswer{}, false
	}
	if resp.StatusCode/100 != 2 {
		m.fail(&m.non2xx, fmt.Sprintf("status %d: %s", resp.StatusCode, bytes.TrimSpace(body)))
		return tokenAnswer{}, false
	}
	var a tokenAnswer
	if err := json.Unmarshal(body, &a); err != nil || a.AccessToken == "" {
		m.fail(&m.errs, fmt.Sprintf("no access_token in %.200s", body))
		return tokenAnswer{}, false
	}
	m.ok.Add(1)
	return a, true
}

func (m *minter) fail(counter *atomic.Int64, msg string) {
	counter.Add(1)
	m.firstErr.CompareAndSwap(nil, &msg)
}

func (m *minter) clientCredentials(cfg config) error {
	var w *bufio.Writer
	var f *os.File
	if cfg.out != "" {
		var err error
		if f, err = os.Create(cfg.out); err != nil {
			return err
		}
		w = bufio.NewWriterSize(f, 1<<20)
	}
	deadline := time.Time{}
	if cfg.maxTime > 0 {
		deadline = time.Now().Add(cfg.maxTime)
	}
	var next atomic.Int64
	var mu sync.Mutex // guards w
	p := startProgress("client_credentials", &m.requests, int64(cfg.n))
	var wg sync.WaitGroup
	for range cfg.c {
		wg.Go(func() {
			form := url.Values{"grant_type": {"client_credentials"}}
			for next.Add(1) <= int64(cfg.n) {
				if !deadline.IsZero() && time.Now().After(deadline) {
					return
				}
				a, ok := m.post(form)
				if ok && w != nil {
					mu.Lock()
					// bufio.Writer keeps its first error; Flush reports it.
					_, _ = w.WriteString(a.AccessToken)
					_ = w.WriteByte('\n')
					mu.Unlock()
					m.written.Add(1)
				}
			}
		})
	}
	wg.Wait()
	p.stop()
	if w != nil {
		if err := w.Flush(); err != nil {
			return err
		}
		return f.Close()
	}
	return nil
}

func (m *minter) refreshChains(cfg config) error {
	// Phase 1: one password grant per chain, each an argon2id on the server.
	tokens := make(chan string, cfg.chains)
	var next atomic.Int64
	p := startProgress("password grants", &m.passwordGrants, int64(cfg.chains))
	var wg sync.WaitGroup
	for range cfg.passwordC {
		wg.Go(func() {
			for next.Add(1) <= int64(cfg.chains) {
				a, ok := m.post(url.Values{"grant_type": {"password"}, "username": {cfg.username}, "password": {cfg.password}})
				if !ok {
					continue
				}
				m.passwordGrants.Add(1)
				if a.RefreshToken == "" {
					m.fail(&m.errs, "password grant returned no refresh_token (does the client allow refresh_token?)")
					continue
				}
				tokens <- a.RefreshToken
			}
		})
	}
	wg.Wait()
	p.stop()
	close(tokens)
	if m.passwordGrants.Load() == 0 {
		return errors.New("no password grant succeeded")
	}

	return m.rotate(cfg, tokens)
}

// rotate turns each chain's token, in order, -rotations times.
func (m *minter) rotate(cfg config, tokens chan string) error {
	var wg sync.WaitGroup
	p := startProgress("refresh rotations", &m.rotations, int64(len(tokens)*cfg.rotations))
	for range cfg.c {
		wg.Go(func() {
			for rt := range tokens {
				for range cfg.rotations {
					a, ok := m.post(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
					if !ok || a.RefreshToken == "" {
						break // the chain is broken; the failure is counted
					}
					m.rotations.Add(1)
					rt = a.RefreshToken
				}
			}
		})
	}
	wg.Wait()
	p.stop()
	return nil
}

// codeChains starts each chain with the authorization code flow: one login
// (one argon2id), consent once, then per chain an authorization request that
// the remembered consent answers at once with a code, exchanged with PKCE.
// So the refresh tokens' own memory is measured, not argon2id's.
func (m *minter) codeChains(cfg config) error {
	base := strings.TrimSuffix(m.url, "/oauth/token")
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: m.hc.Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	csrfRE := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	page := func(resp *http.Response, err error) (string, *http.Response, error) {
		if err != nil {
			return "", nil, err
		}
		defer func() { _ = resp.Body.Close() }() // a read body has nothing left to report on close
		b, err := io.ReadAll(resp.Body)
		return string(b), resp, err
	}
	body, _, err := page(browser.Get(base + "/oauth/login")) //nolint:bodyclose,noctx // page closes the body; nothing cancels a run
	if err != nil {
		return err
	}
	csrf := csrfRE.FindStringSubmatch(body)
	if csrf == nil {
		return errors.New("no CSRF token on the login page")
	}
	_, resp, err := page(browser.PostForm(base+"/oauth/login", url.Values{"csrf_token": {csrf[1]}, //nolint:bodyclose,noctx // page closes the body; nothing cancels a run
		"username": {cfg.username}, "password": {cfg.password}}))
	if err != nil {
		return fmt.Errorf("login failed: %w", err)
	}
	if resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("login failed: status %d", resp.StatusCode)
	}
	// RFC 7636 appendix B's verifier: fine for a benchmark, never for a client.
	const verifier, challenge = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	const redirect = "http://localhost:5003/callback"
	request := url.Values{"response_type": {"code"}, "client_id": {cfg.client}, "redirect_uri": {redirect},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	code := func() (string, error) {
		body, resp, err := page(browser.Get(base + "/oauth/authorize?" + request.Encode())) //nolint:bodyclose,noctx // page closes the body; nothing cancels a run
		if err != nil {
			return "", err
		}
		if resp.StatusCode == http.StatusOK { // the consent page, the first time
			// Its form carries the session's CSRF token: the login page's
			// was the pre-session one, which the login replaced.
			consentCSRF := csrfRE.FindStringSubmatch(body)
			if consentCSRF == nil {
				return "", errors.New("no CSRF token on the consent page")
			}
			form := url.Values{"decision": {"allow"}, "csrf_token": {consentCSRF[1]}}
			for k, v := range request {
				form[k] = v
			}
			if _, resp, err = page(browser.PostForm(base+"/oauth/authorize", form)); err != nil { //nolint:bodyclose,noctx // page closes the body; nothing cancels a run
				return "", err
			}
		}
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || loc.Query().Get("code") == "" {
			return "", fmt.Errorf("no code (status %d, %s): %.200s", resp.StatusCode, resp.Header.Get("Location"), body)
		}
		return loc.Query().Get("code"), nil
	}

	tokens := make(chan string, cfg.chains)
	var next atomic.Int64
	p := startProgress("authorization codes", &m.passwordGrants, int64(cfg.chains))
	var wg sync.WaitGroup
	for range cfg.passwordC {
		wg.Go(func() {
			for next.Add(1) <= int64(cfg.chains) {
				c, err := code()
				if err != nil {
					m.fail(&m.errs, err.Error())
					continue
				}
				a, ok := m.post(url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {redirect}, "code_verifier": {verifier}})
				if !ok {
					continue
				}
				m.passwordGrants.Add(1)
				tokens <- a.RefreshToken
			}
		})
	}
	wg.Wait()
	p.stop()
	close(tokens)
	if len(tokens) == 0 {
		return errors.New("no authorization code was exchanged")
	}
	if cfg.rotations == 0 && cfg.out != "" {
		// Seeds for a benchmark of the refresh grant: the fresh refresh
		// tokens, one a line, each good for one use.
		var b strings.Builder
		for rt := range tokens {
			b.WriteString(rt + "\n")
		}
		return os.WriteFile(cfg.out, []byte(b.String()), 0o600)
	}
	return m.rotate(cfg, tokens)
}

// progress prints a line to stderr every 5 seconds.
type progress struct{ done chan struct{} }

func startProgress(what string, n *atomic.Int64, total int64) *progress {
	p := &progress{done: make(chan struct{})}
	start := time.Now()
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				fmt.Fprintf(os.Stderr, "  mint: %s %d/%d (%.0f/s)\n", what, n.Load(), total, float64(n.Load())/time.Since(start).Seconds())
			}
		}
	}()
	return p
}

func (p *progress) stop() { close(p.done) }

type rssSampler struct {
	pid    int
	before int64
	peak   atomic.Int64
	done   chan struct{}
	wg     sync.WaitGroup
}

func startSampler(pid int) *rssSampler {
	s := &rssSampler{pid: pid, done: make(chan struct{})}
	s.before, _ = procStatus(pid)
	s.peak.Store(s.before)
	s.wg.Go(func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				if rss, _ := procStatus(pid); rss > s.peak.Load() {
					s.peak.Store(rss)
				}
			}
		}
	})
	return s
}

func (s *rssSampler) stop() *RSS {
	close(s.done)
	s.wg.Wait()
	rss, hwm := procStatus(s.pid)
	return &RSS{BeforeKB: s.before, PeakKB: max(s.peak.Load(), rss), HWMKB: hwm, AfterKB: rss}
}

// procStatus returns VmRSS and VmHWM in KiB (0 if unreadable).
func procStatus(pid int) (rss, hwm int64) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		name, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		switch name {
		case "VmRSS":
			rss = kb
		case "VmHWM":
			hwm = kb
		}
	}
	return rss, hwm
}
