package httpapi

import "net/url"

// param is one parameter of a request read from query or form values, and
// the field of R it is read into.
type param[R any] struct {
	name  string
	field func(r *R) *string
}

// readParams reads params from v into an R. A parameter sent more than
// once is named in the field repeated points to, for validation to refuse
// (RFC 6749 §3.1, which OpenID Connect's requests share).
func readParams[R any](v url.Values, params []param[R], repeated func(r *R) *string) R {
	var req R
	for _, p := range params {
		*p.field(&req) = v.Get(p.name)
		if len(v[p.name]) > 1 {
			*repeated(&req) = p.name
		}
	}
	return req
}

// paramValues is req as query or form values again, the empty ones left
// out.
func paramValues[R any](req R, params []param[R]) url.Values {
	v := url.Values{}
	for _, p := range params {
		if val := *p.field(&req); val != "" {
			v.Set(p.name, val)
		}
	}
	return v
}
