package main

import (
	"context"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
	"time"

	"github.com/oauth2ref/pkg/httpserver/servertest"
	"github.com/oauth2ref/pkg/service"
	"github.com/oauth2ref/pkg/service/servicetest"
	"github.com/oauth2ref/webapp/internal/upstreamtest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunReloads: SIGHUP re-reads the config; the log levels apply, a bad
// config changes nothing, and a setting that needs a restart is named.
func TestRunReloads(t *testing.T) {
	limit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(limit) })
	as := upstreamtest.NewAuthServer(t, upstreamtest.Client{ID: "webapp-browser", Secret: "webapp-browser-secret", RedirectURI: "http://127.0.0.1/callback"})
	rs := upstreamtest.NewResourceServer(t, as)
	dir := t.TempDir()
	write := func(body string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "webapp.test.json"), []byte(body), 0o600))
	}
	config := func(timeout, level, accessLevel string) string {
		return `{"http": {"addr": "127.0.0.1:0"},
			"authserver": {"token_url": "` + as.URL + `/oauth/token", "timeout": "` + timeout + `"},
			"resourceserver": {"base_url": "` + rs.URL + `", "timeout": "30s"},
			"redis": {"lock_lease": "1m"},
			"log": {"level": "` + level + `", "access_level": "` + accessLevel + `"}}`
	}
	write(config("30s", "info", "info"))

	var stdout servertest.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ln := servicetest.Listen(t)
	signals := make(chan os.Signal)
	done := make(chan error, 1)
	vars := map[string]string{"CONFIG_DIR": dir, "APP_ENV": "test"}
	go func() {
		done <- run(ctx, []string{"webapp"}, func(k string) string { return vars[k] }, &stdout, &stdout, service.WithListener(ln), service.WithReload(signals))
	}()
	deadline := time.Now().Add(servicetest.Bound)
	for listeningAddr(stdout.String()) == "" {
		require.True(t, time.Now().Before(deadline), "never listened:\n%s", stdout.String())
		time.Sleep(10 * time.Millisecond)
	}

	write(config("30s", "debug", "warn"))
	line := servicetest.Hup(t, signals, &stdout)
	assert.Equal(t, "reloaded", line["msg"], "%v", line)
	assert.Equal(t, "debug", line["log_level"])
	assert.Equal(t, "warn", line["access_level"])

	write(config("0s", "info", "info"))
	line = servicetest.Hup(t, signals, &stdout)
	assert.Equal(t, "reload refused: nothing changed", line["msg"])
	assert.Contains(t, line["error"], "authserver.timeout must be positive")

	write(config("20s", "debug", "warn"))
	line = servicetest.Hup(t, signals, &stdout)
	assert.Equal(t, []any{"authserver.timeout"}, line["restart_required"])

	cancel()
	require.NoError(t, <-done)
}
