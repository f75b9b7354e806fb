package authserver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/oauth2ref/authserver/internal/adapters/auditlog"
	"github.com/oauth2ref/authserver/internal/adapters/httpapi"
	"github.com/oauth2ref/authserver/internal/adapters/jwtkeys"
	"github.com/oauth2ref/authserver/internal/adapters/storage/cache"
	"github.com/oauth2ref/authserver/internal/adapters/storage/memory"
	"github.com/oauth2ref/authserver/internal/adapters/storage/postgres"
	"github.com/oauth2ref/authserver/internal/adapters/storage/redis"
	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

// Storage backends.
const (
	Memory   = "memory"
	Postgres = "postgres"
	Redis    = "redis"
)

// The data groups, each placeable on its own backend. Redis holds only the
// groups whose entries expire.
var (
	storageGroups = []string{"clients", "users", "refresh_tokens", "revocations", "signing_keys",
		"sessions", "codes", "consents", "rate_limits", "audit"}
	redisGroups = []string{"revocations", "sessions", "codes", "rate_limits"}
)

// StorageConfig places each data group on a backend: Default for all, and
// Groups to override single ones, e.g. everything in PostgreSQL but the
// expiring groups in Redis.
type StorageConfig struct {
	Default  string
	Groups   map[string]string
	Postgres PostgresConfig
	Redis    RedisConfig
	// ConnectTimeout is how long start-up keeps trying to reach a backend
	// that is not up yet (containers start in any order).
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
	// Migrate applies pending schema migrations at start (also done by
	// `authserver migrate`). Safe with several replicas: they take turns.
	Migrate bool
}

// RedisConfig connects to Redis.
type RedisConfig struct {
	URL       string // redis://, rediss:// or unix://
	KeyPrefix string
	// Timeout bounds each Redis call as a whole (connecting included);
	// a call is never retried.
	Timeout time.Duration
}

// WithStorage places the data groups; the default is memory for all.
func WithStorage(c StorageConfig) Option {
	return func(s *settings) error {
		if err := c.validate(); err != nil {
			return fmt.Errorf("WithStorage: %w", err)
		}
		s.storage = c
		return nil
	}
}

func (c StorageConfig) backend(group string) string {
	if b, ok := c.Groups[group]; ok && b != "" {
		return b
	}
	if c.Default == "" {
		return Memory
	}
	return c.Default
}

func (c StorageConfig) uses(backend string) bool {
	for _, g := range storageGroups {
		if c.backend(g) == backend {
			return true
		}
	}
	return false
}

func (c StorageConfig) validate() error {
	switch c.Default {
	case "", Memory, Postgres:
	default:
		return fmt.Errorf("default backend %q: want memory or postgres (redis holds only %s)", c.Default, strings.Join(redisGroups, ", "))
	}
	names := make([]string, 0, len(c.Groups))
	for g := range c.Groups {
		names = append(names, g)
	}
	sort.Strings(names)
	for _, g := range names {
		b := c.Groups[g]
		if !slices.Contains(storageGroups, g) {
			return fmt.Errorf("unknown data group %q (groups: %s)", g, strings.Join(storageGroups, ", "))
		}
		switch b {
		case Memory, Postgres:
		case Redis:
			if !slices.Contains(redisGroups, g) {
				return fmt.Errorf("group %q cannot live in redis: only %s expire", g, strings.Join(redisGroups, ", "))
			}
		default:
			return fmt.Errorf("group %q: unknown backend %q", g, b)
		}
	}
	if c.ClientCacheTTL <= 0 && c.backend("clients") != Memory {
		return errors.New("client cache TTL must be positive")
	}
	if c.uses(Postgres) && c.Postgres.DSN == "" {
		return errors.New("postgres is used but no DSN is set (AUTHSERVER_POSTGRES_DSN)")
	}
	if c.uses(Redis) && c.Redis.URL == "" {
		return errors.New("redis is used but no URL is set (AUTHSERVER_REDIS_URL)")
	}
	return nil
}

// The per-group store types: each is the union of what the use cases and
// the fixture loader need of that group.
type (
	clientGroup interface {
		app.ClientFinder
		SaveClient(ctx context.Context, c domain.Client) error
		SaveScope(ctx context.Context, s domain.ScopeInfo) error
		ListScopes(ctx context.Context) ([]domain.ScopeInfo, error)
		batchSaver
		OriginAllowed(ctx context.Context, origin string) (bool, error)
		ClientOrigins(ctx context.Context) ([]string, error)
	}
	userGroup interface {
		app.UserStore
		batchSaver
	}
	// batchSaver saves fixtures in one step: all or none.
	batchSaver interface {
		SaveBatch(ctx context.Context, scopes []domain.ScopeInfo, clients []domain.Client, users []domain.User) error
	}
	refreshGroup interface {
		app.RefreshTokenStore
		app.UserClientRevoker
	}
)

// stores is every data group on its chosen backend.
type stores struct {
	clients clientGroup
	users   userGroup
	// oneBatch says clients and users share a backend, so one SaveBatch
	// writes a whole fixture load atomically.
	oneBatch    bool
	refresh     refreshGroup
	revocations app.RevocationStore
	keys        jwtkeys.Store
	sessions    app.SessionStore
	codes       app.CodeStore
	consents    app.ConsentStore
	limiter     app.Limiter
	rateLimiter httpapi.RateLimiter
	audit       app.AuditLog
	pg          *postgres.Store // nil unless a group lives in PostgreSQL

	pings    []func(context.Context) error
	sweepers []func(context.Context) error
	closers  []func()
}

// openStores opens the backends the configuration uses and places each
// group. Close releases them.
func openStores(ctx context.Context, s settings) (st *stores, err error) {
	cfg := s.storage
	st = &stores{}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	limits := s.limits.policy()

	mem := memory.New(s.clock, limits)
	st.sweepers = append(st.sweepers, mem.Sweep)

	var pg *postgres.Store
	if cfg.uses(Postgres) {
		pg, err = retryConnect(ctx, cfg.ConnectTimeout, func(ctx context.Context) (*postgres.Store, error) {
			return postgres.Open(ctx, postgres.Config{DSN: cfg.Postgres.DSN, MaxConns: cfg.Postgres.MaxConns,
				MinConns: cfg.Postgres.MinConns, QueryTimeout: cfg.Postgres.QueryTimeout}, s.clock)
		})
		if err != nil {
			return st, fmt.Errorf("postgres: %w", err)
		}
		st.pg = pg
		st.closers = append(st.closers, pg.Close)
		st.pings = append(st.pings, pg.Ping)
		st.sweepers = append(st.sweepers, pg.Sweep)
		if cfg.Postgres.Migrate {
			applied, err := pg.Migrate(ctx)
			if err != nil {
				return st, fmt.Errorf("postgres: migrate: %w", err)
			}
			if len(applied) > 0 {
				s.log.Info("postgres migrations applied", zap.Strings("migrations", applied))
			}
		}
	}
	var rd *redis.Store
	if cfg.uses(Redis) {
		rd, err = retryConnect(ctx, cfg.ConnectTimeout, func(ctx context.Context) (*redis.Store, error) {
			return redis.Open(ctx, redis.Config{URL: cfg.Redis.URL, KeyPrefix: cfg.Redis.KeyPrefix,
				Timeout: cfg.Redis.Timeout}, s.clock)
		})
		if err != nil {
			return st, fmt.Errorf("redis: %w", err)
		}
		st.closers = append(st.closers, rd.Close)
		st.pings = append(st.pings, rd.Ping)
		if cfg.backend("revocations") == Redis {
			if err := checkRevocationsDurable(ctx, rd, s.log); err != nil {
				return st, err
			}
		}
	}

	// pick returns the group's store; the compiler checks below that each
	// backend implements every group it may hold.
	pick := func(group string) any {
		switch cfg.backend(group) {
		case Postgres:
			return pg
		case Redis:
			return rd
		}
		return mem
	}
	st.clients = pick("clients").(clientGroup)
	if cfg.backend("clients") != Memory {
		st.clients = cache.NewClients(st.clients, cfg.ClientCacheTTL, 10000, s.clock)
	}
	st.users = pick("users").(userGroup)
	st.oneBatch = cfg.backend("clients") == cfg.backend("users")
	st.refresh = pick("refresh_tokens").(refreshGroup)
	st.revocations = pick("revocations").(app.RevocationStore)
	st.sessions = pick("sessions").(app.SessionStore)
	st.codes = pick("codes").(app.CodeStore)
	st.consents = pick("consents").(app.ConsentStore)

	switch b := pick("rate_limits").(type) {
	case *postgres.Store:
		st.limiter = b.Limiter(limits)
	case *redis.Store:
		st.limiter = b.Limiter(limits)
	default:
		st.limiter = mem.Limiter()
	}
	// Request rate buckets are shared in Redis, else kept in memory: a
	// database write per request is what rate limits are there to prevent,
	// so with the group in PostgreSQL each replica counts for itself.
	if cfg.backend("rate_limits") == Redis {
		st.rateLimiter = rd.RateLimiter()
	} else {
		rl := memory.NewRateLimiter(rateLimitKeys, s.clock)
		st.rateLimiter = rl
		st.sweepers = append(st.sweepers, rl.Sweep)
	}

	switch {
	case cfg.backend("signing_keys") == Postgres:
		st.keys = pg
	case s.keyFile != "":
		st.keys = jwtkeys.NewFileStore(s.keyFile)
	default:
		st.keys = mem
	}

	// Audit: with the group in PostgreSQL, each event is committed (by
	// group commit) or spooled to disk before its request is answered; else
	// it is a JSON log line.
	auditLog := s.auditLog
	if auditLog == nil {
		auditLog = s.log
	}
	if cfg.backend("audit") == Postgres {
		c, err := auditlog.NewCommitter(auditlog.Config{
			Store: auditTable{pg}, SpoolDir: s.auditSpool,
			Fallback: auditLog.Named("audit"), Log: s.log.Named("audit"),
		})
		if err != nil {
			return st, err
		}
		st.audit = c
		st.closers = append([]func(){c.Close}, st.closers...) // commit before the pool closes
	} else {
		st.audit = auditlog.NewLog(auditLog.Named("audit"))
	}
	return st, nil
}

// auditTable is the audit group in PostgreSQL as the audit committer sees it.
type auditTable struct{ pg *postgres.Store }

func (a auditTable) AppendAudit(ctx context.Context, entries []auditlog.Entry) error {
	recs := make([]postgres.AuditRecord, len(entries))
	for i, e := range entries {
		recs[i] = postgres.AuditRecord{ID: e.ID, Event: e.Event}
	}
	return a.pg.AppendAudit(ctx, recs)
}

func (a auditTable) Ping(ctx context.Context) error { return a.pg.Ping(ctx) }

// Every backend holds the groups it may be given.
var (
	_ clientGroup         = (*memory.Store)(nil)
	_ clientGroup         = (*postgres.Store)(nil)
	_ clientGroup         = (*cache.Clients)(nil)
	_ userGroup           = (*memory.Store)(nil)
	_ userGroup           = (*postgres.Store)(nil)
	_ refreshGroup        = (*postgres.Store)(nil)
	_ app.RevocationStore = (*redis.Store)(nil)
	_ app.SessionStore    = (*redis.Store)(nil)
	_ app.CodeStore       = (*redis.Store)(nil)
	_ app.ConsentStore    = (*postgres.Store)(nil)
	_ jwtkeys.Store       = (*postgres.Store)(nil)

	_ httpapi.RateLimiter = (*memory.RateLimiter)(nil)
	_ httpapi.RateLimiter = (*redis.RateLimiter)(nil)
)

// checkRevocationsDurable refuses a Redis that would forget revocations
// when it restarts: revoked access tokens would be active again.
func checkRevocationsDurable(ctx context.Context, rd *redis.Store, log *zap.Logger) error {
	p, err := rd.CheckDurable(ctx)
	switch {
	case errors.Is(err, redis.ErrNotDurable):
		return fmt.Errorf("revocations in redis: %w, and a Redis restart would make revoked tokens active again; "+
			"put revocations in postgres, or run Redis with appendonly yes and appendfsync everysec", err)
	case err != nil:
		return fmt.Errorf("redis: checking that it persists revocations: %w", err)
	case p.Fsync == "":
		log.Warn("redis: revocations rely on its append-only file, but appendfsync could not be checked " +
			"(CONFIG refused); it must be everysec or always")
	}
	return nil
}

// retryConnect keeps trying to open a backend that is unavailable, until
// timeout: at start-up a database may come up a little after this server.
// Any other error (a wrong password, a bad DSN) fails at once.
func retryConnect[T any](ctx context.Context, timeout time.Duration, open func(context.Context) (T, error)) (T, error) {
	deadline := time.Now().Add(timeout)
	for {
		v, err := open(ctx)
		if err == nil || !errors.Is(err, domain.ErrUnavailable) || time.Now().After(deadline) {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// SaveBatch saves a fixture load: in one step when clients and users share
// a backend; else the users first, then the scopes and clients, each in
// one step on its own backend, so a failure of the second leaves the
// first applied.
func (st *stores) SaveBatch(ctx context.Context, scopes []domain.ScopeInfo, clients []domain.Client, users []domain.User) error {
	if st.oneBatch {
		return st.clients.SaveBatch(ctx, scopes, clients, users)
	}
	if len(users) > 0 {
		if err := st.users.SaveBatch(ctx, nil, nil, users); err != nil {
			return err
		}
	}
	return st.clients.SaveBatch(ctx, scopes, clients, nil)
}

// Ping reports whether every backend in use answers.
func (st *stores) Ping(ctx context.Context) error {
	var errs []error
	for _, p := range st.pings {
		if err := p(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Sweep deletes expired entries in every backend that keeps them.
func (st *stores) Sweep(ctx context.Context) error {
	var errs []error
	for _, sw := range st.sweepers {
		if err := sw(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close releases the backends.
func (st *stores) Close() {
	for _, c := range st.closers {
		c()
	}
	st.closers = nil
}
