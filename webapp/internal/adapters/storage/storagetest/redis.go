package storagetest

import (
	"context"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"
)

// DefaultRedisURL is the Redis the tests use when the environment names
// none.
const DefaultRedisURL = "redis://127.0.0.1:6379/0"

var (
	redisOnce sync.Once
	redisErr  error
)

// RedisURL is the Redis to test against: WEBAPP_REDIS_URL, else
// AUTHSERVER_REDIS_URL (which CI sets), else DefaultRedisURL. If nothing
// answers there the test is skipped, or fails under CI=true, where every
// test must run. Tests share it: each works under a key prefix of its own.
func RedisURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("WEBAPP_REDIS_URL")
	if u == "" {
		u = os.Getenv("AUTHSERVER_REDIS_URL")
	}
	if u == "" {
		u = DefaultRedisURL
	}
	redisOnce.Do(func() { redisErr = reachable(u) })
	if redisErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis not reachable at %s: %v", redact(u), redisErr)
		}
		t.Skipf("Redis not reachable at %s; set WEBAPP_REDIS_URL", redact(u))
	}
	return u
}

// reachable dials the server the URL names; the store's own Open checks
// that it is a Redis that answers.
func reachable(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	network, addr := "tcp", u.Host
	if u.Scheme == "unix" {
		network, addr = "unix", u.Path
	} else if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "6379")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return err
	}
	return c.Close()
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the configured URL"
	}
	return u.Redacted()
}
