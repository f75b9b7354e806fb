package app

import (
	"context"
	"errors"
	"time"

	"github.com/oauth2ref/authserver/internal/domain"
)

// Revoker answers RFC 7009 revocation requests.
type Revoker struct {
	verifier    AccessTokenVerifier
	revocations RevocationStore
	refresh     RefreshTokenStore
	now         Clock
	audit       auditor
}

// NewRevoker returns a Revoker. refresh and audit may be nil.
func NewRevoker(v AccessTokenVerifier, r RevocationStore, refresh RefreshTokenStore, audit AuditLog, now Clock) *Revoker {
	return &Revoker{verifier: v, revocations: r, refresh: refresh, now: now, audit: auditor{log: audit, now: now}}
}

var errNotYourToken = domain.Errorf(domain.UnauthorizedClient, "the token was not issued to this client")

// Revoke revokes token on behalf of caller. Revoking a refresh token revokes
// its whole family and the access tokens issued from it (§2.1 allows, and RFC
// 9700 recommends, taking the grant down with it). An unknown, invalid or
// expired token is not an error (§2.2): there is nothing left to revoke.
func (r *Revoker) Revoke(ctx context.Context, caller domain.Client, token, hint string) error {
	if token == "" {
		return domain.Errorf(domain.InvalidRequest, "token is required")
	}
	if hint == HintRefreshToken {
		if found, err := r.revokeRefresh(ctx, caller, token); found || err != nil {
			return err
		}
		_, err := r.revokeAccess(ctx, caller, token)
		return err
	}
	if found, err := r.revokeAccess(ctx, caller, token); found || err != nil {
		return err
	}
	_, err := r.revokeRefresh(ctx, caller, token)
	return err
}

func (r *Revoker) audited(ctx context.Context, caller domain.Client, userID, kind string, err error) error {
	r.audit.record(ctx, outcome(domain.AuditEvent{Type: domain.AuditTokenRevoked, ClientID: caller.ID, UserID: userID}, err, kind))
	return err
}

func (r *Revoker) revokeAccess(ctx context.Context, caller domain.Client, token string) (bool, error) {
	t, err := r.verifier.VerifyAccessToken(ctx, token)
	if errors.Is(err, domain.ErrUnavailable) {
		return false, err // cannot tell whether it is ours
	}
	if err != nil {
		return false, nil
	}
	if t.ClientID != caller.ID {
		return true, r.audited(ctx, caller, "", HintAccessToken, errNotYourToken)
	}
	if t.Expired(r.now()) {
		return true, nil
	}
	// Kept one second past exp so that clock granularity never lets the
	// token outlive its revocation.
	now := r.now()
	err = r.revocations.Revoke(ctx, jtiKey(t.ID), now, t.ExpiresAt.Add(time.Second))
	return true, r.audited(ctx, caller, t.Subject, HintAccessToken, err)
}

func (r *Revoker) revokeRefresh(ctx context.Context, caller domain.Client, token string) (bool, error) {
	if r.refresh == nil {
		return false, nil
	}
	t, err := r.refresh.FindRefreshToken(ctx, HashToken(token))
	if errors.Is(err, domain.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if t.ClientID != caller.ID {
		return true, r.audited(ctx, caller, "", HintRefreshToken, errNotYourToken)
	}
	if t.Status == domain.RefreshRevoked {
		return true, nil
	}
	err = revokeFamily(ctx, r.refresh, r.revocations, t.FamilyID, t.AccessTTL, r.now)
	return true, r.audited(ctx, caller, t.UserID, HintRefreshToken, err)
}
