package faulttest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// RedisOptions configures a private Redis.
type RedisOptions struct {
	// AOF turns the append-only file on with appendfsync everysec: a write
	// survives Stop, and Kill a second after it. Without AOF, Redis keeps
	// nothing on disk (--save "" --appendonly no), like the shared test
	// server.
	AOF bool
	// Args are more redis-server arguments, after the harness's own, so
	// they win: e.g. "--appendfsync", "no".
	Args []string
}

// Redis is a redis-server process of the test's own, listening only on a
// unix socket in a temporary directory (no TCP port to pick and race for),
// with its data in that directory.
type Redis struct {
	tb     testing.TB
	bin    string
	dir    string
	socket string
	args   []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	client *goredis.Client
}

// StartRedis starts a private Redis and waits until it answers. It is
// killed when the test ends.
func StartRedis(tb testing.TB, opts RedisOptions) *Redis {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		Unavailable(tb, "redis-server not found in PATH; install Redis to run this test")
	}
	r := &Redis{tb: tb, bin: bin, dir: tb.TempDir()}
	r.socket = filepath.Join(r.dir, "redis.sock")
	if len(r.socket) > 100 { // a unix socket path has at most 107 bytes
		short, err := os.MkdirTemp("", "redis")
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = os.RemoveAll(short) })
		r.socket = filepath.Join(short, "redis.sock")
	}
	r.args = []string{
		"--port", "0", "--unixsocket", r.socket, "--unixsocketperm", "700",
		"--dir", r.dir, "--logfile", filepath.Join(r.dir, "redis.log"), "--daemonize", "no",
		"--save", "",
	}
	if opts.AOF {
		r.args = append(r.args, "--appendonly", "yes", "--appendfsync", "everysec")
	} else {
		r.args = append(r.args, "--appendonly", "no")
	}
	r.args = append(r.args, opts.Args...)
	tb.Cleanup(r.cleanup)
	r.Start()
	return r
}

// URL is the go-redis URL of the server: unix://<socket>.
func (r *Redis) URL() string { return "unix://" + r.socket }

// Client is a go-redis client of the server for the test's own use, with
// no retries and context deadlines respected. It lives until the test ends and reconnects after a restart.
func (r *Redis) Client() *goredis.Client {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client == nil {
		r.client = r.newClient()
	}
	return r.client
}

func (r *Redis) newClient() *goredis.Client {
	return goredis.NewClient(&goredis.Options{
		Network: "unix", Addr: r.socket, MaxRetries: -1, DialerRetries: 1, ContextTimeoutEnabled: true,
		DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second,
	})
}

// Start starts the server on its socket and data directory, again after
// Stop or Kill, and waits until it answers (an AOF is loaded by then).
func (r *Redis) Start() {
	r.tb.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running() {
		r.tb.Fatal("faulttest: Redis.Start: the server is running")
	}
	cmd := exec.CommandContext(context.Background(), r.bin, r.args...) //nolint:gosec // G204: the test's own redis-server and arguments; it outlives any one call, so it is stopped by Stop, Kill or test cleanup, not by a context
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		r.tb.Fatalf("faulttest: starting redis-server: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	r.cmd, r.exited = cmd, exited

	c := r.newClient()
	defer func() { _ = c.Close() }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		select {
		case <-exited:
			r.tb.Fatalf("faulttest: redis-server exited at start: %s", r.logTail())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.tb.Fatalf("faulttest: redis-server did not answer within 15s (%v): %s", err, r.logTail())
		}
	}
}

// Stop shuts the server down gracefully (SIGTERM: with AOF, every write is
// synced first) and waits until it has exited.
func (r *Redis) Stop() {
	r.tb.Helper()
	r.signalAndWait(syscall.SIGTERM)
}

// Kill is kill -9: the server dies at once, and with AOF keeps what it
// synced (everysec: all but the last second or so).
func (r *Redis) Kill() {
	r.tb.Helper()
	r.signalAndWait(syscall.SIGKILL)
}

func (r *Redis) signalAndWait(sig syscall.Signal) {
	r.tb.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.running() {
		r.tb.Fatal("faulttest: the Redis server is not running")
	}
	_ = r.cmd.Process.Signal(syscall.SIGCONT) // a paused server cannot act on SIGTERM
	_ = r.cmd.Process.Signal(sig)
	select {
	case <-r.exited:
	case <-time.After(15 * time.Second):
		r.tb.Fatalf("faulttest: redis-server did not exit on %v: %s", sig, r.logTail())
	}
}

// Pause stops the server (SIGSTOP) and returns once it is stopped: its
// socket still accepts connections and takes commands, but nothing
// answers, as with a server stuck on a slow disk or a long fork.
func (r *Redis) Pause() {
	r.tb.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.running() {
		r.tb.Fatal("faulttest: Redis.Pause: the server is not running")
	}
	if err := r.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		r.tb.Fatalf("faulttest: SIGSTOP: %v", err)
	}
	waitStopped(r.tb, r.cmd.Process.Pid)
}

// Resume lets a paused server go on (SIGCONT); what it was sent meanwhile
// is answered then.
func (r *Redis) Resume() {
	r.tb.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.running() {
		r.tb.Fatal("faulttest: Redis.Resume: the server is not running")
	}
	if err := r.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		r.tb.Fatalf("faulttest: SIGCONT: %v", err)
	}
}

// running reports whether the process is alive; r.mu is held.
func (r *Redis) running() bool {
	if r.cmd == nil {
		return false
	}
	select {
	case <-r.exited:
		return false
	default:
		return true
	}
}

func (r *Redis) cleanup() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client != nil {
		_ = r.client.Close()
	}
	if r.running() {
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
}

// logTail is the end of the server's log, for a failure message.
func (r *Redis) logTail() string {
	b, err := os.ReadFile(filepath.Join(r.dir, "redis.log"))
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-10):], "\n")
}

// waitStopped returns once process pid is in the stopped state, read from
// /proc where there is one; elsewhere a short sleep stands in.
func waitStopped(tb testing.TB, pid int) {
	tb.Helper()
	path := fmt.Sprintf("/proc/%d/stat", pid)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(path) //nolint:gosec // G304: /proc/<pid>/stat of our own child
		if errors.Is(err, os.ErrNotExist) {
			time.Sleep(50 * time.Millisecond)
			return
		}
		// The state follows the command name, which is in parentheses.
		if i := strings.LastIndexByte(string(b), ')'); i >= 0 && i+2 < len(b) && b[i+2] == 'T' {
			return
		}
		time.Sleep(time.Millisecond)
	}
	tb.Fatalf("faulttest: process %d did not stop", pid)
}
