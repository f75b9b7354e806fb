package app

import (
	"context"
	"errors"
	"time"

	"github.com/oauth2ref/authserver/internal/domain"
)

// GrantView is one client a user has let in, for the account page.
type GrantView struct {
	Client  domain.Client
	Consent domain.Consent
}

// Grants lists and revokes what users have let clients have.
type Grants struct {
	consents    ConsentStore
	clients     ClientFinder
	refresh     UserClientRevoker
	revocations RevocationStore
	maxTTL      time.Duration
	now         Clock
	audit       auditor
}

// NewGrants returns Grants. maxAccessTTL is the longest any access token
// lives: how long a revocation must be remembered. audit may be nil.
func NewGrants(consents ConsentStore, clients ClientFinder, refresh UserClientRevoker, revocations RevocationStore, audit AuditLog, maxAccessTTL time.Duration, now Clock) *Grants {
	return &Grants{consents: consents, clients: clients, refresh: refresh, revocations: revocations, maxTTL: maxAccessTTL, now: now, audit: auditor{log: audit, now: now}}
}

// List returns the user's grants, by client id.
func (g *Grants) List(ctx context.Context, userID string) ([]GrantView, error) {
	consents, err := g.consents.ListConsents(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]GrantView, 0, len(consents))
	for _, c := range consents {
		client, err := g.clients.FindClient(ctx, c.ClientID)
		if errors.Is(err, domain.ErrNotFound) {
			client = domain.Client{ID: c.ClientID, Name: c.ClientID + " (deleted)"}
		} else if err != nil {
			return nil, err
		}
		out = append(out, GrantView{Client: client, Consent: c})
	}
	return out, nil
}

// Revoke withdraws a user's grant to a client: the consent, every refresh
// token the client holds for the user (and any family an exchange of an
// earlier code is still creating), the user's outstanding codes for the
// client, and every access token issued to it for the user until now. The
// next resource call with any of them fails.
func (g *Grants) Revoke(ctx context.Context, userID, clientID string) error {
	at := g.now()
	if err := g.consents.DeleteConsent(ctx, userID, clientID); err != nil {
		return err
	}
	if err := g.refresh.RevokeUserClientTokens(ctx, userID, clientID, at); err != nil {
		return err
	}
	// Stamped after the refresh tokens are revoked (see revokeFamily). The
	// mark also refuses codes issued before it, so it outlives them too.
	now := g.now()
	err := g.revocations.Revoke(ctx, consentKey(userID, clientID), now, revokeFor(now, max(g.maxTTL, domain.MaxCodeTTL)))
	g.audit.record(ctx, outcome(domain.AuditEvent{Type: domain.AuditGrantRevoked, ClientID: clientID, UserID: userID}, err, "account page"))
	return err
}
