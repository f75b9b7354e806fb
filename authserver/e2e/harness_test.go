// Package e2e runs the three real binaries on loopback and drives the whole
// system over HTTP: what a user of ./scripts/run.sh would see.
package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/pkg/httpserver/servertest"
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
	installContract()
	code := m.Run()
	// The OpenAPI check of every exchange the tests had (openapi_test.go).
	summary, ok := contract.report(testing.Verbose())
	fmt.Print(summary)
	if !ok && code == 0 {
		code = 1
	}
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
			cmd.Env = buildEnv()
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %w\n%s", s, err, out)
				return
			}
		}
	})
	require.NoError(t, buildErr)
	return filepath.Join(binDir, svc)
}

// proc is one running service.
type proc struct {
	name string
	cmd  *exec.Cmd
	logs *servertest.Buffer
	ln   *net.TCPListener // the service's socket, held by the test
	addr string
	env  []string // the service's environment, without the socket's
	done chan error
}

func (p *proc) url(path string) string { return "http://" + p.addr + path }

// Bounds for what must happen on a loaded machine, however slow: long
// enough that only a real hang reaches them.
const (
	startTimeout = time.Minute
	stopTimeout  = time.Minute
)

// listen opens a loopback socket for one service, closed when the test
// ends. Every process the test starts for that service, restarts included,
// inherits it (socket activation), so the address is known before the first
// start, is never free for another program to take, and stays the same
// across restarts.
func listen(t *testing.T) *net.TCPListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	return ln.(*net.TCPListener)
}

// start runs svc on a socket of its own; see startOn.
func start(t *testing.T, svc string, env map[string]string) *proc {
	t.Helper()
	return startOn(t, svc, listen(t), env)
}

// startOn runs svc on ln with the test environment plus env, and waits
// until it serves. The process is killed when the test ends.
func startOn(t *testing.T, svc string, ln *net.TCPListener, env map[string]string) *proc {
	t.Helper()
	vars := map[string]string{"CONFIG_DIR": filepath.Join(repoRoot, "configs"), "APP_ENV": "test"}
	for k, v := range env {
		vars[k] = v
	}
	return launch(t, svc, ln, childEnv(vars))
}

// launch starts the binary of svc with exactly env, handing it ln as fd 3.
func launch(t *testing.T, svc string, ln *net.TCPListener, env []string) *proc {
	t.Helper()
	p := &proc{name: svc, logs: &servertest.Buffer{}, ln: ln, addr: ln.Addr().String(), env: env, done: make(chan error, 1)}
	f, err := ln.File() // a duplicate, for the child; closing it leaves ln open
	require.NoError(t, err)
	defer f.Close()
	p.cmd = exec.Command(binary(t, svc))
	p.cmd.Env = append(append([]string(nil), env...), "LISTEN_FDS=1")
	p.cmd.ExtraFiles = []*os.File{f}
	p.cmd.Stdout = p.logs
	p.cmd.Stderr = p.logs
	require.NoError(t, p.cmd.Start())
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.kill() })
	if svc == "authserver" {
		contract.watch(t, p.addr)
	}

	deadline := time.After(startTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if addr := listeningAddr(p.logs.String()); addr != "" {
			require.Equal(t, p.addr, addr, "%s serves on the socket it was given", svc)
			return p
		}
		select {
		case err := <-p.done:
			p.done <- err // for kill
			t.Fatalf("%s exited early: %v\n%s", svc, err, p.logs.String())
		case <-deadline:
			t.Fatalf("%s did not start in %s:\n%s", svc, startTimeout, p.logs.String())
		case <-tick.C:
		}
	}
}

// childEnv is the whole environment of a process the tests start: what any
// program needs to run, then vars. Nothing else comes from the caller, so
// an AUTHSERVER_*, RESOURCESERVER_*, WEBAPP_*, APP_ENV or CONFIG_DIR set
// where the tests run cannot change what the services do.
func childEnv(vars map[string]string) []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+vars[k])
	}
	return env
}

// buildEnv is the caller's environment for the go command, which needs the
// whole of it (GOFLAGS, GOCACHE, CC, ...), less the services' settings.
func buildEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !serviceSetting(kv) {
			env = append(env, kv)
		}
	}
	return env
}

func serviceSetting(kv string) bool {
	for _, p := range []string{"AUTHSERVER_", "RESOURCESERVER_", "WEBAPP_", "APP_ENV=", "CONFIG_DIR=", "LISTEN_"} {
		if strings.HasPrefix(kv, p) {
			return true
		}
	}
	return false
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

// terminate sends SIGTERM and returns the exit error (nil for a clean
// exit). The socket stays open, held by the test.
func (p *proc) terminate(t *testing.T) error {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(stopTimeout):
		t.Fatalf("%s did not stop on SIGTERM", p.name)
		return nil
	}
}

// stop sends SIGTERM, waits for the exit and closes the socket: from then
// on the address refuses connections, as when a service is down. It
// returns the exit error (nil for a clean exit).
func (p *proc) stop(t *testing.T) error {
	t.Helper()
	err := p.terminate(t)
	_ = p.ln.Close()
	return err
}

// kill is kill -9. The socket stays open, held by the test.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	select {
	case err := <-p.done:
		p.done <- err
	case <-time.After(stopTimeout):
	}
}

// restart stops the service, with SIGTERM (requiring a clean exit) or with
// kill -9, and starts it again with the same environment on the same
// socket. Connections made meanwhile wait in the socket's backlog.
func (p *proc) restart(t *testing.T, graceful bool) *proc {
	t.Helper()
	if graceful {
		require.NoError(t, p.terminate(t), "%s exits 0 on SIGTERM", p.name)
	} else {
		p.kill()
	}
	return launch(t, p.name, p.ln, p.env)
}

// cli runs the binary of p's service with p's environment (no socket) and
// args, and returns its output.
func (p *proc) cli(t *testing.T, args ...string) string {
	t.Helper()
	c := exec.Command(binary(t, p.name), args...)
	c.Env = p.env
	out, err := c.CombinedOutput()
	require.NoError(t, err, string(out))
	return string(out)
}

// system is the three services wired together.
type system struct {
	auth, rs, web *proc
}

// authEnv is the authserver's environment for a test serving on addr: its
// own key directory, short token lifetimes so expiry needs no long sleep, and
// the extra test clients next to the demo ones.
func authEnv(_ *testing.T, addr, dataDir string) map[string]string {
	return map[string]string{
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
	ln := listen(t)
	env := authEnv(t, ln.Addr().String(), t.TempDir())
	for k, v := range authOverrides {
		env[k] = v
	}
	auth := startOn(t, "authserver", ln, env)
	rs := startRS(t, auth)
	web := start(t, "webapp", webEnv(auth, rs))
	return &system{auth: auth, rs: rs, web: web}
}

// upstreamTimeout bounds the services' calls to each other in the tests,
// far above what a call takes on a loaded machine; the test configs' 2 s is
// not. A service that is down refuses the connection, which takes no time.
const upstreamTimeout = "30s"

// startRS starts a resource server that introspects at auth.
func startRS(t *testing.T, auth *proc) *proc {
	t.Helper()
	return start(t, "resourceserver", map[string]string{
		"RESOURCESERVER_INTROSPECTION_ENDPOINT": auth.url("/oauth/introspect"),
		"RESOURCESERVER_INTROSPECTION_TIMEOUT":  upstreamTimeout,
	})
}

// webEnv is the webapp's environment for calling auth and rs.
func webEnv(auth, rs *proc) map[string]string {
	return map[string]string{
		"WEBAPP_AUTHSERVER_TOKEN_URL":    auth.url("/oauth/token"),
		"WEBAPP_AUTHSERVER_TIMEOUT":      upstreamTimeout,
		"WEBAPP_RESOURCESERVER_BASE_URL": "http://" + rs.addr,
		"WEBAPP_RESOURCESERVER_TIMEOUT":  upstreamTimeout,
	}
}

// response is what a test needs of an HTTP answer.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// client makes the tests' own calls; its timeout, like the services', is
// only there to turn a hang into a failure.
var client = &http.Client{Timeout: time.Minute}

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
