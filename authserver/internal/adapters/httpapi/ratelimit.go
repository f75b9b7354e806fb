package httpapi

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/pkg/httpserver"
	"github.com/oauth2ref/pkg/oautherr"
)

// RateLimiter takes one request from the token bucket under key, which
// holds limit.Burst requests and refills at limit.PerSecond. The memory
// and Redis stores implement it.
type RateLimiter interface {
	// Allow takes one request from key's bucket, if it has one to give,
	// and says how the bucket stands; an error if the limiter cannot tell.
	Allow(ctx context.Context, key string, limit domain.RateLimit) (domain.RateDecision, error)
}

// RateLimitConfig says what RateLimits limits, and by how much.
type RateLimitConfig struct {
	Limiter RateLimiter
	// Source is each source address's budget at the OAuth endpoints and
	// the pages, spent before anything else happens: before the body is
	// read, a client is looked up or a secret hashed.
	Source domain.RateLimit
	// Public is each source address's budget at the JWKS, the metadata
	// document and the pages' static files, which cost little and which
	// verifiers and browsers fetch freely: a bucket apart from Source.
	Public domain.RateLimit
	// Client is each client's budget at the token, introspection and
	// revocation endpoints, unless its record sets its own. It is spent
	// only once the client has authenticated, so that nobody can spend
	// another client's budget by sending its id.
	Client domain.RateLimit
	// Register is each source address's budget of client registrations
	// (RFC 7591), spent on top of Source: a count over a window, such as
	// 100 an hour, rather than a rate.
	Register domain.RateLimit
	// TrustedProxies are the only peers whose X-Forwarded-For is believed
	// when telling a request's source address.
	TrustedProxies httpserver.TrustedProxies
	Log            *zap.Logger
}

// RateLimits puts request rate limits on the endpoints: a 429 with
// Retry-After past the budget, and on every answer of a limited endpoint,
// limited or not, the RateLimit-Policy and RateLimit fields of
// draft-ietf-httpapi-ratelimit-headers-11 (May 2026). A nil *RateLimits
// limits nothing.
//
// When the limiter cannot answer (its Redis is down or slow), requests go
// through unlimited: the limits fail open, with one warning per outage.
// Failing closed would turn a Redis outage, for a layer that only smooths
// load, into an outage of every endpoint. What must hold whatever happens,
// the brute-force limits on passwords, is a separate mechanism that fails
// closed. While the limiter is down it is asked by one request a second,
// not by each, so that a Redis that hangs does not delay every request by
// redis.timeout.
type RateLimits struct {
	cfg            RateLimitConfig
	sourcePolicy   string // the RateLimit-Policy item of each bucket kind
	publicPolicy   string
	clientPolicy   string // of the default client limit
	registerPolicy string

	down    atomic.Bool  // the last call failed
	probeAt atomic.Int64 // while down: when (unix ns) to ask again
}

// The names of the policies in the RateLimit-Policy and RateLimit fields,
// and the key spaces of their buckets.
const (
	sourcePolicy   = "source"
	publicPolicy   = "public"
	clientPolicy   = "client"
	registerPolicy = "register"
)

// probeInterval is how often a limiter that failed is asked again.
const probeInterval = time.Second

// NewRateLimits returns the rate limits of cfg, or nil (no limits) if cfg
// has no limiter.
func NewRateLimits(cfg RateLimitConfig) *RateLimits {
	if cfg.Limiter == nil {
		return nil
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	return &RateLimits{
		cfg:            cfg,
		sourcePolicy:   policyItem(sourcePolicy, cfg.Source),
		publicPolicy:   policyItem(publicPolicy, cfg.Public),
		clientPolicy:   policyItem(clientPolicy, cfg.Client),
		registerPolicy: policyItem(registerPolicy, cfg.Register),
	}
}

// allow asks the limiter; ok is false when it could not answer, and the
// request then goes on unlimited.
func (l *RateLimits) allow(ctx context.Context, key string, limit domain.RateLimit) (d domain.RateDecision, ok bool) {
	if l.down.Load() {
		at, now := l.probeAt.Load(), time.Now().UnixNano()
		if now < at || !l.probeAt.CompareAndSwap(at, now+int64(probeInterval)) {
			return d, false // another request asks it this second
		}
	}
	d, err := l.cfg.Limiter.Allow(ctx, key, limit)
	switch {
	case err != nil && ctx.Err() != nil:
		return d, false // the caller went away: says nothing of the limiter
	case err != nil:
		l.probeAt.Store(time.Now().Add(probeInterval).UnixNano())
		if l.down.CompareAndSwap(false, true) {
			l.cfg.Log.Warn("rate limiter unavailable: requests go through unlimited until it answers", zap.Error(err))
		}
		return d, false
	}
	if l.down.Load() && l.down.CompareAndSwap(true, false) {
		l.cfg.Log.Info("rate limiter answers again: limits apply")
	}
	return d, true
}

// sourceBucket is which of a source address's two buckets a route spends.
type sourceBucket int

const (
	sourceBudget   sourceBucket = iota // Source: the OAuth endpoints and pages
	publicBudget                       // Public: the JWKS, metadata and static files
	registerBudget                     // Register: client registrations, on top of Source
)

// bySource is middleware that spends one request of the source address's
// bucket and answers deny past it.
func (l *RateLimits) bySource(b sourceBucket, deny func(http.ResponseWriter, *http.Request, time.Duration)) func(http.Handler) http.Handler {
	if l == nil {
		return func(next http.Handler) http.Handler { return next }
	}
	name, policy, limit := sourcePolicy, l.sourcePolicy, l.cfg.Source
	switch b {
	case publicBudget:
		name, policy, limit = publicPolicy, l.publicPolicy, l.cfg.Public
	case registerBudget:
		name, policy, limit = registerPolicy, l.registerPolicy, l.cfg.Register
	}
	// The register bucket is spent after the source bucket, whose fields
	// it joins rather than replaces.
	fields := setRateFields
	if b == registerBudget {
		fields = addRateFields
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var buf [64]byte
			key := string(httpserver.AppendSourceKey(append(append(buf[:0], name...), ':'), l.cfg.TrustedProxies.ClientAddr(r)))
			if d, ok := l.allow(r.Context(), key, limit); ok {
				fields(w.Header(), policy, limitItem(name, d))
				if !d.Allowed {
					deny(w, r, d.RetryAfter)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// limitClients makes authenticate spend one request of each authenticated
// client's bucket: its own limit, else the default. Past it,
// authentication fails with errRateLimited.
func (l *RateLimits) limitClients(clients ClientAuthenticator) ClientAuthenticator {
	if l == nil {
		return clients
	}
	return rateLimitedClients{clients, l}
}

// clientLimiter is a ClientAuthenticator with a rate limit per client,
// which authenticate applies once the client is known.
type clientLimiter interface {
	limitClient(ctx context.Context, h http.Header, client domain.Client) error
}

type rateLimitedClients struct {
	ClientAuthenticator
	limits *RateLimits
}

func (c rateLimitedClients) limitClient(ctx context.Context, h http.Header, client domain.Client) error {
	policy := c.limits.clientPolicy
	if !client.RateLimit.IsZero() {
		policy = policyItem(clientPolicy, client.RateLimit)
	}
	d, ok := c.limits.SpendClient(ctx, client)
	if !ok {
		return nil
	}
	addRateFields(h, policy, limitItem(clientPolicy, d))
	if !d.Allowed {
		return &errRateLimited{retryAfter: d.RetryAfter}
	}
	return nil
}

// SpendClient takes one request from an authenticated client's bucket:
// its own limit, else the default. ok is false when there is no limit to
// apply (nil RateLimits, or a limiter that cannot answer and fails open).
// The endpoints spend it through authenticate; the library's programmatic
// token API spends the same bucket, so that the two doors share one budget.
func (l *RateLimits) SpendClient(ctx context.Context, client domain.Client) (d domain.RateDecision, ok bool) {
	if l == nil {
		return d, false
	}
	limit := l.cfg.Client
	if !client.RateLimit.IsZero() {
		limit = client.RateLimit
	}
	return l.allow(ctx, clientPolicy+":"+client.ID, limit)
}

// errRateLimited is a client past its budget, answered 429.
type errRateLimited struct{ retryAfter time.Duration }

func (e *errRateLimited) Error() string { return "rate limit exceeded" }

// tooManyRequests answers a request past its budget at an OAuth endpoint:
// 429 (RFC 6585 §4) with Retry-After, and an RFC 6749 §5.2 error body.
// RFC 6749 defines no code for it; invalid_request is the one that all
// three endpoints (RFC 6749 §5.2, RFC 7662 §2.3, RFC 7009 §2.2.1) may
// answer. The status and Retry-After are what tell a client to wait;
// temporarily_unavailable is registered for the authorization endpoint
// only, and here means a 503 for an outage on the server's side.
func tooManyRequests(w http.ResponseWriter, _ *http.Request, retryAfter time.Duration) {
	s := retrySeconds(retryAfter)
	w.Header().Set("Retry-After", s)
	oautherr.Write(w, http.StatusTooManyRequests, oautherr.Error{
		Code: oautherr.InvalidRequest, Description: "rate limit exceeded; retry after " + s + " s",
	})
}

// tooManyAPIRequests answers a request past its budget at the accounts
// API: 429 with Retry-After, in the API's error shape.
func tooManyAPIRequests(w http.ResponseWriter, _ *http.Request, retryAfter time.Duration) {
	s := retrySeconds(retryAfter)
	w.Header().Set("Retry-After", s)
	noStore(w)
	httpserver.JSON(w, http.StatusTooManyRequests, apiErrorBody{Errors: []apiProblem{{Message: "rate limit exceeded; retry after " + s + " s"}}})
}

// tooManyPages answers a page request past its budget: the error page.
func (p *pages) tooManyPages(w http.ResponseWriter, r *http.Request, retryAfter time.Duration) {
	s := retrySeconds(retryAfter)
	w.Header().Set("Retry-After", s)
	p.render(w, r, http.StatusTooManyRequests, "error", errorPage{
		pageData: pageData{Base: p.base},
		Title:    "Too many requests",
		Message:  "Too many requests came from your network. Please wait " + s + " seconds and try again.",
	})
}

// writeRateLimited answers err if it is errRateLimited.
func writeRateLimited(w http.ResponseWriter, r *http.Request, err error) bool {
	var rl *errRateLimited
	if !errors.As(err, &rl) {
		return false
	}
	tooManyRequests(w, r, rl.retryAfter)
	return true
}

// The header fields, as draft-ietf-httpapi-ratelimit-headers-11 has them
// (Structured Field lists; several field lines of one name make one list).
// Header names are case-insensitive; these are the forms net/http keeps
// them in, so they are set without canonicalising them on every request.
const (
	rateLimitPolicyField = "Ratelimit-Policy"
	rateLimitField       = "Ratelimit"
)

// setRateFields sets the fields to the source limit's items, with room
// for the client limit's (one allocation for the four).
func setRateFields(h http.Header, policy, limit string) {
	v := make([]string, 4)
	v[0], v[2] = policy, limit
	h[rateLimitPolicyField], h[rateLimitField] = v[0:1:2], v[2:3:4]
}

// addRateFields adds a limit's items to the fields.
func addRateFields(h http.Header, policy, limit string) {
	h[rateLimitPolicyField] = append(h[rateLimitPolicyField], policy)
	h[rateLimitField] = append(h[rateLimitField], limit)
}

// policyItem is a RateLimit-Policy item (§3.1): the token bucket as a
// quota q of Burst requests in a window w of Burst/PerSecond seconds,
// rounded up (w has no finer unit). A client that keeps within q per w
// keeps within the bucket.
func policyItem(name string, l domain.RateLimit) string {
	if l.PerSecond <= 0 {
		return "" // a bucket this configuration does not use
	}
	w := max(int64(math.Ceil(float64(l.Burst)/l.PerSecond)), 1)
	return `"` + name + `";q=` + strconv.Itoa(l.Burst) + ";w=" + strconv.FormatInt(w, 10)
}

// limitItem is a RateLimit item (§4.1): r, the requests left now, and t,
// the seconds until the bucket is full again; for a refused request r=0
// and t is Retry-After.
func limitItem(name string, d domain.RateDecision) string {
	t := d.ResetAfter
	if !d.Allowed {
		t = d.RetryAfter
	}
	var buf [64]byte
	b := append(append(append(buf[:0], '"'), name...), `";r=`...)
	b = strconv.AppendInt(b, int64(d.Remaining), 10)
	b = strconv.AppendInt(append(b, ";t="...), ceilSeconds(t), 10)
	return string(b)
}

func ceilSeconds(d time.Duration) int64 { return int64((max(d, 0) + time.Second - 1) / time.Second) }

// retrySeconds is Retry-After: whole seconds, rounded up, at least one.
func retrySeconds(d time.Duration) string { return strconv.FormatInt(max(ceilSeconds(d), 1), 10) }
