package faulttest

import (
	"bufio"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// within is a context for one call, cancelled when the test ends.
func within(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestRedis(t *testing.T) {
	r := StartRedis(t, RedisOptions{})
	opt, err := goredis.ParseURL(r.URL())
	require.NoError(t, err, "go-redis takes the URL")
	assert.Equal(t, "unix", opt.Network)
	c := r.Client()
	require.NoError(t, c.Set(within(t, time.Second), "k", "v", 0).Err())

	r.Pause()
	start := time.Now()
	err = c.Get(within(t, 300*time.Millisecond), "k").Err()
	assert.Error(t, err, "a paused server does not answer")
	assert.Less(t, time.Since(start), 2*time.Second)
	r.Resume()
	assert.Equal(t, "v", c.Get(within(t, 2*time.Second), "k").Val())

	r.Stop()
	assert.Error(t, c.Ping(within(t, time.Second)).Err(), "stopped")
	r.Start()
	assert.ErrorIs(t, c.Get(within(t, 2*time.Second), "k").Err(), goredis.Nil, "without AOF a restart keeps nothing")

	r.Pause()
	r.Kill() // a paused server can be killed
	r.Start()
	assert.NoError(t, c.Ping(within(t, 2*time.Second)).Err())
}

func TestRedisAOF(t *testing.T) {
	r := StartRedis(t, RedisOptions{AOF: true})
	c := r.Client()
	require.NoError(t, c.Set(within(t, time.Second), "graceful", "v", 0).Err())
	r.Stop()
	r.Start()
	assert.Equal(t, "v", c.Get(within(t, 2*time.Second), "graceful").Val(), "kept across Stop")

	require.NoError(t, c.Set(within(t, time.Second), "killed", "v", 0).Err())
	time.Sleep(1500 * time.Millisecond) // appendfsync everysec
	r.Kill()
	r.Start()
	assert.Equal(t, "v", c.Get(within(t, 2*time.Second), "killed").Val(), "kept across kill -9 after a second")

	fsync, err := c.ConfigGet(within(t, time.Second), "appendfsync").Result()
	require.NoError(t, err)
	assert.Equal(t, "everysec", fsync["appendfsync"])
	r2 := StartRedis(t, RedisOptions{AOF: true, Args: []string{"--appendfsync", "always"}})
	fsync, err = r2.Client().ConfigGet(within(t, time.Second), "appendfsync").Result()
	require.NoError(t, err)
	assert.Equal(t, "always", fsync["appendfsync"], "Args win")
}

// echoServer answers each line with itself.
func echoServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					if _, err := c.Write(append(sc.Bytes(), '\n')); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// echo sends a line through c and waits up to d for it to come back.
func echo(c net.Conn, r *bufio.Reader, d time.Duration) (string, error) {
	_ = c.SetDeadline(time.Now().Add(d))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return "", err
	}
	return r.ReadString('\n')
}

func TestProxy(t *testing.T) {
	p := NewProxy(t, echoServer(t))
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.DialTimeout("tcp", p.Addr(), time.Second)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		return c, bufio.NewReader(c)
	}
	c, r := dial()
	got, err := echo(c, r, time.Second)
	require.NoError(t, err)
	assert.Equal(t, "ping\n", got)

	p.Pause()
	_, err = echo(c, r, 200*time.Millisecond)
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "paused: no answer, connection open (%v)", err)
	fresh, freshR := dial()
	_, err = echo(fresh, freshR, 200*time.Millisecond)
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "a new connection is accepted and stalls too (%v)", err)
	p.Resume()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	got, err = r.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "ping\n", got, "what was held is delivered")
	_ = fresh.SetDeadline(time.Now().Add(time.Second))
	got, err = freshR.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "ping\n", got)

	p.Cut()
	_, err = echo(c, r, time.Second)
	assert.Error(t, err, "cut: the connection is dropped")
	again, err := net.DialTimeout("tcp", p.Addr(), time.Second)
	if err == nil { // the reset may come during the handshake or after it
		defer again.Close()
		_, err = echo(again, bufio.NewReader(again), time.Second)
	}
	assert.Error(t, err, "cut: a new connection is reset")

	p.Restore()
	c, r = dial()
	got, err = echo(c, r, time.Second)
	require.NoError(t, err)
	assert.Equal(t, "ping\n", got)
}

func TestDatabaseAndLockTable(t *testing.T) {
	var dsn string
	t.Run("database", func(t *testing.T) {
		dsn = NewDatabase(t)
		conn, err := pgx.Connect(within(t, 5*time.Second), dsn)
		require.NoError(t, err)
		defer conn.Close(context.Background())
		_, err = conn.Exec(within(t, 5*time.Second), "CREATE TABLE t (id int)")
		require.NoError(t, err)

		release := LockTable(t, dsn, "public.t")
		_, err = conn.Exec(within(t, 5*time.Second), "SET lock_timeout = '200ms'")
		require.NoError(t, err)
		_, err = conn.Exec(within(t, 5*time.Second), "SELECT * FROM t")
		assert.ErrorContains(t, err, "lock timeout", "the table is locked")
		release()
		_, err = conn.Exec(within(t, 5*time.Second), "SELECT * FROM t")
		assert.NoError(t, err, "and released")
	})
	if dsn == "" {
		return // skipped
	}
	conn, err := pgx.Connect(within(t, 5*time.Second), AdminDSN())
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var n int
	require.NoError(t, conn.QueryRow(within(t, 5*time.Second), "SELECT count(*) FROM pg_database WHERE datname = $1",
		withoutDSNPrefix(t, dsn)).Scan(&n))
	assert.Zero(t, n, "dropped when the test ended")
}

func withoutDSNPrefix(t *testing.T, dsn string) string {
	cfg, err := pgx.ParseConfig(dsn)
	require.NoError(t, err)
	return cfg.Database
}

func TestWithDatabase(t *testing.T) {
	assert.Equal(t, "postgres://u:p@h:5432/db2?sslmode=disable", withDatabase("postgres://u:p@h:5432/postgres?sslmode=disable", "db2"))
	assert.Equal(t, "host=h user=u dbname=postgres dbname=db2", withDatabase("host=h user=u dbname=postgres", "db2"))
	cfg, err := pgx.ParseConfig(withDatabase("host=h user=u dbname=postgres", "db2"))
	require.NoError(t, err)
	assert.Equal(t, "db2", cfg.Database, "the later key wins")
}
