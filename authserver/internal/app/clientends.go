package app

import (
	"context"
	"errors"
	"time"

	"github.com/oauth2ref/authserver/internal/domain"
)

// clientEnds deletes a client and everything it holds: its access tokens
// and outstanding codes (a revocation mark on the client), its refresh
// tokens and the consents users gave it. Its id is never a client's
// again. The admin API, RFC 7592's DELETE, the developer pages and a
// closed account that owned clients all end a client with it.
//
// Everything is revoked before the client goes, so a failure half way
// leaves a client that still exists, with nothing issued, and the request
// can be sent again. The mark is stamped ahead, by the longest an access
// token lives: another replica may still accept the client from its
// client cache (storage.client_cache_ttl, which must be shorter) and
// issue tokens, which it covers too. Families created meanwhile are
// revoked again once the client is gone.
type clientEnds struct {
	clients     ClientRegistry
	refresh     ClientRevoker
	consents    ClientConsentDeleter
	revocations RevocationStore
	maxTTL      time.Duration
	now         Clock
}

// end runs the cascade on the client with the given id. Of concurrent
// ends of one client, one succeeds; the others are domain.ErrNotFound at
// the last step.
func (e clientEnds) end(ctx context.Context, id string) error {
	ctx = context.WithoutCancel(ctx) // begun, it runs to the end or to an error
	ahead := e.now().Add(e.maxTTL)
	if err := e.revocations.Revoke(ctx, clientKey(id), ahead, revokeFor(ahead, max(e.maxTTL, domain.MaxCodeTTL))); err != nil {
		return err
	}
	if err := e.refresh.RevokeClientTokens(ctx, id); err != nil {
		return err
	}
	if err := e.consents.DeleteClientConsents(ctx, id); err != nil {
		return err
	}
	if err := e.clients.DeleteClient(ctx, id); err != nil {
		return err
	}
	return e.refresh.RevokeClientTokens(ctx, id)
}

// OwnedClientStore is a registry that finds clients by owner: what a
// closing account needs to delete the clients its user registered.
type OwnedClientStore interface {
	ClientRegistry
	OwnedClients
}

// ownedClientsBatch is how many of a user's clients are read at a time
// while they are deleted.
const ownedClientsBatch = 100

// endOwned ends every client owner registered, recording each in the
// audit trail; a client another request deleted first is no error.
func (e clientEnds) endOwned(ctx context.Context, owned OwnedClients, owner string, audit auditor, why string) error {
	ended := map[string]bool{}
	for {
		list, err := owned.ListOwnedClients(ctx, owner, ownedClientsBatch)
		if err != nil {
			return err
		}
		progress := false
		for _, c := range list {
			if ended[c.ID] {
				continue // listed again by a store that lags: done already
			}
			ended[c.ID], progress = true, true
			err := e.end(ctx, c.ID)
			if errors.Is(err, domain.ErrNotFound) {
				continue // another request deleted it first
			}
			audit.record(ctx, outcome(domain.AuditEvent{Type: domain.AuditClientDeleted, ClientID: c.ID, UserID: owner}, err, why))
			if err != nil {
				return err
			}
		}
		if !progress {
			return nil
		}
	}
}
