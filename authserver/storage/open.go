package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/oauth2ref/authserver"
	"github.com/oauth2ref/authserver/internal/adapters/auditlog"
	"github.com/oauth2ref/authserver/internal/adapters/storage/cache"
	"github.com/oauth2ref/authserver/internal/adapters/storage/memory"
	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/authserver/storage/postgres"
	"github.com/oauth2ref/authserver/storage/redis"
)

// Env is what the stores need of the server they serve. The zero value
// will do for tools (migrate, loaddata): the real clock, a silent log,
// the default login limits.
type Env struct {
	// Clock judges expiry; the server's own (authserver.WithClock).
	Clock func() time.Time
	// Log reports connections, migrations and outages.
	Log *zap.Logger
	// LoginLimits are the server's (authserver.WithLoginLimits): the
	// guessing counters apply them.
	LoginLimits authserver.LoginLimits
	// AuditSpool is the directory where audit events wait while
	// PostgreSQL is away (authserver.WithAuditSpool); empty, none.
	AuditSpool string
	// AuditFallback logs the audit events that could be stored nowhere
	// else; default Log.
	AuditFallback *zap.Logger
}

// Set is the stores of one configuration, open. Stores goes to
// authserver.WithStores; Close releases the connections.
type Set struct {
	stores  authserver.Stores
	pg      *postgres.Store // nil unless a group lives in PostgreSQL
	closers []func()
}

// Stores returns the stores for authserver.WithStores. Groups in memory
// are memory stores of the set's own, except the signing keys and the
// audit trail, left to the server's key file and JSON log.
func (s *Set) Stores() authserver.Stores { return s.stores }

// Close releases the backends, the audit trail first (it commits what is
// queued before the pool closes).
func (s *Set) Close() {
	for _, c := range s.closers {
		c()
	}
	s.closers = nil
}

// memoryRateKeys caps the buckets of the memory rate limiter (about 200
// bytes each).
const memoryRateKeys = 1 << 16

// Open connects to the backends cfg uses, waiting up to ConnectTimeout
// for one that is not up yet, applies migrations if asked, and places
// every group.
func Open(ctx context.Context, cfg Config, env Env) (set *Set, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if env.Clock == nil {
		env.Clock = time.Now
	}
	if env.Log == nil {
		env.Log = zap.NewNop()
	}
	if env.AuditFallback == nil {
		env.AuditFallback = env.Log
	}
	if env.LoginLimits == (authserver.LoginLimits{}) {
		env.LoginLimits = authserver.DefaultLoginLimits
	}
	l := env.LoginLimits
	limits := app.NewLimitPolicy(l.PerAccountSource, l.PerAccount, l.PerSource, l.BaseDelay, l.MaxDelay, l.Window)

	set = &Set{}
	defer func() {
		if err != nil {
			set.Close()
		}
	}()
	o := opened{cfg: cfg, mem: memory.New(env.Clock, limits)}
	if cfg.Uses(Postgres) {
		if o.pg, err = openPostgres(ctx, cfg, env); err != nil {
			return set, err
		}
		set.pg = o.pg
		set.closers = append(set.closers, o.pg.Close)
	}
	if cfg.Uses(Redis) {
		if o.rd, err = openRedis(ctx, cfg, env); err != nil {
			return set, err
		}
		set.closers = append(set.closers, o.rd.Close)
	}

	st := authserver.Stores{
		Clients:       o.clients(env.Clock),
		Users:         o.users(),
		RefreshTokens: o.refreshTokens(),
		Revocations:   o.revocations(),
		Sessions:      o.sessions(),
		Codes:         o.codes(),
		Consents:      o.consents(),
		Attempts:      o.attempts(limits),
		Rates:         o.rates(env.Clock),
	}
	if cfg.Backend(Clients) == cfg.Backend(Users) {
		// The client store of a durable backend is its cache, which saves
		// through to the backend (users included) and forgets what changed.
		st.Batch = st.Clients.(authserver.BatchSaver)
	}
	if cfg.Backend(SigningKeys) == Postgres {
		st.Keys = o.pg
	}
	if cfg.Backend(Audit) == Postgres {
		c, err := auditlog.NewCommitter(auditlog.Config{
			Store: auditTable{o.pg}, SpoolDir: env.AuditSpool,
			Fallback: env.AuditFallback.Named("audit"), Log: env.Log.Named("audit"),
		})
		if err != nil {
			return set, err
		}
		st.Audit = c
		set.closers = append([]func(){c.Close}, set.closers...) // commit before the pool closes
	}
	set.stores = st
	return set, nil
}

// opened is the backends of one Open. Each method returns the store of one
// group from the backend the configuration names for it; the compiler
// checks that every backend a group may live on implements that group.
type opened struct {
	cfg Config
	mem *memory.Store
	pg  *postgres.Store
	rd  *redis.Store
}

func (o opened) clients(now func() time.Time) authserver.ClientStore {
	if o.cfg.Backend(Clients) == Postgres {
		return cache.NewClients(o.pg, o.cfg.ClientCacheTTL, 10000, now)
	}
	return o.mem
}

// usersBatch is a user store that also saves fixture loads in one step.
type usersBatch interface {
	authserver.UserStore
	authserver.BatchSaver
}

func (o opened) users() usersBatch {
	if o.cfg.Backend(Users) == Postgres {
		return o.pg
	}
	return o.mem
}

func (o opened) refreshTokens() authserver.RefreshTokenStore {
	if o.cfg.Backend(RefreshTokens) == Postgres {
		return o.pg
	}
	return o.mem
}

func (o opened) revocations() authserver.RevocationStore {
	switch o.cfg.Backend(Revocations) {
	case Postgres:
		return o.pg
	case Redis:
		return o.rd
	}
	return o.mem
}

func (o opened) sessions() authserver.SessionStore {
	switch o.cfg.Backend(Sessions) {
	case Postgres:
		return o.pg
	case Redis:
		return o.rd
	}
	return o.mem
}

func (o opened) codes() authserver.CodeStore {
	switch o.cfg.Backend(Codes) {
	case Postgres:
		return o.pg
	case Redis:
		return o.rd
	}
	return o.mem
}

func (o opened) consents() authserver.ConsentStore {
	if o.cfg.Backend(Consents) == Postgres {
		return o.pg
	}
	return o.mem
}

func (o opened) attempts(limits app.LimitPolicy) authserver.AttemptLimiter {
	switch o.cfg.Backend(RateLimits) {
	case Postgres:
		return o.pg.Limiter(limits)
	case Redis:
		return o.rd.Limiter(limits)
	}
	return o.mem.Limiter()
}

// rates are the request buckets: shared in Redis, else in this process's
// memory. A database write per request is what rate limits are there to
// prevent, so with the group in PostgreSQL each replica counts for itself.
func (o opened) rates(now func() time.Time) authserver.RateLimiter {
	if o.cfg.Backend(RateLimits) == Redis {
		return o.rd.RateLimiter()
	}
	return memory.NewRateLimiter(memoryRateKeys, now)
}

func openPostgres(ctx context.Context, cfg Config, env Env) (*postgres.Store, error) {
	pg, err := retryConnect(ctx, cfg.ConnectTimeout, func(ctx context.Context) (*postgres.Store, error) {
		return postgres.Open(ctx, postgres.Config{DSN: cfg.Postgres.DSN, MaxConns: cfg.Postgres.MaxConns,
			MinConns: cfg.Postgres.MinConns, QueryTimeout: cfg.Postgres.QueryTimeout}, env.Clock)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if cfg.Postgres.Migrate {
		applied, err := pg.Migrate(ctx)
		if err != nil {
			pg.Close()
			return nil, fmt.Errorf("postgres: migrate: %w", err)
		}
		if len(applied) > 0 {
			env.Log.Info("postgres migrations applied", zap.Strings("migrations", applied))
		}
	}
	return pg, nil
}

func openRedis(ctx context.Context, cfg Config, env Env) (*redis.Store, error) {
	rd, err := retryConnect(ctx, cfg.ConnectTimeout, func(ctx context.Context) (*redis.Store, error) {
		return redis.Open(ctx, redis.Config{URL: cfg.Redis.URL, KeyPrefix: cfg.Redis.KeyPrefix, Timeout: cfg.Redis.Timeout}, env.Clock)
	})
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	if cfg.Backend(Revocations) == Redis {
		if err := checkRevocationsDurable(ctx, rd, env.Log); err != nil {
			rd.Close()
			return nil, err
		}
	}
	return rd, nil
}

// Migrate applies the pending PostgreSQL migrations and returns their
// names.
func Migrate(ctx context.Context, cfg Config) ([]string, error) {
	if !cfg.Uses(Postgres) {
		return nil, errors.New("storage: no data group is stored in PostgreSQL; nothing to migrate")
	}
	cfg.Postgres.Migrate = false // applied below, and reported
	pg, err := openPostgres(ctx, cfg, Env{Log: zap.NewNop(), Clock: time.Now})
	if err != nil {
		return nil, err
	}
	defer pg.Close()
	return pg.Migrate(ctx)
}

// auditTable is the audit group in PostgreSQL as the audit committer sees
// it.
type auditTable struct{ pg *postgres.Store }

func (a auditTable) AppendAudit(ctx context.Context, entries []auditlog.Entry) error {
	recs := make([]postgres.AuditRecord, len(entries))
	for i, e := range entries {
		recs[i] = postgres.AuditRecord{ID: e.ID, Event: e.Event}
	}
	return a.pg.AppendAudit(ctx, recs)
}

func (a auditTable) Ping(ctx context.Context) error { return a.pg.Ping(ctx) }

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
