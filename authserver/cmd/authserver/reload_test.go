package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/pkg/httpserver/servertest"
	"github.com/oauth2ref/pkg/service"
	"github.com/oauth2ref/pkg/service/servicetest"
)

// TestRunReloads: SIGHUP re-reads the config dir; the log levels and new
// fixtures apply at once, a bad fixture file or config changes nothing,
// and a setting that cannot change live is named.
func TestRunReloads(t *testing.T) {
	dir := t.TempDir()
	demo, err := os.ReadFile("../../../configs/fixtures/demo.json")
	require.NoError(t, err)
	write := func(name, body string) {
		t.Helper()
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600)) //nolint:gosec // G703: the test's own file names
	}
	write("fixtures/demo.json", string(demo))
	config := func(accessLevel string, fixtures ...string) string {
		list, _ := json.Marshal(append([]string{"fixtures/demo.json"}, fixtures...))
		return `{"http": {"addr": "127.0.0.1:0"}, "data_dir": "", "signing": {"refresh_interval": "1s"},
			"log": {"level": "info", "access_level": "` + accessLevel + `"}, "fixtures": ` + string(list) + `}`
	}
	write("authserver.test.json", config("info"))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout servertest.Buffer
	env := fakeEnv(map[string]string{"CONFIG_DIR": dir, "APP_ENV": "test"})
	ln := servicetest.Listen(t)
	signals := make(chan os.Signal)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"authserver"}, env, strings.NewReader(""), &stdout, io.Discard, service.WithListener(ln), service.WithReload(signals))
	}()
	servicetest.WaitListening(t, &stdout, ln.Addr().String(), done)
	base := "http://" + ln.Addr().String()
	token := func(id, secret string) int {
		req, _ := http.NewRequest(http.MethodPost, base+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	accessLines := func() int { return strings.Count(stdout.String(), `"msg":"request"`) }
	const newSecret = "refresher-secret-0123456789abcdef0123456789"
	newClient := `clients:
  - id: added-on-reload
    name: Added on reload
    type: confidential
    secret_hash: "$hmac-sha256$A/O8WDV3lBc4UdE77imDgQ$1oGiPn7g8/yuEb4459SVTWu5/thgOF22eOyh/zBeEwI"
    grant_types: [client_credentials]
`
	require.Equal(t, 401, token("added-on-reload", newSecret))

	// 1. A new client and a quieter access log.
	write("more.yaml", newClient)
	write("authserver.test.json", config("debug", "more.yaml"))
	line := servicetest.Hup(t, signals, &stdout)
	require.Equal(t, "reloaded", line["msg"], "%v", line)
	assert.Equal(t, []any{"added-on-reload"}, line["clients_added"])
	assert.Equal(t, "debug", line["access_level"])
	assert.Equal(t, 200, token("added-on-reload", newSecret), "the new client works at once")
	requests := accessLines()
	assert.Equal(t, 200, token("service", "9c1a5b7e0f3d4a2b8e6c1d0f7a3b5c9e"))
	servicetest.Hup(t, signals, &stdout) // the same config again: flushes the log
	assert.Equal(t, requests, accessLines(), "access lines are below the new level")

	// 2. A bad fixture file: nothing changes, the access level included.
	write("bad.yaml", `clients:
  - id: never-added
    name: Fine on its own
    type: public
    grant_types: []
  - id: added-on-reload
    name: Broken now
    type: confidential
    grant_types: [client_credentials]
`)
	write("authserver.test.json", config("info", "more.yaml", "bad.yaml"))
	line = servicetest.Hup(t, signals, &stdout)
	assert.Equal(t, "reload refused: nothing changed", line["msg"])
	assert.Contains(t, line["error"], "needs a secret")
	assert.Equal(t, 200, token("added-on-reload", newSecret), "the client as it was")
	assert.Equal(t, 401, token("never-added", ""), "and nothing of the bad file")
	requests = accessLines()
	token("service", "9c1a5b7e0f3d4a2b8e6c1d0f7a3b5c9e")
	servicetest.Hup(t, signals, &stdout) // flushes the log
	assert.Equal(t, requests, accessLines(), "the access level stays where it was")

	// 3. A config file that does not parse.
	write("authserver.test.json", `{"log": `)
	line = servicetest.Hup(t, signals, &stdout)
	assert.Equal(t, "reload refused: nothing changed", line["msg"])
	assert.Contains(t, line["error"], "invalid JSON")

	// 4. A setting that needs a restart is named, the rest applies.
	write("authserver.test.json", strings.Replace(config("info", "more.yaml"), `"1s"`, `"2s"`, 1))
	line = servicetest.Hup(t, signals, &stdout)
	assert.Equal(t, "reloaded; some changed settings only apply at the next start", line["msg"])
	assert.Equal(t, []any{"signing.refresh_interval"}, line["restart_required"])
	assert.Equal(t, "info", line["access_level"])

	cancel()
	require.NoError(t, <-done)
}
