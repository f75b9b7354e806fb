package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

// Limiter keeps attempt counters (domain.Counter) in Redis, one hash per
// key with fields f (failures), p (pending), last and lease (Unix
// microseconds by the caller's clock). Each call is one Lua script over all
// its keys, so a reservation is atomic however many replicas reserve at
// once; the scripts restate domain.Counter's rules, and the conformance
// suite holds them to the same behaviour as the other backends. A refused
// reservation writes nothing, a counter that settles back to nothing is
// deleted, and every key expires when its counter would be forgotten.
//
// Calls are never retried (see Open), so an attempt is never counted
// twice. A reservation Redis runs after its caller's deadline refuses
// (LATE), so a stalled Redis that wakes up does not count attempts whose
// callers were already told it is unavailable; a settlement runs whenever
// it arrives.
type Limiter struct {
	store  *Store
	policy app.LimitPolicy
}

// Limiter returns an attempt limiter kept in this store's Redis.
func (s *Store) Limiter(policy app.LimitPolicy) *Limiter { return &Limiter{store: s, policy: policy} }

// counterLua is domain.Counter's Current, Admit, Reserve, Settle and
// Expires. Times are microseconds; a rule is {free, base, max, window,
// forgive}.
const counterLua = `
local function current(c, r, now)
	if c.p > 0 and now >= c.lease then c.p = 0 end
	if c.p == 0 and now >= c.last + r.window then
		c.f, c.p, c.last, c.lease = 0, 0, 0, 0
	end
	return c
end
local function admit(c, r, now)
	if c.f < r.free then return 0, false end
	if c.p > 0 then return 0, true end
	local d, e = r.base, c.f - r.free
	while e > 0 and d > 0 and d < r.max do d, e = d * 2, e - 1 end
	d = math.min(d, r.max)
	return math.max(c.last + d - now, 0), false
end
local function load(key)
	local v = redis.call('HMGET', key, 'f', 'p', 'last', 'lease')
	return {f = tonumber(v[1]) or 0, p = tonumber(v[2]) or 0, last = tonumber(v[3]) or 0, lease = tonumber(v[4]) or 0}
end
local function store(key, c, r, now)
	if c.f == 0 and c.p == 0 then
		redis.call('DEL', key)
		return
	end
	local ends = c.last + r.window
	if c.p > 0 and c.lease > ends then ends = c.lease end
	redis.call('HSET', key, 'f', c.f, 'p', c.p, 'last', string.format('%.0f', c.last), 'lease', string.format('%.0f', c.lease))
	redis.call('PEXPIRE', key, math.max(math.ceil((ends - now) / 1000), 1))
end
local function rule(i, base)
	local a = base + (i - 1) * 5
	return {free = tonumber(ARGV[a]), base = tonumber(ARGV[a + 1]), max = tonumber(ARGV[a + 2]),
		window = tonumber(ARGV[a + 3]), forgive = ARGV[a + 4] == '1'}
end
`

// reserveScript: ARGV[1] the caller's deadline (lateCheck), ARGV[2] its
// now, ARGV[3] the lease, then a rule per key. It returns {1} if the
// attempt was counted, else {0, wait, busy}.
var reserveScript = goredis.NewScript(lateCheck + counterLua + `
local now, leaseFor = tonumber(ARGV[2]), tonumber(ARGV[3])
local cs, rs = {}, {}
local wait, busy = 0, false
for i, key in ipairs(KEYS) do
	rs[i] = rule(i, 4)
	cs[i] = current(load(key), rs[i], now)
	local w, b = admit(cs[i], rs[i], now)
	wait, busy = math.max(wait, w), busy or b
end
if wait > 0 or busy then
	return {0, wait, busy and 1 or 0}
end
for i, key in ipairs(KEYS) do
	local c = cs[i]
	c.f, c.p, c.last, c.lease = c.f + 1, c.p + 1, now, now + leaseFor
	store(key, c, rs[i], now)
end
return {1}
`)

// settleScript: ARGV[1] the caller's now, ARGV[2] the result (1 failed,
// 2 succeeded, 3 cancelled), then a rule per key.
var settleScript = goredis.NewScript(counterLua + `
local now, result = tonumber(ARGV[1]), ARGV[2]
for i, key in ipairs(KEYS) do
	local r = rule(i, 3)
	local c = current(load(key), r, now)
	if c.f ~= 0 or c.p ~= 0 then
		c.p = math.max(c.p - 1, 0)
		if result == '1' then
			c.last = now
		elseif result == '2' and r.forgive then
			c.f = c.p
		else
			c.f = math.max(c.f - 1, 0)
		end
	end
	store(key, c, r, now)
end
return 1
`)

// args returns the Redis keys of the keys whose rule is on, and their
// rules as script arguments.
func (l *Limiter) args(keys []app.LimitKey) ([]string, []any) {
	names := make([]string, 0, len(keys))
	rules := make([]any, 0, 5*len(keys))
	for _, k := range keys {
		r := l.policy.Rule(k.Kind)
		if !r.On() {
			continue
		}
		forgive := 0
		if r.Forgive {
			forgive = 1
		}
		names = append(names, l.store.limitKey(k.String()))
		rules = append(rules, r.Free, r.Base.Microseconds(), r.Max.Microseconds(), r.Window.Microseconds(), forgive)
	}
	return names, rules
}

// Reserve counts one attempt under every key whose rule is on, if every
// one admits it; else it counts nothing and says how long to wait.
func (l *Limiter) Reserve(ctx context.Context, keys ...app.LimitKey) error {
	names, rules := l.args(keys)
	if len(names) == 0 {
		return nil
	}
	ctx, cancel := l.store.bound(ctx)
	defer cancel()
	args := append([]any{deadline(ctx), l.store.now().UnixMicro(), domain.AttemptLease.Microseconds()}, rules...)
	res, err := reserveScript.Run(ctx, l.store.client, names, args...).Int64Slice()
	if err != nil {
		return mapErr(err)
	}
	switch {
	case len(res) == 1 && res[0] == 1:
		return nil
	case len(res) == 3 && res[0] == 0:
		return &domain.Throttled{RetryAfter: time.Duration(res[1]) * time.Microsecond, Busy: res[1] == 0 && res[2] == 1}
	}
	return fmt.Errorf("redis: the reserve script returned %v", res)
}

// Settle ends one attempt under every key that still has a counter.
func (l *Limiter) Settle(ctx context.Context, result domain.AttemptResult, keys ...app.LimitKey) error {
	names, rules := l.args(keys)
	if len(names) == 0 {
		return nil
	}
	ctx, cancel := l.store.bound(ctx)
	defer cancel()
	args := append([]any{l.store.now().UnixMicro(), int(result)}, rules...)
	return mapErr(settleScript.Run(ctx, l.store.client, names, args...).Err())
}
