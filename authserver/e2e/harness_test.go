// Package e2e runs the three real binaries on loopback and drives the whole
// system over HTTP: what a user of ./scripts/run.sh would see.
package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var (
	binDir    string
	repoRoot  string
	buildErr  error
	buildOnce sync.Once
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "oauth2ref-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	repoRoot, _ = filepath.Abs("../..")
	code := m.Run()
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintln(os.Stderr, "removing the built binaries:", err)
	}
	os.Exit(code)
}

// binary builds the service once per test run (in the workspace, so the
// three modules build against the same pkg) and returns its path.
func binary(t *testing.T, svc string) string {
	t.Helper()
	buildOnce.Do(func() {
		for _, s := range []string{"authserver", "resourceserver", "webapp"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, s), "./"+s+"/cmd/"+s)
			cmd.Dir = repoRoot
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %w\n%s", s, err, out)
				return
			}
		}
	})
	require.NoError(t, buildErr)
	return filepath.Join(binDir, svc)
}

// logBuffer collects a process's output; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}
func (b *logBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

// proc is one running service.
type proc struct {
	name string
	cmd  *exec.Cmd
	logs *logBuffer
	addr string
	done chan error
}

func (p *proc) url(path string) string { return "http://" + p.addr + path }

// start runs svc with the test environment plus env, and waits until it
// listens. The process is stopped when the test ends.
func start(t *testing.T, svc string, env map[string]string) *proc {
	t.Helper()
	p := &proc{name: svc, logs: &logBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(binary(t, svc))
	p.cmd.Env = append(os.Environ(), "CONFIG_DIR="+filepath.Join(repoRoot, "configs"), "APP_ENV=test")
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout = p.logs
	p.cmd.Stderr = p.logs
	require.NoError(t, p.cmd.Start())
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.kill() })

	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if addr := listeningAddr(p.logs.String()); addr != "" {
			p.addr = addr
			return p
		}
		select {
		case err := <-p.done:
			t.Fatalf("%s exited early: %v\n%s", svc, err, p.logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("%s did not start:\n%s", svc, p.logs.String())
	return nil
}

func listeningAddr(logs string) string {
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var line struct{ Msg, Addr string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
			return line.Addr
		}
	}
	return ""
}

// stop sends SIGTERM and returns the exit error (nil for a clean exit).
func (p *proc) stop(t *testing.T) error {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not stop on SIGTERM", p.name)
		return nil
	}
}

// kill is kill -9.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	select {
	case err := <-p.done:
		p.done <- err
	case <-time.After(5 * time.Second):
	}
}

// system is the three services wired together.
type system struct {
	auth, rs, web *proc
}

// authEnv is the authserver's environment for a test: a loopback port, its
// own key directory, short token lifetimes so expiry needs no long sleep, and
// the extra test clients next to the demo ones.
func authEnv(_ *testing.T, addr, dataDir string) map[string]string {
	return map[string]string{
		"AUTHSERVER_HTTP_ADDR":             addr,
		"AUTHSERVER_ISSUER":                "http://" + addr,
		"AUTHSERVER_DATA_DIR":              dataDir,
		"AUTHSERVER_TOKENS_MAX_ACCESS_TTL": "2s",
		"AUTHSERVER_FIXTURES":              "fixtures/demo.json," + filepath.Join(repoRoot, "authserver/testdata/extra-clients.yaml"),
	}
}

func startSystem(t *testing.T) *system {
	t.Helper()
	return startSystemWith(t, nil)
}

// startSystemWith starts the system with extra authserver settings.
func startSystemWith(t *testing.T, authOverrides map[string]string) *system {
	t.Helper()
	addr := freeAddr(t)
	env := authEnv(t, addr, t.TempDir())
	for k, v := range authOverrides {
		env[k] = v
	}
	auth := start(t, "authserver", env)
	rs := start(t, "resourceserver", map[string]string{
		"RESOURCESERVER_HTTP_ADDR":              "127.0.0.1:0",
		"RESOURCESERVER_INTROSPECTION_ENDPOINT": auth.url("/oauth/introspect"),
	})
	web := start(t, "webapp", map[string]string{
		"WEBAPP_HTTP_ADDR":               "127.0.0.1:0",
		"WEBAPP_AUTHSERVER_TOKEN_URL":    auth.url("/oauth/token"),
		"WEBAPP_RESOURCESERVER_BASE_URL": "http://" + rs.addr,
	})
	return &system{auth: auth, rs: rs, web: web}
}

// freeAddr returns a loopback address that was free a moment ago, for a
// service that must come back on the same address after a restart.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// response is what a test needs of an HTTP answer.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

var client = &http.Client{Timeout: 10 * time.Second}

func send(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func get(t *testing.T, u string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return send(t, req)
}

func postForm(t *testing.T, u string, form url.Values, user, pass string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	return send(t, req)
}
