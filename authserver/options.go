package authserver

import (
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/oauth2ref/authserver/internal/adapters/hashing"
	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/pkg/httpserver"
)

// Grant names a grant type the server may offer. Each client still has its
// own allow-list; a grant not enabled here is refused for every client.
type Grant string

// The grants the server implements.
const (
	GrantAuthorizationCode Grant = "authorization_code"
	GrantPassword          Grant = "password"
	GrantClientCredentials Grant = "client_credentials"
	GrantRefreshToken      Grant = "refresh_token"
	// GrantImplicit (response_type=token) is legacy (RFC 9700 §2.1.2) and
	// off unless listed; each client must also be allowed it.
	GrantImplicit Grant = "implicit"
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
	log             *zap.Logger
	auditLog        *zap.Logger
	auditSpool      string
	clock           func() time.Time
	issuer          string
	baseURL         string
	algorithm       string
	keyFile         string
	keyRefresh      time.Duration
	fixtures        []string
	accessTTL       time.Duration
	maxAccessTTL    time.Duration
	refreshTTL      time.Duration
	audience        []string
	argon2          Argon2Params
	hashConcurrency int
	secretCacheSize int
	verifyCacheSize int
	limits          LoginLimits
	hashQueue       int
	hashWait        time.Duration
	trustedProxies  httpserver.TrustedProxies
	cookieKey       []byte
	grants          []Grant
	maxBodyBytes    int64
	sweepInterval   time.Duration
	codeTTL         time.Duration
	sessionTTL      time.Duration
	minPassword     int
	maxPassword     int
	storage         StorageConfig
	rateLimits      RateLimits
}

func defaults() settings {
	return settings{
		log:          zap.NewNop(),
		clock:        time.Now,
		issuer:       "http://localhost:5001",
		algorithm:    "ES256",
		keyRefresh:   10 * time.Second,
		accessTTL:    5 * time.Minute,
		maxAccessTTL: time.Hour,
		refreshTTL:   30 * 24 * time.Hour,
		audience:     []string{"resourceserver"},
		argon2:       Argon2Params{MemoryKiB: 19456, Time: 2, Threads: 1},
		// argon2id is CPU-bound: more at once than there are cores only
		// adds 19 MiB of memory each and no throughput.
		hashConcurrency: runtime.NumCPU(),
		secretCacheSize: 10000,
		// About 1 KB a token: 10,000 covers every live token of a busy
		// minute for a few MB.
		verifyCacheSize: 10000,
		limits:          DefaultLoginLimits,
		hashWait:        hashing.DefaultMaxWait,
		grants:          []Grant{GrantAuthorizationCode, GrantPassword, GrantClientCredentials, GrantRefreshToken},
		maxBodyBytes:    64 << 10,
		sweepInterval:   time.Minute,
		codeTTL:         time.Minute,
		sessionTTL:      12 * time.Hour,
		minPassword:     12,
		maxPassword:     256,
		storage:         StorageConfig{Default: Memory, ConnectTimeout: 30 * time.Second, ClientCacheTTL: 5 * time.Second},
		rateLimits:      DefaultRateLimits(),
	}
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
	return func(s *settings) error { s.clock = now; return nil }
}

// WithIssuer sets the issuer identifier: an https (or, for local use, http)
// URL with no query or fragment (RFC 8414 §2). It is the "iss" of every token.
func WithIssuer(issuer string) Option {
	return func(s *settings) error {
		u, err := url.Parse(issuer)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("WithIssuer: %q is not an http(s) URL without query or fragment", issuer)
		}
		s.issuer = strings.TrimSuffix(issuer, "/")
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
			s.algorithm = alg
			return nil
		}
		return fmt.Errorf("WithSigningAlgorithm: unsupported %q", alg)
	}
}

// WithKeyFile keeps signing keys in a file, so they survive restarts. The
// default keeps them in memory: every start makes a new key.
func WithKeyFile(path string) Option {
	return func(s *settings) error { s.keyFile = path; return nil }
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
		s.keyRefresh = d
		return nil
	}
}

// sharedKeys reports whether the signing keys live where other processes
// can rotate them: PostgreSQL (replicas) or a key file (`authserver keys
// rotate`). Memory keys are this process's alone.
func (s settings) sharedKeys() bool {
	return s.storage.backend("signing_keys") == Postgres || s.keyFile != ""
}

// keyStaleness is how old shared keys may be when this server signs with
// them: two refresh intervals, so one failed or late reload does not stop
// signing, while a server cut off from the store stops soon. Retired keys
// are kept that much longer (jwtkeys.Options.MaxStaleness).
func (s settings) keyStaleness() time.Duration {
	if !s.sharedKeys() {
		return 0
	}
	return 2 * s.keyRefresh
}

// WithFixtures loads scopes, clients and users from JSON or YAML files at start.
func WithFixtures(paths ...string) Option {
	return func(s *settings) error { s.fixtures = append(s.fixtures, paths...); return nil }
}

// WithTokenLifetimes sets the default access token lifetime, the cap on any
// client's own access token lifetime, and the default refresh token lifetime.
func WithTokenLifetimes(access, maxAccess, refresh time.Duration) Option {
	return func(s *settings) error {
		if access <= 0 || maxAccess <= 0 || refresh <= 0 {
			return errors.New("WithTokenLifetimes: lifetimes must be positive")
		}
		s.accessTTL, s.maxAccessTTL, s.refreshTTL = access, maxAccess, refresh
		return nil
	}
}

// WithAudience sets the "aud" of access tokens whose client names none.
func WithAudience(aud ...string) Option {
	return func(s *settings) error {
		if len(aud) == 0 {
			return errors.New("WithAudience: at least one audience")
		}
		s.audience = aud
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
		s.argon2, s.hashConcurrency = p, concurrency
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
		s.limits = l
		return nil
	}
}

// policy is the limits as the use cases take them.
func (l LoginLimits) policy() app.LimitPolicy {
	rule := func(free int) domain.Throttle {
		return domain.Throttle{Free: free, Base: l.BaseDelay, Max: l.MaxDelay, Window: l.Window}
	}
	return app.LimitPolicy{AccountSource: rule(l.PerAccountSource), Account: rule(l.PerAccount), Source: rule(l.PerSource)}
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
		s.hashQueue, s.hashWait = maxWaiting, maxWait
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
			switch x {
			case GrantAuthorizationCode, GrantPassword, GrantClientCredentials, GrantRefreshToken, GrantImplicit:
			default:
				return fmt.Errorf("WithGrants: unknown grant %q", x)
			}
		}
		s.grants = g
		return nil
	}
}

// WithMaxBodyBytes caps request bodies.
func WithMaxBodyBytes(n int64) Option {
	return func(s *settings) error {
		if n < 1024 {
			return errors.New("WithMaxBodyBytes: at least 1024")
		}
		s.maxBodyBytes = n
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
		s.verifyCacheSize = n
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
		s.codeTTL = d
		return nil
	}
}

// WithSessionLifetime sets how long a browser stays signed in.
func WithSessionLifetime(d time.Duration) Option {
	return func(s *settings) error {
		if d <= 0 {
			return errors.New("WithSessionLifetime: must be positive")
		}
		s.sessionTTL = d
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
		s.minPassword, s.maxPassword = minLen, maxLen
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

// WithAuditSpool sets the directory (created if missing) where audit events
// are spooled, fsynced, while the audit group's PostgreSQL cannot be written,
// and from where they are replayed into it when it answers again, or at the
// next start after a crash. Without it such events only reach the JSON log.
// It matters only with the audit group in PostgreSQL. Each process takes a
// file of its own there, so replicas may share the directory.
func WithAuditSpool(dir string) Option {
	return func(s *settings) error {
		if dir == "" {
			return errors.New("WithAuditSpool: empty directory")
		}
		s.auditSpool = dir
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

// rateLimitKeys caps the buckets of the memory rate limiter (about 200
// bytes each): past it, full buckets are dropped first.
const rateLimitKeys = 1 << 16

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
		s.rateLimits = l
		return nil
	}
}

// publicRateLimit is each source address's budget at the endpoints that
// cost little and are fetched freely: ten times its budget elsewhere.
func (l RateLimits) publicRateLimit() domain.RateLimit {
	return domain.RateLimit{PerSecond: 10 * l.Source.PerSecond, Burst: 10 * l.Source.Burst}
}
