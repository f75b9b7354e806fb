package app

import (
	"context"
	"strings"

	"github.com/oauth2ref/webapp/internal/domain"
)

// SignIn is a completed sign-in.
type SignIn struct {
	Session domain.Session
	// ReturnTo is where the browser goes now: the path the sign-in was
	// started for, "" for the home page.
	ReturnTo string
	// Evicted is how many of the user's oldest sessions were ended to keep
	// within the per-user cap.
	Evicted int
	// RevokeErr is why a refresh token of a session the sign-in ended (the
	// browser's previous one, or an evicted one) could not be revoked. The
	// sessions are gone regardless; this is for the logs.
	RevokeErr error
	// NameErr is why the user's name could not be read from UserInfo: the
	// sign-in stands, the page greets them without it. For the logs.
	NameErr error
}

// notInProgress is why a callback without a live, unused attempt fails.
const notInProgress = "this browser has no sign-in in progress: it was completed already, it expired (after 10 minutes), or it was started in another browser"

// CompleteLogin checks the authorization server's answer (RFC 6749 §4.1.2)
// against the sign-in this browser started, a (the zero attempt if the
// browser brought none, or one that is not the webapp's), and if it
// belongs to it redeems the code, verifies the ID token that comes with
// the tokens (OpenID Connect Core §3.1.3.7, the attempt's nonce in it),
// reads the user's name from UserInfo, and starts a new session.
//
// The answer must carry the attempt's state (CSRF defence, RFC 6749
// §10.12) and the configured issuer (mix-up defence, RFC 9207), the error
// answers included. A code is presented at most once per attempt: the
// attempt is claimed first, so a replayed answer is refused here rather
// than by the authorization server, which would revoke the first
// sign-in's grant. oldSession, the session the browser had before, if
// any, is ended: every sign-in gets a new session id. So are the user's
// oldest sessions beyond the per-user cap, and the refresh tokens of the
// sessions ended are revoked, which ends their grants.
func (b *Browser) CompleteLogin(ctx context.Context, a domain.LoginAttempt, oldSession domain.Secret, resp domain.AuthorizationResponse) (SignIn, error) {
	now := b.d.Now()
	if a.State == "" || a.Expired(now) {
		return SignIn{}, loginFailed(notInProgress)
	}
	if !a.StateMatches(resp.State) {
		return SignIn{}, loginFailed("the answer does not belong to the sign-in this browser started (its state does not match)")
	}
	// RFC 9207 §2.4: a simple string comparison, and an answer without iss
	// is refused, since the authserver is known to send it.
	switch {
	case resp.Issuer == "":
		return SignIn{}, loginFailed("the answer does not say which authorization server sent it (no iss parameter)")
	case resp.Issuer != b.d.Issuer:
		return SignIn{}, loginFailed("the answer comes from another authorization server than the one this sign-in went to (its iss does not match)")
	}
	if resp.Error != "" {
		return SignIn{}, authorizationError(resp)
	}
	if resp.Code == "" {
		return SignIn{}, loginFailed("the answer carries neither a code nor an error")
	}

	claimed, err := b.d.Claims.Claim(ctx, a.State, a.Expires)
	if err != nil {
		return SignIn{}, err
	}
	if !claimed {
		return SignIn{}, loginFailed(notInProgress)
	}
	tokens, err := b.d.Authorizer.Exchange(ctx, resp.Code, a.Verifier)
	if err != nil {
		if domain.CodeOf(err) == domain.LoginFailed {
			// The authserver refused the code, so it can never work:
			// a replay can do no harm, and the claim's room is freed. Best
			// effort: a claim left behind lapses with the attempt. Any other
			// failure keeps the claim, since the code may have been redeemed.
			_ = b.d.Claims.Release(context.WithoutCancel(ctx), a.State)
		}
		return SignIn{}, err
	}
	if tokens.AccessToken == "" {
		return SignIn{}, &domain.Error{Code: domain.BadGateway, Service: domain.AuthServer,
			Description: "the authserver issued an empty access token"}
	}
	// OpenID Connect: the ID token, verified, says who signed in; only an
	// ID token carrying this attempt's nonce is this sign-in's.
	sub, err := b.d.Identity.Verify(ctx, tokens, a.Nonce)
	if err != nil {
		b.revokeQuietly(ctx, tokens)
		return SignIn{}, err
	}
	in := SignIn{ReturnTo: a.ReturnTo}
	name, err := b.d.Identity.Name(ctx, tokens.AccessToken, sub)
	if err != nil {
		in.NameErr = err
	}
	if oldSession != "" {
		// First, so that it does not count against the cap. Not found is
		// fine: it had expired or was never ours.
		if old, err := b.d.Sessions.Delete(ctx, oldSession); err == nil {
			in.RevokeErr = b.revoke(ctx, old.Tokens)
		}
	}
	in.Session = domain.Session{
		ID:        domain.NewRandom(),
		CSRFToken: domain.NewRandom(),
		Subject:   sub,
		Name:      name,
		Tokens:    tokens,
		Created:   now,
		Expires:   now.Add(b.d.SessionTTL),
	}
	evicted, err := b.d.Sessions.Create(ctx, in.Session)
	if err != nil {
		b.revokeQuietly(ctx, tokens)
		return SignIn{}, err
	}
	in.Evicted = len(evicted)
	for _, t := range evicted {
		if err := b.revoke(ctx, t); err != nil && in.RevokeErr == nil {
			in.RevokeErr = err
		}
	}
	return in, nil
}

// revoke revokes the refresh token of a session that has ended, if it has
// one. The session is gone, so nothing else will ever revoke it: it
// finishes even if the browser leaves.
func (b *Browser) revoke(ctx context.Context, t domain.Tokens) error {
	if t.RefreshToken == "" {
		return nil
	}
	return b.d.Revoker.Revoke(context.WithoutCancel(ctx), t.RefreshToken)
}

// revokeQuietly revokes the tokens of a sign-in that failed after its code
// was redeemed: no session holds them. Best effort, since the sign-in has
// failed already: a grant left behind lapses with its refresh token.
func (b *Browser) revokeQuietly(ctx context.Context, t domain.Tokens) {
	_ = b.revoke(ctx, t)
}

func loginFailed(desc string) error {
	return &domain.Error{Code: domain.LoginFailed, Description: desc}
}

// authorizationError is the error answer of RFC 6749 §4.1.2.1: the user
// said no, or the authorization server refused the request.
func authorizationError(resp domain.AuthorizationResponse) error {
	if resp.Error == "access_denied" {
		return &domain.Error{Code: domain.AccessDenied, Service: domain.AuthServer,
			Description: "sign-in was cancelled: access to your times was not granted"}
	}
	desc := "the authserver refused the sign-in (" + printable(resp.Error) + ")"
	if d := printable(resp.ErrorDescription); d != "" {
		desc += ": " + d
	}
	return &domain.Error{Code: domain.LoginFailed, Service: domain.AuthServer, Description: desc}
}

// printable keeps of upstream text only the characters RFC 6749 allows in
// error and error_description (%x20-21 / %x23-5B / %x5D-7E), and at most
// 200 of them, since it is shown to the user.
func printable(s string) string {
	const maxLen = 200
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < maxLen; i++ {
		c := s[i]
		if c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			b.WriteByte(c)
		}
	}
	return b.String()
}
