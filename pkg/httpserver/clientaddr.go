package httpserver

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// TrustedProxies are the networks whose forwarding headers are believed.
// A request from anywhere else is attributed to its peer address, whatever
// headers it carries: anyone can send X-Forwarded-For, so believing it from
// an untrusted peer would let a client pick the address its limits are
// counted under.
type TrustedProxies []netip.Prefix

// ParseTrustedProxies parses CIDRs ("10.0.0.0/8", "::1/128"); a bare
// address is a network of one.
func ParseTrustedProxies(cidrs []string) (TrustedProxies, error) {
	out := make(TrustedProxies, 0, len(cidrs))
	for _, c := range cidrs {
		c = strings.TrimSpace(c)
		if !strings.Contains(c, "/") {
			a, err := netip.ParseAddr(c)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: not an address or CIDR", c)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: not an address or CIDR", c)
		}
		out = append(out, netip.PrefixFrom(p.Addr().Unmap(), p.Bits()).Masked())
	}
	return out, nil
}

func (tp TrustedProxies) trusts(a netip.Addr) bool {
	for _, p := range tp {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// maxForwardedHops bounds how much of X-Forwarded-For is read: a client may
// send any number of entries, and only the few added by our own proxies
// matter.
const maxForwardedHops = 16

// ClientAddr is the address of the party that sent r. It is the peer,
// unless the peer is a trusted proxy: then it walks X-Forwarded-For from the
// right (the entry the nearest proxy added) past every trusted proxy, and
// takes the first address that is not one. Entries further left were
// written by the client and are never believed. The zero Addr means the
// peer address could not be read.
func (tp TrustedProxies) ClientAddr(r *http.Request) netip.Addr {
	peer := peerAddr(r)
	if !peer.IsValid() || len(tp) == 0 || !tp.trusts(peer) {
		return peer
	}
	hops := forwardedFor(r.Header.Values("X-Forwarded-For"))
	addr := peer
	for i := len(hops) - 1; i >= 0 && len(hops)-i <= maxForwardedHops; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			return addr // a malformed hop: stop at the last one we could read
		}
		addr = a.Unmap()
		if !tp.trusts(addr) {
			return addr
		}
	}
	return addr
}

// forwardedFor splits X-Forwarded-For headers into their entries, in order.
func forwardedFor(values []string) []string {
	var out []string
	for _, v := range values {
		for _, e := range strings.Split(v, ",") {
			if e = strings.TrimSpace(e); e != "" {
				out = append(out, e)
			}
		}
	}
	return out
}

func peerAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// SourceKey names where a request came from, for counting it: the address
// itself for IPv4, its /64 for IPv6, where one subscriber usually holds a
// whole /64 and could otherwise count under 2^64 names.
func SourceKey(a netip.Addr) string { return string(AppendSourceKey(nil, a)) }

// AppendSourceKey appends SourceKey(a) to b, for a caller that builds a
// longer key around it without an allocation for each part.
func AppendSourceKey(b []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return append(b, "unknown"...)
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.AppendTo(b)
	}
	return a.AppendTo(b)
}

type clientAddrKey struct{}

// WithClientAddr returns ctx carrying a, the address of the party its
// request came from.
func WithClientAddr(ctx context.Context, a netip.Addr) context.Context {
	return context.WithValue(ctx, clientAddrKey{}, a)
}

// ClientAddrFrom returns the address WithClientAddr put in ctx, if any
// (Stack.RecordClientAddr does for every request).
func ClientAddrFrom(ctx context.Context) (netip.Addr, bool) {
	a, ok := ctx.Value(clientAddrKey{}).(netip.Addr)
	return a, ok && a.IsValid()
}
