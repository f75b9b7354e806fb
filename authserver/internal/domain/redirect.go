package domain

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// ValidateRedirectURI checks a redirect URI a client registers, the rules
// of RFC 6749 §3.1.2, RFC 8252 §7 and RFC 9700 §2.1 and §4.1: an absolute
// URI without a fragment or user information, and
//
//   - https, or
//   - http only to a loopback host (localhost, 127.0.0.0/8, [::1]), which
//     never leaves the machine (RFC 8252 §7.3), or
//   - a private-use scheme of a native app, named in reverse-domain form
//     with at least one dot (com.example.app:/callback, RFC 8252 §7.1).
//
// Matching is exact (Client.HasRedirectURI), so nothing here allows a
// pattern; a URI may still carry a query, which the answer keeps.
func ValidateRedirectURI(raw string) error {
	if raw == "" {
		return errors.New("a redirect URI is empty")
	}
	if len(raw) > 2048 {
		return errors.New("a redirect URI is longer than 2048 characters")
	}
	if strings.ContainsAny(raw, " \t\r\n\\") {
		return fmt.Errorf("redirect URI %q contains whitespace or a backslash", raw)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("redirect URI %q is not a URI", raw)
	case !u.IsAbs():
		return fmt.Errorf("redirect URI %q is not absolute", raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Errorf("redirect URI %q has a fragment (RFC 6749 §3.1.2)", raw)
	case u.User != nil:
		return fmt.Errorf("redirect URI %q carries user information", raw)
	}
	switch scheme := strings.ToLower(u.Scheme); {
	case scheme == "https":
		if u.Host == "" || u.Hostname() == "" {
			return fmt.Errorf("redirect URI %q has no host", raw)
		}
		return nil
	case scheme == "http":
		if !loopbackHost(u.Hostname()) {
			return fmt.Errorf("redirect URI %q: plain http only to a loopback host; use https (RFC 9700 §2.1)", raw)
		}
		return nil
	case strings.Contains(scheme, "."):
		// A native app's private-use scheme: nothing on the network
		// answers it, and the reverse-domain name keeps apps apart.
		if u.Host != "" {
			return fmt.Errorf("redirect URI %q: a private-use scheme takes a path, not a host (RFC 8252 §7.1)", raw)
		}
		return nil
	}
	return fmt.Errorf("redirect URI %q: scheme %q is neither https, loopback http, nor a reverse-domain private-use scheme", raw, u.Scheme)
}

// ValidateWebRedirectURI is ValidateRedirectURI without private-use
// schemes: https, or http to a loopback host. It is what a client that
// nobody vouches for may register: any app on a device can claim a
// private-use scheme, and nothing tells the registered app from another.
func ValidateWebRedirectURI(raw string) error {
	if err := ValidateRedirectURI(raw); err != nil {
		return err
	}
	if u, _ := url.Parse(raw); !strings.EqualFold(u.Scheme, "https") && !strings.EqualFold(u.Scheme, "http") {
		return fmt.Errorf("redirect URI %q: register https, or http to a loopback host (a private-use scheme needs an administrator)", raw)
	}
	return nil
}

// loopbackHost reports whether host names this machine only.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
