package authclient

import (
	"net/http"

	"github.com/oauth2ref/pkg/httpserver"
)

// forwardFor sends, on each request, the address of the webapp's own
// caller in X-Forwarded-For (from pkg/httpserver.ClientAddrFrom), so that
// an authserver that trusts the webapp as a proxy counts password attempts
// by the user's address, not the webapp's: otherwise every user of the
// webapp would share one source and its limits.
type forwardFor struct{ next http.RoundTripper }

func (f forwardFor) RoundTrip(r *http.Request) (*http.Response, error) {
	if a, ok := httpserver.ClientAddrFrom(r.Context()); ok {
		r = r.Clone(r.Context()) // a RoundTripper must not change its request
		r.Header.Set("X-Forwarded-For", a.String())
	}
	return f.next.RoundTrip(r)
}

// forwarding returns a copy of hc that forwards its caller's address.
func forwarding(hc *http.Client) *http.Client {
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c := *hc
	c.Transport = forwardFor{next: next}
	return &c
}
