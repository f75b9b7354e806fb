package authserver

import (
	"errors"
	"fmt"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

// RegistrationMode says who may register clients at the registration
// endpoint (RFC 7591).
type RegistrationMode = app.RegistrationMode

// The registration modes.
const (
	// RegistrationOff serves no registration endpoint: the default.
	RegistrationOff = app.RegistrationOff
	// RegistrationToken requires an initial access token: an access token
	// of this server with the "register" scope, which the configuration
	// gives to a client (the demo's admin-cli has it).
	RegistrationToken = app.RegistrationToken
	// RegistrationOpen lets anyone register a client, which may then use
	// only https or loopback redirect URIs and no client_credentials; a
	// request with an initial access token is held to the token mode's
	// rules.
	RegistrationOpen = app.RegistrationOpen
)

// RegisterScope is the scope of an initial access token. Like "admin",
// only fixtures give it to a client; no registered or admin-made client
// can have it.
const RegisterScope = app.RegisterScope

// Registration configures dynamic client registration (RFC 7591, with RFC
// 7592's management by the registration access token) and the developer
// pages, where signed-in users register clients of their own.
type Registration struct {
	Mode RegistrationMode
	// PerSourcePerHour bounds the registrations one source address makes
	// in an hour (an IPv6 address counts by its /64): a token bucket of
	// that many, refilled over the hour. Counted in the rate limits'
	// store, so it is shared by replicas on one Redis, and, like them,
	// lets requests through while that store is down.
	PerSourcePerHour int
	// MaxClients bounds the clients of the registry, whoever made them:
	// past it, registration (at the endpoint and on the developer pages)
	// is refused with 503 until some are deleted. It is the bound that
	// holds whatever the number of addresses, or the state of the rate
	// limits' store.
	MaxClients int
	// ClientsPerUser bounds the clients one user registers on the
	// developer pages.
	ClientsPerUser int
	// DeveloperPages serves the developer pages (<base>/developer),
	// linked from the account page. They need the browser flows (the
	// authorization code grant).
	DeveloperPages bool
}

// DefaultRegistration is off, with the developer pages off, and the bounds
// they have when turned on: 100 registrations an hour per source address,
// 10,000 clients in all, 20 per user.
func DefaultRegistration() Registration {
	return Registration{Mode: RegistrationOff, PerSourcePerHour: 100, MaxClients: 10000, ClientsPerUser: 20}
}

// WithRegistration turns dynamic client registration and the developer
// pages on (see Registration); the default is DefaultRegistration. The
// client store must be one the admin use cases can manage (every store of
// this module is).
func WithRegistration(r Registration) Option {
	return func(s *settings) error {
		switch r.Mode {
		case RegistrationOff, RegistrationToken, RegistrationOpen:
		default:
			return fmt.Errorf("WithRegistration: mode %q: off, token or open", r.Mode)
		}
		if r.PerSourcePerHour < 1 || r.MaxClients < 1 || r.ClientsPerUser < 1 {
			return errors.New("WithRegistration: per-source, total and per-user bounds must be at least 1")
		}
		s.Registration = r
		return nil
	}
}

// enabled reports whether anything of registration is served.
func (r Registration) enabled() bool { return r.Mode != RegistrationOff || r.DeveloperPages }

// perSource is the per-source budget as a token bucket.
func (r Registration) perSource() domain.RateLimit {
	return domain.RateLimit{PerSecond: float64(r.PerSourcePerHour) / 3600, Burst: r.PerSourcePerHour}
}
