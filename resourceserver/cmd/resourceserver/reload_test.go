package main

import (
	"context"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/pkg/httpserver/servertest"
	"github.com/oauth2ref/pkg/service"
	"github.com/oauth2ref/pkg/service/servicetest"
)

// TestRunReloads: SIGHUP re-reads the config; the log levels and the
// memory limit apply, a bad config changes nothing, and a setting that
// needs a restart is named.
func TestRunReloads(t *testing.T) {
	limit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(limit) })
	as := fakeAuthserver(t)
	dir := t.TempDir()
	write := func(body string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "resourceserver.test.json"), []byte(body), 0o600))
	}
	config := func(addr, endpoint, accessLevel, memoryLimit string) string {
		return `{"http": {"addr": "` + addr + `"}, "introspection": {"endpoint": "` + endpoint + `", "timeout": "30s"},
			"log": {"level": "info", "access_level": "` + accessLevel + `"}, "runtime": {"memory_limit": "` + memoryLimit + `"}}`
	}
	endpoint := as.URL + "/oauth/introspect"
	write(config("127.0.0.1:0", endpoint, "info", ""))

	var stdout servertest.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ln := servicetest.Listen(t)
	signals := make(chan os.Signal)
	done := make(chan error, 1)
	getenv := fakeGetenv(map[string]string{"CONFIG_DIR": dir, "APP_ENV": "test"})
	go func() {
		done <- run(ctx, []string{"resourceserver"}, getenv, &stdout, &stdout, service.WithListener(ln), service.WithReload(signals))
	}()
	servicetest.WaitListening(t, &stdout, ln.Addr().String(), done)

	write(config("127.0.0.1:0", endpoint, "debug", "64MiB"))
	line := servicetest.Hup(t, signals, &stdout)
	assert.Equal(t, "reloaded", line["msg"], "%v", line)
	assert.Equal(t, "debug", line["access_level"])
	assert.EqualValues(t, 64<<20, line["memory_limit"])
	assert.Equal(t, int64(64<<20), debug.SetMemoryLimit(-1), "the memory limit applies")

	write(config("127.0.0.1:0", "ftp://nowhere", "info", "off"))
	line = servicetest.Hup(t, signals, &stdout)
	assert.Equal(t, "reload refused: nothing changed", line["msg"])
	assert.Contains(t, line["error"], "introspection.endpoint")
	assert.Equal(t, int64(64<<20), debug.SetMemoryLimit(-1), "nothing changed")

	write(config("127.0.0.1:1", endpoint, "debug", "64MiB"))
	line = servicetest.Hup(t, signals, &stdout)
	assert.Equal(t, []any{"http.addr"}, line["restart_required"])

	cancel()
	require.NoError(t, <-done)
}
