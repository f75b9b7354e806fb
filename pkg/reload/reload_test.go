package reload

import (
	"context"
	"errors"
	"os"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/oauth2ref/pkg/httpserver/servertest"
	"github.com/oauth2ref/pkg/memlimit"
	"github.com/oauth2ref/pkg/zaplog"
)

type cfg struct {
	Log     zaplog.Config   `json:"log"`
	Runtime memlimit.Config `json:"runtime"`
	Addr    string          `json:"addr"`
	Files   []string        `json:"files"`
}

func TestRun(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	var out servertest.Buffer
	log, levels, err := zaplog.Config{Level: "info", AccessLevel: "info"}.Open(&out)
	require.NoError(t, err)
	live := Live{Levels: levels, Getenv: func(string) string { return "" }}
	running := cfg{Log: zaplog.DefaultConfig(), Addr: ":1"}

	var next cfg
	var applyErr error
	applied := 0
	step := func(context.Context) (Result, error) {
		if next.Addr == "" {
			return Result{}, errors.New("config: invalid: addr")
		}
		n := next
		return Result{Log: n.Log, Runtime: n.Runtime, Old: running, New: n, Live: []string{"files"},
			Apply: func(context.Context) ([]zap.Field, error) {
				if applyErr != nil {
					return nil, applyErr
				}
				applied++
				return []zap.Field{zap.Int("files", len(n.Files))}, nil
			},
			Commit: func() { running.Log, running.Runtime, running.Files = n.Log, n.Runtime, n.Files },
		}, nil
	}
	ch := make(chan os.Signal)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { live.Run(ctx, ch, log, step); close(done) }()
	lines := 0
	hup := func() string {
		t.Helper()
		ch <- syscall.SIGHUP
		deadline := time.Now().Add(time.Minute)
		for {
			all := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(all) > lines && strings.Contains(all[len(all)-1], "reload") {
				lines = len(all)
				return all[len(all)-1]
			}
			require.True(t, time.Now().Before(deadline), "no reload line")
			time.Sleep(5 * time.Millisecond)
		}
	}

	line := hup()
	assert.Contains(t, line, `"msg":"reload refused: nothing changed"`)
	assert.Contains(t, line, "config: invalid: addr")

	next = cfg{Log: zaplog.Config{Level: "debug", AccessLevel: "warn"}, Runtime: memlimit.Config{MemoryLimit: "64MiB"}, Addr: ":1", Files: []string{"a"}}
	line = hup()
	assert.Contains(t, line, `"msg":"reloaded"`)
	assert.Contains(t, line, `"log_level":"debug"`)
	assert.Contains(t, line, `"memory_limit":67108864`)
	assert.Contains(t, line, `"files":1`)
	assert.Equal(t, "debug", levels.Log.Level().String())
	assert.Equal(t, "warn", levels.Access.Level().String())
	assert.Equal(t, int64(64<<20), debug.SetMemoryLimit(-1))

	next.Addr = ":2"
	next.Log.Level = "info"
	line = hup()
	assert.Contains(t, line, `"restart_required":["addr"]`)
	assert.Equal(t, "info", levels.Log.Level().String(), "live fields apply even when others wait for a restart")

	next.Log.Level = "error"
	applyErr = errors.New("fixtures: bad.yaml: invalid")
	line = hup()
	assert.Contains(t, line, "fixtures: bad.yaml")
	assert.Equal(t, "info", levels.Log.Level().String(), "a failed step changes no level")

	applyErr = nil
	next.Runtime.MemoryLimit = "8"
	line = hup()
	assert.Contains(t, line, "reload refused")
	assert.Equal(t, 2, applied, "nor runs the service's step")
	assert.Equal(t, int64(64<<20), debug.SetMemoryLimit(-1))

	cancel()
	<-done
}
