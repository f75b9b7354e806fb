// Package storage places the authorization server's data groups on
// backends by configuration: memory, PostgreSQL (authserver/storage/postgres)
// and Redis (authserver/storage/redis), each group on its own. Open returns
// the stores for authserver.WithStores.
//
// It is a package of its own so that a program embedding the server with
// memory storage, or stores of its own, links no database driver.
package storage

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/oauth2ref/authserver/storage/postgres"
	"github.com/oauth2ref/authserver/storage/redis"
)

// Backend is where a data group lives.
type Backend string

// The backends.
const (
	Memory   Backend = "memory"
	Postgres Backend = "postgres"
	Redis    Backend = "redis"
)

// Backends lists every backend.
func Backends() []Backend { return []Backend{Memory, Postgres, Redis} }

// Group is a data group: what one store holds.
type Group string

// The data groups.
const (
	Clients       Group = "clients" // and scopes
	Users         Group = "users"
	RefreshTokens Group = "refresh_tokens"
	Revocations   Group = "revocations"
	SigningKeys   Group = "signing_keys"
	Sessions      Group = "sessions"
	Codes         Group = "codes"
	Consents      Group = "consents"
	RateLimits    Group = "rate_limits" // guessing counters and request buckets
	Audit         Group = "audit"
)

// Groups lists every data group.
func Groups() []Group {
	return []Group{Clients, Users, RefreshTokens, Revocations, SigningKeys, Sessions, Codes, Consents, RateLimits, Audit}
}

// RedisGroups lists the groups Redis may hold: those whose entries expire.
func RedisGroups() []Group { return []Group{Revocations, Sessions, Codes, RateLimits} }

// Config places each data group on a backend: Default for all, Groups to
// override single ones, e.g. everything in PostgreSQL but the expiring
// groups in Redis.
type Config struct {
	Default  Backend
	Groups   map[Group]Backend
	Postgres PostgresConfig
	Redis    RedisConfig
	// ConnectTimeout is how long Open keeps trying to reach a backend that
	// is not up yet (containers start in any order).
	ConnectTimeout time.Duration
	// ClientCacheTTL is how long clients read from a durable store are kept
	// in memory: a change made on another replica takes that long to apply.
	ClientCacheTTL time.Duration
}

// PostgresConfig connects to PostgreSQL.
type PostgresConfig struct {
	DSN          string
	MaxConns     int32
	MinConns     int32
	QueryTimeout time.Duration
	// Migrate applies pending schema migrations when the stores open
	// (Migrate does it on its own). Safe with several replicas: they take
	// turns.
	Migrate bool
}

// RedisConfig connects to Redis.
type RedisConfig struct {
	URL       string // redis://, rediss:// or unix://
	KeyPrefix string
	// Timeout bounds each Redis call as a whole (connecting included); a
	// call is never retried.
	Timeout time.Duration
}

// Backend returns the backend of group.
func (c Config) Backend(group Group) Backend {
	if b, ok := c.Groups[group]; ok && b != "" {
		return b
	}
	if c.Default == "" {
		return Memory
	}
	return c.Default
}

// Uses reports whether any group lives on backend.
func (c Config) Uses(backend Backend) bool {
	for _, g := range Groups() {
		if c.Backend(g) == backend {
			return true
		}
	}
	return false
}

// Validate checks the placement and that the backends it uses are
// configured.
func (c Config) Validate() error {
	switch c.Default {
	case "", Memory, Postgres:
	default:
		return fmt.Errorf("storage: default backend %q: want memory or postgres (redis holds only %s)", c.Default, names(RedisGroups()))
	}
	groups := make([]Group, 0, len(c.Groups))
	for g := range c.Groups {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	for _, g := range groups {
		b := c.Groups[g]
		if !slices.Contains(Groups(), g) {
			return fmt.Errorf("storage: unknown data group %q (groups: %s)", g, names(Groups()))
		}
		switch b {
		case Memory, Postgres:
		case Redis:
			if !slices.Contains(RedisGroups(), g) {
				return fmt.Errorf("storage: group %q cannot live in redis: only %s expire", g, names(RedisGroups()))
			}
		default:
			return fmt.Errorf("storage: group %q: unknown backend %q", g, b)
		}
	}
	if c.ClientCacheTTL <= 0 && c.Backend(Clients) != Memory {
		return errors.New("storage: ClientCacheTTL must be positive when clients are not in memory")
	}
	if c.Uses(Postgres) && c.Postgres.DSN == "" {
		return errors.New("storage: PostgreSQL holds a group but Postgres.DSN is empty")
	}
	if c.Uses(Redis) && c.Redis.URL == "" {
		return errors.New("storage: Redis holds a group but Redis.URL is empty")
	}
	return nil
}

func names[T ~string](list []T) string {
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = string(v)
	}
	return strings.Join(out, ", ")
}

// Defaults is the placement of a server given no configuration: every
// group in memory, and the settings PostgreSQL and Redis get when a group
// is put there.
func Defaults() Config {
	return Config{
		Default:        Memory,
		Groups:         map[Group]Backend{},
		ConnectTimeout: 30 * time.Second,
		ClientCacheTTL: 5 * time.Second,
		Postgres:       PostgresConfig{MaxConns: 20, MinConns: 2, QueryTimeout: postgres.DefaultQueryTimeout, Migrate: true},
		Redis:          RedisConfig{KeyPrefix: redis.DefaultKeyPrefix, Timeout: redis.DefaultTimeout},
	}
}
