// Package servicetest holds what the three services' command tests share:
// running a service in-process on a socket of the test's, and waiting for
// the log lines that say it serves or reloaded.
package servicetest

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/pkg/httpserver/servertest"
)

// Bound is how long a test waits for what must happen, however loaded the
// machine: only a hang takes that long.
const Bound = time.Minute

// Listen opens a loopback socket for a service to serve on, so the test
// knows the address before the service starts. It is closed when the test
// ends.
func Listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// WaitListening waits for the "listening" log line, which says the service
// accepts on addr, or fails if run returns first (its error is put back on
// done for the test to read).
func WaitListening(t *testing.T, logs *servertest.Buffer, addr string, done chan error) {
	t.Helper()
	deadline := time.After(Bound)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, line := range lines(logs.String()) {
			if line["msg"] == "listening" {
				require.Equal(t, addr, line["addr"], "run serves on the socket it was given")
				return
			}
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("run returned before listening: %v\n%s", err, logs.String())
		case <-deadline:
			t.Fatalf("no listening line in:\n%s", logs.String())
		case <-tick.C:
		}
	}
}

// ReloadLines returns the log lines of finished reloads.
func ReloadLines(logs string) []map[string]any {
	var out []map[string]any
	for _, line := range lines(logs) {
		if msg, _ := line["msg"].(string); strings.HasPrefix(msg, "reload") {
			out = append(out, line)
		}
	}
	return out
}

// Hup sends a reload on signals and returns the log line that reports it.
func Hup(t *testing.T, signals chan os.Signal, logs *servertest.Buffer) map[string]any {
	t.Helper()
	before := len(ReloadLines(logs.String()))
	signals <- syscall.SIGHUP
	deadline := time.Now().Add(Bound)
	for {
		if lines := ReloadLines(logs.String()); len(lines) > before {
			return lines[len(lines)-1]
		}
		require.True(t, time.Now().Before(deadline), "no reload line:\n%s", logs.String())
		time.Sleep(10 * time.Millisecond)
	}
}

// lines decodes the JSON log lines of logs, skipping any other.
func lines(logs string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20) // a config dump can be long
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil {
			out = append(out, line)
		}
	}
	return out
}
