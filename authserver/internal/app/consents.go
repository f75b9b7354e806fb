package app

import (
	"context"
	"errors"
	"time"

	"github.com/oauth2ref/authserver/internal/domain"
)

// ClientConsent is one client a user has let in, for the account page.
type ClientConsent struct {
	Client  domain.Client
	Consent domain.Consent
}

// Consents lists and revokes what users have let clients have: each
// consent, and with it every token issued under it.
type Consents struct {
	consents    ConsentStore
	clients     ClientFinder
	refresh     UserClientRevoker
	revocations RevocationStore
	maxTTL      time.Duration
	now         Clock
	audit       auditor
}

// NewConsents returns Consents. maxAccessTTL is the longest any access token
// lives: how long a revocation must be remembered. audit may be nil.
func NewConsents(consents ConsentStore, clients ClientFinder, refresh UserClientRevoker, revocations RevocationStore, audit AuditLog, maxAccessTTL time.Duration, now Clock) *Consents {
	return &Consents{consents: consents, clients: clients, refresh: refresh, revocations: revocations, maxTTL: maxAccessTTL, now: now, audit: auditor{log: audit, now: now}}
}

// List returns the user's consents, by client id.
func (g *Consents) List(ctx context.Context, userID string) ([]ClientConsent, error) {
	consents, err := g.consents.ListConsents(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]ClientConsent, 0, len(consents))
	for _, c := range consents {
		client, err := g.clients.FindClient(ctx, c.ClientID)
		if errors.Is(err, domain.ErrNotFound) {
			client = domain.Client{ID: c.ClientID, Name: c.ClientID + " (deleted)"}
		} else if err != nil {
			return nil, err
		}
		out = append(out, ClientConsent{Client: client, Consent: c})
	}
	return out, nil
}

// MaxClientIDLength is the longest client id Revoke looks up: longer than
// any registered one (fixtures refuse them), short enough that a request
// cannot make the server hash, store or log kilobytes for it.
const MaxClientIDLength = 128

// ErrNoConsent means the user has no consent to that client: Revoke changed
// nothing.
var ErrNoConsent = errors.New("no consent to that client")

// Revoke withdraws a user's grant to a client: the consent, every refresh
// token the client holds for the user (and any family an exchange of an
// earlier code is still creating), the user's outstanding codes for the
// client, and every access token issued to it for the user until now. The
// next resource call with any of them fails.
//
// Only a consent that exists is revoked: for any other client id Revoke
// returns ErrNoConsent and writes nothing, no revocation mark and no audit
// event, so a request cannot fill the stores with marks for ids it made
// up. An id longer than MaxClientIDLength is an invalid_request before any
// look-up.
func (g *Consents) Revoke(ctx context.Context, userID, clientID string) error {
	if clientID == "" || len(clientID) > MaxClientIDLength {
		return domain.Errorf(domain.InvalidRequest, "client_id must be 1 to %d bytes", MaxClientIDLength)
	}
	consent, err := g.consents.FindConsent(ctx, userID, clientID)
	if errors.Is(err, domain.ErrNotFound) {
		return ErrNoConsent
	}
	if err != nil {
		return err
	}
	at := g.now()
	// The consent goes first: an authorization approved meanwhile saves a
	// new one, which the account page then shows, and its code, issued
	// before the mark below, is refused.
	if err := g.consents.DeleteConsent(ctx, userID, clientID); err != nil {
		return err
	}
	err = g.revokeTokens(ctx, userID, clientID, at)
	g.audit.record(ctx, outcome(domain.AuditEvent{Type: domain.AuditGrantRevoked, ClientID: clientID, UserID: userID}, err, "account page"))
	if err != nil {
		// The grant's tokens may still work: put the consent back, unless
		// a new one was given meanwhile, so the account page still lists
		// the grant and the user can try again.
		if _, ferr := g.consents.FindConsent(ctx, userID, clientID); errors.Is(ferr, domain.ErrNotFound) {
			_ = g.consents.SaveConsent(ctx, consent) // best effort: err is what the user hears of
		}
	}
	return err
}

// revokeTokens revokes the refresh tokens, then marks every access token
// and code of the user's grant to the client as revoked.
func (g *Consents) revokeTokens(ctx context.Context, userID, clientID string, at time.Time) error {
	if err := g.refresh.RevokeUserClientTokens(ctx, userID, clientID, at); err != nil {
		return err
	}
	// Stamped after the refresh tokens are revoked (see revokeFamily). The
	// mark also refuses codes issued before it, so it outlives them too.
	now := g.now()
	return g.revocations.Revoke(ctx, consentKey(userID, clientID), now, revokeFor(now, max(g.maxTTL, domain.MaxCodeTTL)))
}
