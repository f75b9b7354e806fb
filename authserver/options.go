package authserver

import (
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/oauth2ref/authserver/internal/adapters/hashing"
	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/pkg/httpserver"
)

// Argon2Params set the cost of password hashing (see README, "Secrets").
type Argon2Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// Option configures New.
type Option func(*settings) error

type settings struct {
	Settings
	log            *zap.Logger
	auditLog       *zap.Logger
	clock          func() time.Time
	baseURL        string
	keyFile        string
	secretsDir     string
	fixtures       []string
	trustedProxies httpserver.TrustedProxies
	cookieKey      []byte
	stores         Stores
}

// Settings are the values a server starts from. Defaults gives them; the
// options change them; cmd/authserver's configuration starts from them
// too, so that each default is written once.
type Settings struct {
	Issuer           string
	SigningAlgorithm string
	// KeyRefresh is how often signing keys are reloaded from their store.
	KeyRefresh time.Duration
	// AccessTTL is the default access token lifetime, MaxAccessTTL the cap
	// on any client's own, RefreshTTL the default refresh token lifetime.
	AccessTTL, MaxAccessTTL, RefreshTTL time.Duration
	// Audience is the "aud" of access tokens whose client names none.
	Audience []string
	// Argon2 is the cost of new password hashes; HashConcurrency how many
	// run at once, HashQueue how many may wait (0: 4 per slot) and
	// HashWait for how long.
	Argon2          Argon2Params
	HashConcurrency int
	HashQueue       int
	HashWait        time.Duration
	// SecretCacheSize and VerifyCacheSize bound the verified client
	// secret and verified token caches.
	SecretCacheSize, VerifyCacheSize int
	LoginLimits                      LoginLimits
	RateLimits                       RateLimits
	// Grants are the grants the server offers.
	Grants       []Grant
	MaxBodyBytes int64
	// CodeTTL is how long an authorization code lives, SessionTTL how
	// long a new session (a browser's, or the accounts API's) lasts, and
	// MaxSessionTTL how long after it began one may be extended to last
	// (PATCH /api/sessions/{id}).
	CodeTTL, SessionTTL, MaxSessionTTL time.Duration
	// SessionsPerUser caps a user's sessions: a new one beyond it ends the
	// oldest.
	SessionsPerUser int
	// MinPassword and MaxPassword are a new password's length bounds.
	MinPassword, MaxPassword int
	// SweepInterval is how often expired entries are dropped.
	SweepInterval time.Duration
	// Registration is dynamic client registration and the developer
	// pages (WithRegistration).
	Registration Registration
}

// Defaults returns the settings of a server given no option.
func Defaults() Settings {
	return Settings{
		Issuer:           "http://localhost:5001",
		SigningAlgorithm: "ES256",
		KeyRefresh:       10 * time.Second,
		AccessTTL:        5 * time.Minute,
		MaxAccessTTL:     time.Hour,
		RefreshTTL:       30 * 24 * time.Hour,
		Audience:         []string{"resourceserver"},
		Argon2:           Argon2Params{MemoryKiB: 19456, Time: 2, Threads: 1},
		// argon2id is CPU-bound: more at once than there are cores only
		// adds 19 MiB of memory each and no throughput.
		HashConcurrency: runtime.NumCPU(),
		HashWait:        hashing.DefaultMaxWait,
		SecretCacheSize: 10000,
		// About 1 KB a token: 10,000 covers every live token of a busy
		// minute for a few MB.
		VerifyCacheSize: 10000,
		LoginLimits:     DefaultLoginLimits,
		RateLimits:      DefaultRateLimits(),
		Grants:          DefaultGrants(),
		MaxBodyBytes:    64 << 10,
		CodeTTL:         time.Minute,
		SessionTTL:      12 * time.Hour,
		MaxSessionTTL:   7 * 24 * time.Hour,
		SessionsPerUser: 100,
		MinPassword:     12,
		MaxPassword:     256,
		SweepInterval:   time.Minute,
		Registration:    DefaultRegistration(),
	}
}

func defaults() settings {
	return settings{Settings: Defaults(), log: zap.NewNop(), clock: time.Now}
}

// WithLogger sets the logger; the default discards.
func WithLogger(l *zap.Logger) Option {
	return func(s *settings) error {
		if l == nil {
			return errors.New("WithLogger: nil logger")
		}
		s.log = l
		return nil
	}
}

// WithClock sets the clock, for tests.
func WithClock(now func() time.Time) Option {
	return func(s *settings) error {
		if now == nil {
			return errors.New("WithClock: nil clock")
		}
		s.clock = now
		return nil
	}
}

// WithIssuer sets the issuer identifier: an https (or, for local use, http)
// URL with no query or fragment (RFC 8414 §2). It is the "iss" of every token.
func WithIssuer(issuer string) Option {
	return func(s *settings) error {
		u, err := url.Parse(issuer)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("WithIssuer: %q is not an http(s) URL without query or fragment", issuer)
		}
		s.Issuer = strings.TrimSuffix(issuer, "/")
		return nil
	}
}

// WithBaseURL sets the absolute URL at which Handler is mounted; endpoint
// URLs in the metadata are built on it. Default: issuer + "/oauth".
func WithBaseURL(base string) Option {
	return func(s *settings) error {
		u, err := url.Parse(base)
		if err != nil || u.Host == "" {
			return fmt.Errorf("WithBaseURL: %q is not an absolute URL", base)
		}
		s.baseURL = strings.TrimSuffix(base, "/")
		return nil
	}
}

// WithSigningAlgorithm picks ES256 (default), RS256 or EdDSA for new keys.
func WithSigningAlgorithm(alg string) Option {
	return func(s *settings) error {
		switch alg {
		case "ES256", "RS256", "EdDSA":
			s.SigningAlgorithm = alg
			return nil
		}
		return fmt.Errorf("WithSigningAlgorithm: unsupported %q", alg)
	}
}

// WithKeyFile keeps signing keys in a file, so they survive restarts. The
// default keeps them in memory: every start makes a new key.
func WithKeyFile(path string) Option {
	return func(s *settings) error {
		if path == "" {
			return errors.New("WithKeyFile: empty path")
		}
		s.keyFile = path
		return nil
	}
}

// WithKeyRefresh sets how often keys are reloaded from their store, which is
// how a rotation made elsewhere reaches this server. Keys in PostgreSQL or
// a key file are not signed with once their last load is two intervals old
// (see keyStaleness).
func WithKeyRefresh(d time.Duration) Option {
	return func(s *settings) error {
		if d <= 0 {
			return errors.New("WithKeyRefresh: must be positive")
		}
		s.KeyRefresh = d
		return nil
	}
}

// sharedKeys reports whether the signing keys live where other processes
// can rotate them: a store of the embedder's or PostgreSQL (replicas), or a
// key file (`authserver keys rotate`). Memory keys are this process's alone.
func (s settings) sharedKeys() bool {
	return s.stores.Keys != nil || s.keyFile != ""
}

// keyStaleness is how old shared keys may be when this server signs with
// them: two refresh intervals, so one failed or late reload does not stop
// signing, while a server cut off from the store stops soon. Retired keys
// are kept that much longer (jwtkeys.Options.MaxStaleness).
func (s settings) keyStaleness() time.Duration {
	if !s.sharedKeys() {
		return 0
	}
	return 2 * s.KeyRefresh
}

// WithSecretsDir sets where the secrets the server generates for fixture
// clients (generate_secret: true, the demo's admin-cli) are kept:
// <dir>/<client id>.secret, mode 0600, made at the first load and read at
// every one after. Without it such clients are not loaded (LoadSummary's
// ClientsSkipped names them). cmd/authserver passes its data_dir.
func WithSecretsDir(dir string) Option {
	return func(s *settings) error {
		if dir == "" {
			return errors.New("WithSecretsDir: empty path")
		}
		s.secretsDir = dir
		return nil
	}
}

// WithFixtures loads scopes, clients and users from JSON or YAML files at start.
func WithFixtures(paths ...string) Option {
	return func(s *settings) error {
		for _, p := range paths {
			if p == "" {
				return errors.New("WithFixtures: empty path")
			}
		}
		s.fixtures = append(s.fixtures, paths...)
		return nil
	}
}

// WithTokenLifetimes sets the default access token lifetime, the cap on any
// client's own access token lifetime, and the default refresh token lifetime.
func WithTokenLifetimes(access, maxAccess, refresh time.Duration) Option {
	return func(s *settings) error {
		if access <= 0 || maxAccess <= 0 || refresh <= 0 {
			return errors.New("WithTokenLifetimes: lifetimes must be positive")
		}
		s.AccessTTL, s.MaxAccessTTL, s.RefreshTTL = access, maxAccess, refresh
		return nil
	}
}

// WithAudience sets the "aud" of access tokens whose client names none.
func WithAudience(aud ...string) Option {
	return func(s *settings) error {
		if len(aud) == 0 {
			return errors.New("WithAudience: at least one audience")
		}
		s.Audience = aud
		return nil
	}
}

// WithPasswordHashing sets argon2id's cost for new hashes and how many
// hashes may run at once (each takes MemoryKiB).
func WithPasswordHashing(p Argon2Params, concurrency int) Option {
	return func(s *settings) error {
		if p.MemoryKiB < 8 || p.Time < 1 || p.Threads < 1 || concurrency < 1 {
			return errors.New("WithPasswordHashing: parameters out of range")
		}
		s.Argon2, s.HashConcurrency = p, concurrency
		return nil
	}
}

// LoginLimits throttle the guessing of passwords and client secrets (NIST
// SP 800-63B §5.2.2; see the README's "Security notes"). Every attempt is
// counted before the secret is checked. The first failures under a counter
// are free; after them each attempt must wait BaseDelay, doubling with
// every further failure up to MaxDelay, after the last one; a counter is
// forgotten Window after its last failure. Nobody is locked out.
type LoginLimits struct {
	// PerAccountSource failures are free for one account (or client id)
	// from one source address, or from one browser the user signed in on
	// before. A success there forgives them.
	PerAccountSource int
	// PerAccount failures are free for one account (or client id) from
	// anywhere: the ceiling on guessing spread over many addresses.
	PerAccount int
	// PerSource failures are free for one source address on the login
	// page whatever the username, and in client authentication whatever
	// the client id.
	PerSource                   int
	BaseDelay, MaxDelay, Window time.Duration
}

// DefaultLoginLimits are 5 free failures per account and source, 50 per
// account, 100 per source; then 1 s doubling to 15 min; a counter is
// forgotten a day after its last failure. The window is long on purpose: were it an hour, an attacker
// would pause for it after each burst and get the free failures back
// (about 60 guesses an hour at an account) instead of the 4 an hour that
// the 15-minute wait leaves.
var DefaultLoginLimits = LoginLimits{
	PerAccountSource: 5, PerAccount: 50, PerSource: 100,
	BaseDelay: time.Second, MaxDelay: 15 * time.Minute, Window: 24 * time.Hour,
}

// WithLoginLimits sets the throttle on password and client secret
// guessing.
func WithLoginLimits(l LoginLimits) Option {
	return func(s *settings) error {
		if l.PerAccountSource < 1 || l.PerAccount < 1 || l.PerSource < 1 ||
			l.BaseDelay <= 0 || l.MaxDelay < l.BaseDelay || l.Window < l.MaxDelay {
			return errors.New("WithLoginLimits: need free attempts >= 1 and 0 < base delay <= max delay <= window")
		}
		s.LoginLimits = l
		return nil
	}
}

// policy is the limits as the use cases take them.
func (l LoginLimits) policy() app.LimitPolicy {
	return app.NewLimitPolicy(l.PerAccountSource, l.PerAccount, l.PerSource, l.BaseDelay, l.MaxDelay, l.Window)
}

// WithPasswordQueue bounds the queue of password hashes waiting for one of
// WithPasswordHashing's slots: at most maxWaiting (default 4 per slot),
// each for at most maxWait (default 2 s). A hash past either bound is
// refused at once: 503 temporarily_unavailable with Retry-After.
func WithPasswordQueue(maxWaiting int, maxWait time.Duration) Option {
	return func(s *settings) error {
		if maxWaiting < 0 || maxWait <= 0 {
			return errors.New("WithPasswordQueue: maxWaiting >= 0 (0: 4 per slot) and maxWait > 0")
		}
		s.HashQueue, s.HashWait = maxWaiting, maxWait
		return nil
	}
}

// WithTrustedProxies names the networks (CIDRs, or single addresses) whose
// X-Forwarded-For is believed when counting attempts by source address:
// reverse proxies in front of the server, and first-party clients that
// forward their users' addresses on the password grant (the webapp does).
// Requests from anywhere else are counted by their peer address. None by
// default.
func WithTrustedProxies(cidrs ...string) Option {
	return func(s *settings) error {
		tp, err := httpserver.ParseTrustedProxies(cidrs)
		if err != nil {
			return fmt.Errorf("WithTrustedProxies: %w", err)
		}
		s.trustedProxies = tp
		return nil
	}
}

// WithCookieKey sets the secret that signs the login page's known-device
// cookies: at least 32 random bytes, the same on every replica. Without
// it a random key is made at start, so devices are forgotten on restart
// and not recognised by other replicas (their owners then sign in like
// anyone else, under the per-source limits).
func WithCookieKey(key []byte) Option {
	return func(s *settings) error {
		if len(key) < 32 {
			return errors.New("WithCookieKey: at least 32 bytes")
		}
		s.cookieKey = append([]byte(nil), key...)
		return nil
	}
}

// WithGrants sets which grants the server offers.
func WithGrants(g ...Grant) Option {
	return func(s *settings) error {
		for _, x := range g {
			if !slices.Contains(AllGrants(), x) {
				return fmt.Errorf("WithGrants: unknown grant %q (grants: %v)", x, AllGrants())
			}
		}
		s.Grants = g
		return nil
	}
}

// WithMaxBodyBytes caps request bodies.
func WithMaxBodyBytes(n int64) Option {
	return func(s *settings) error {
		if n < 1024 {
			return errors.New("WithMaxBodyBytes: at least 1024")
		}
		s.MaxBodyBytes = n
		return nil
	}
}

// WithVerifyCacheSize sets how many verified access tokens introspection
// remembers (each about 1 KB), so a token presented again skips the
// signature check. Revocation is checked on every call regardless.
func WithVerifyCacheSize(n int) Option {
	return func(s *settings) error {
		if n < 1 {
			return errors.New("WithVerifyCacheSize: at least 1")
		}
		s.VerifyCacheSize = n
		return nil
	}
}

// WithCodeLifetime sets how long an authorization code may wait to be
// redeemed: at most a minute (RFC 6749 §4.1.2 recommends ten at most; a
// client redeems it at once, so shorter is safer).
func WithCodeLifetime(d time.Duration) Option {
	return func(s *settings) error {
		if d <= 0 || d > time.Minute {
			return errors.New("WithCodeLifetime: between 1ns and 60s")
		}
		s.CodeTTL = d
		return nil
	}
}

// WithSessionLifetime sets how long a browser stays signed in.
func WithSessionLifetime(d time.Duration) Option {
	return func(s *settings) error {
		if d <= 0 {
			return errors.New("WithSessionLifetime: must be positive")
		}
		s.SessionTTL = d
		return nil
	}
}

// WithSessionLimits sets how long after it began a session may be
// extended to last (PATCH /api/sessions/{id}; at least the session
// lifetime, which it is raised to if shorter) and how many sessions a user
// keeps: a new one beyond perUser ends the oldest.
func WithSessionLimits(maxLifetime time.Duration, perUser int) Option {
	return func(s *settings) error {
		if maxLifetime <= 0 || perUser < 1 {
			return errors.New("WithSessionLimits: need a positive lifetime and at least one session per user")
		}
		s.MaxSessionTTL, s.SessionsPerUser = maxLifetime, perUser
		return nil
	}
}

// WithPasswordPolicy sets the length a new password must have (NIST SP
// 800-63B: length, not composition rules).
func WithPasswordPolicy(minLen, maxLen int) Option {
	return func(s *settings) error {
		if minLen < 1 || maxLen < minLen || maxLen > 4096 {
			return errors.New("WithPasswordPolicy: need 1 <= min <= max <= 4096")
		}
		s.MinPassword, s.MaxPassword = minLen, maxLen
		return nil
	}
}

// WithAuditLog sets where audit events go when they are not stored in
// PostgreSQL. It should log at info whatever the service's log level: an
// audit trail must not thin out when the log is made quieter. Default: the
// service logger.
func WithAuditLog(l *zap.Logger) Option {
	return func(s *settings) error {
		if l == nil {
			return errors.New("WithAuditLog: nil logger")
		}
		s.auditLog = l
		return nil
	}
}

// RateLimit is a token bucket: at most Burst requests at once, refilled at
// PerSecond requests a second.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

func (l RateLimit) domain() domain.RateLimit {
	return domain.RateLimit{PerSecond: l.PerSecond, Burst: l.Burst}
}

// RateLimits are the request rate limits (README, "Rate limits"). Past a
// budget a request gets 429 with Retry-After; every answer of a limited
// endpoint carries the RateLimit-Policy and RateLimit header fields.
// Buckets live in Redis when the rate_limits storage group does, shared by
// every replica on it, else in this process's memory.
type RateLimits struct {
	// Disabled turns request rate limits off: no buckets, no header
	// fields, no 429.
	Disabled bool
	// Source is each source address's budget at the OAuth endpoints and
	// the pages, checked before anything else (an IPv6 address counts by
	// its /64). The JWKS, the metadata and the pages' static files have a
	// bucket of their own with ten times as much.
	Source RateLimit
	// Client is each client's budget at the token, introspection and
	// revocation endpoints, unless its record sets its own (rate_limit in
	// fixtures). It is spent once the client has authenticated.
	Client RateLimit
}

// DefaultRateLimits are the limits a server has unless told otherwise:
// 1,000 requests a second per source address and per client, in bursts of
// up to 2,000. Far above what a person or a well-behaved client sends, they
// keep one address or one client from taking the whole server.
func DefaultRateLimits() RateLimits {
	return RateLimits{
		Source: RateLimit{PerSecond: 1000, Burst: 2000},
		Client: RateLimit{PerSecond: 1000, Burst: 2000},
	}
}

// WithRateLimits sets the request rate limits; the default is
// DefaultRateLimits. Rates must be positive and bursts at least 1, unless
// Disabled.
func WithRateLimits(l RateLimits) Option {
	return func(s *settings) error {
		if !l.Disabled {
			if err := l.Source.domain().Validate(); err != nil {
				return fmt.Errorf("WithRateLimits: source: %w", err)
			}
			if err := l.Client.domain().Validate(); err != nil {
				return fmt.Errorf("WithRateLimits: client: %w", err)
			}
		}
		s.RateLimits = l
		return nil
	}
}

// publicRateLimit is each source address's budget at the endpoints that
// cost little and are fetched freely: ten times its budget elsewhere.
func (l RateLimits) publicRateLimit() domain.RateLimit {
	return domain.RateLimit{PerSecond: 10 * l.Source.PerSecond, Burst: 10 * l.Source.Burst}
}
