package service

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/pkg/config"
	"github.com/oauth2ref/pkg/httpserver"
	"github.com/oauth2ref/pkg/httpserver/servertest"
	"github.com/oauth2ref/pkg/zaplog"
)

// bound is how long anything that must happen may take.
const bound = 30 * time.Second

// testConfig is a service's configuration: Base and one field of its own.
type testConfig struct {
	Base
	Greeting string `json:"greeting"`
}

// loader loads a testConfig whose greeting and http.addr come from the
// variables GREETING and ADDR, as a service's loadConfig would.
func loader(args []string, getenv func(string) string, stderr io.Writer) (testConfig, config.Command, string, error) {
	cmd, err := config.ParseCommand("svc", "usage: svc\n", args, getenv, stderr)
	if err != nil {
		return testConfig{}, cmd, "", err
	}
	c := testConfig{Base: Base{HTTP: httpserver.DefaultConfig(getenv("ADDR")), Log: zaplog.DefaultConfig()}, Greeting: getenv("GREETING")}
	return c, cmd, "svc.json", nil
}

func greet(ctx context.Context, p *Process, cfg testConfig, file string) error {
	p.Starting(file)
	return p.Serve(ctx, Site{Mount: func(r chi.Router) {
		r.Get("/hello", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, cfg.Greeting) })
	}})
}

// vars is a getenv that a test may change while the service runs.
type vars struct {
	mu sync.Mutex
	m  map[string]string
}

func (v *vars) get(k string) string { v.mu.Lock(); defer v.mu.Unlock(); return v.m[k] }
func (v *vars) set(k, val string)   { v.mu.Lock(); defer v.mu.Unlock(); v.m[k] = val }

func TestRunRefusesBeforeServing(t *testing.T) {
	env := &vars{m: map[string]string{}}
	prog := Program[testConfig]{Getenv: env.get, Stdout: io.Discard, Stderr: io.Discard, Load: loader, Serve: greet}

	prog.Args = []string{"svc", "-h"}
	assert.NoError(t, Run(context.Background(), prog), "-h prints the usage and is done")

	prog.Args = []string{"svc", "extra"}
	assert.ErrorContains(t, Run(context.Background(), prog), `unexpected arguments ["extra"]`)

	prog.Args = []string{"svc", "-nope"}
	err := Run(context.Background(), prog)
	require.Error(t, err)
	assert.NotErrorIs(t, err, flag.ErrHelp)
}

// TestRunServesAndReloads: the service is served on the test's listener
// with health and metrics beside it, over -dev-tls's HTTPS; SIGHUP reads
// the configuration again and names what waits for a restart.
func TestRunServesAndReloads(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	env := &vars{m: map[string]string{"GREETING": "hello", "ADDR": ln.Addr().String()}}
	var logs servertest.Buffer
	signals := make(chan os.Signal)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Program[testConfig]{
			Args: []string{"svc", "-dev-tls"}, Getenv: env.get, Stdout: &logs, Stderr: io.Discard, Load: loader, Serve: greet,
		}, WithListener(ln), WithReload(signals))
	}()

	client := &http.Client{Timeout: bound, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // G402: -dev-tls's self-signed certificate
	}}
	get := func(path string) (int, string) {
		resp, err := client.Get("https://" + ln.Addr().String() + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(bound)
	for !strings.Contains(logs.String(), `"msg":"listening"`) {
		require.True(t, time.Now().Before(deadline), "not listening:\n%s", logs.String())
		time.Sleep(10 * time.Millisecond)
	}
	status, body := get("/hello")
	assert.Equal(t, 200, status)
	assert.Equal(t, "hello", body)
	status, _ = get("/healthz")
	assert.Equal(t, 200, status)
	_, body = get("/metrics")
	assert.Contains(t, body, `http_requests_total{code="200",method="GET",route="/hello"} 1`)
	assert.Contains(t, logs.String(), `"msg":"starting","env":"development","config_file":"svc.json"`)

	env.set("GREETING", "changed")
	signals <- syscall.SIGHUP
	var line map[string]any
	for line == nil {
		require.True(t, time.Now().Before(deadline), "no reload line:\n%s", logs.String())
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, `"msg":"reload`) {
				require.NoError(t, json.Unmarshal([]byte(l), &line))
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	assert.Equal(t, "reloaded; some changed settings only apply at the next start", line["msg"])
	assert.Equal(t, []any{"greeting"}, line["restart_required"], "only the service's own field waits")
	assert.Equal(t, "svc.json", line["config_file"])

	cancel()
	require.NoError(t, <-done)
}
