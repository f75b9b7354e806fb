//go:build unix

package redis_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/webapp/internal/adapters/storage/redis"
	"github.com/oauth2ref/webapp/internal/adapters/storage/storagetest"
	"github.com/oauth2ref/webapp/internal/domain"
)

// privateRedis is a redis-server of the test's own, on a unix socket, that
// the test can pause (SIGSTOP: a real stall, the calls queue in the
// socket) without troubling the Redis other tests share. A tiny cousin of
// authserver/internal/faulttest, which this module cannot import.
type privateRedis struct {
	cmd  *exec.Cmd
	sock string
}

func startPrivateRedis(t *testing.T) *privateRedis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed")
		}
		t.Skip("redis-server is not installed")
	}
	// A short directory: a unix socket's path is limited to ~100 bytes.
	dir, err := os.MkdirTemp("", "webapp-redis-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	r := &privateRedis{sock: filepath.Join(dir, "redis.sock")}
	r.cmd = exec.Command(bin, "--port", "0", "--unixsocket", r.sock, "--save", "", "--appendonly", "no", "--dir", dir)
	require.NoError(t, r.cmd.Start())
	t.Cleanup(func() {
		_ = r.cmd.Process.Signal(syscall.SIGCONT)
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	})
	c := goredis.NewClient(&goredis.Options{Network: "unix", Addr: r.sock})
	defer func() { _ = c.Close() }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return r
		}
		require.True(t, time.Now().Before(deadline), "redis-server did not start: %v", err)
	}
}

func (r *privateRedis) url() string { return "unix://" + r.sock }

func (r *privateRedis) pause(t *testing.T) {
	require.NoError(t, r.cmd.Process.Signal(syscall.SIGSTOP))
}

func (r *privateRedis) resume(t *testing.T) {
	require.NoError(t, r.cmd.Process.Signal(syscall.SIGCONT))
}

// A Redis that stalls fails every call within the timeout, with an error
// the edge turns into a fast 503; the calls it runs when it wakes, after
// their callers gave up, change nothing (no lock left to wait out, no
// session made, no sign-in claimed); and the store works again at once.
func TestAStalledRedis(t *testing.T) {
	r := startPrivateRedis(t)
	ctx := context.Background()
	c := storagetest.NewClock()
	st := open(t, redis.Config{URL: r.url(), KeyPrefix: "webapp:", Timeout: 150 * time.Millisecond, LockLease: 10 * time.Second}, c.Now)
	_, err := st.Create(ctx, newSession("s1", "alice", c))
	require.NoError(t, err)
	// Every script once, so that Redis has them cached: a stalled EVALSHA
	// of a script it does not know would change nothing anyway.
	_, err = st.Create(ctx, newSession("warm-up", "alice", c))
	require.NoError(t, err)
	_, err = st.Update(ctx, "warm-up", func(*domain.Session) error { return nil })
	require.NoError(t, err)
	_, err = st.Delete(ctx, "warm-up")
	require.NoError(t, err)
	_, err = st.Claim(ctx, "warm-up", c.Now().Add(time.Minute))
	require.NoError(t, err)

	r.pause(t)
	unavailable := &domain.Error{Code: domain.Unavailable, Service: domain.SessionStorage}
	calls := map[string]func() error{
		"update": func() error {
			_, err := st.Update(ctx, "s1", func(*domain.Session) error { t.Error("fn ran"); return nil })
			return err
		},
		"delete": func() error { _, err := st.Delete(ctx, "s1"); return err },
		"create": func() error { _, err := st.Create(ctx, newSession("s2", "bob", c)); return err },
		"claim":  func() error { _, err := st.Claim(ctx, "state-1", c.Now().Add(time.Minute)); return err },
	}
	for name, call := range calls {
		start := time.Now()
		err := call()
		assert.ErrorIs(t, err, unavailable, name)
		assert.Less(t, time.Since(start), time.Second, "%s fails fast", name)
	}
	r.resume(t)
	time.Sleep(100 * time.Millisecond) // Redis runs what queued up meanwhile

	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err = st.Update(short, "s1", func(s *domain.Session) error { s.Tokens.RefreshToken = "1"; return nil })
	require.NoError(t, err, "no lock was left behind by the stalled update or delete")
	assert.Less(t, time.Since(start), time.Second)
	_, err = st.Delete(ctx, "s2")
	assert.ErrorIs(t, err, domain.ErrNotFound, "the stalled create made no session")
	ok, err := st.Claim(ctx, "state-1", c.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.True(t, ok, "the stalled claim claimed nothing")
}
