package domain

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// ValidateOrigin checks a web origin a client registers for CORS: the
// serialised form browsers send in the Origin header (RFC 6454 §6.2),
// scheme://host[:port] with nothing after it, in lower case and without
// the scheme's default port, so that comparing strings compares origins.
// Like a redirect URI, it is https, or http only to a loopback host.
func ValidateOrigin(origin string) error {
	canonical, ok := OriginOf(origin)
	switch {
	case !ok:
		return fmt.Errorf("allowed origin %q is neither https://host[:port] nor http:// to a loopback host", origin)
	case canonical != origin:
		return fmt.Errorf("allowed origin %q must be written %q: scheme://host[:port], lower case, no path", origin, canonical)
	}
	return nil
}

// OriginOf returns the serialised origin of an absolute https URI, or of an
// http URI to a loopback host; ok is false for any other URI (a private-use
// scheme of a native app has no web origin).
func OriginOf(uri string) (origin string, ok bool) {
	u, err := url.Parse(uri)
	if err != nil || u.User != nil || u.Opaque != "" || u.Hostname() == "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if net.ParseIP(host) == nil && !dnsName(host) {
		return "", false
	}
	switch {
	case scheme == "https":
	case scheme == "http" && loopbackHost(host):
	default:
		return "", false
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	port := u.Port()
	if port != "" && !(scheme == "https" && port == "443") && !(scheme == "http" && port == "80") {
		host += ":" + port
	}
	return scheme + "://" + host, true
}

// dnsName reports whether host is made of DNS labels: letters, digits and
// hyphens between dots (no wildcards, no percent-encoding).
func dnsName(host string) bool {
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// DefaultOrigins are the origins of redirect URIs, each once, in order:
// a browser app is usually served from where it receives its answers.
func DefaultOrigins(redirectURIs []string) []string {
	out := []string{}
	for _, r := range redirectURIs {
		if o, ok := OriginOf(r); ok && !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}
