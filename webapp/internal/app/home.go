package app

import (
	"context"
	"errors"
	"sync"

	"github.com/oauth2ref/webapp/internal/domain"
)

// HomeView is what the home page shows.
type HomeView struct {
	SignedIn bool
	// Ended says the request's session was ended just now, because the
	// authorization server or the resource server no longer accepts its
	// grant (the user revoked it, or it expired). SignedIn is false then.
	Ended bool
	// CSRFToken is the session's, for the page's forms.
	CSRFToken domain.Secret
	// Name is the signed-in user's, to greet them by; "" if unknown.
	Name string
	// Times are the user's times, one per kind (current, then epoch time), each with its own
	// failure; empty when Err is set.
	Times []TimeResult
	// Err is a failure that kept every time from being read: the session's
	// tokens could not be refreshed (the authserver is down, say).
	Err error
}

// TimeResult is one time read for the home page, or why it could not be.
type TimeResult struct {
	Kind   domain.TimeKind
	Answer domain.TimeAnswer
	Err    error
}

// Home reads the signed-in user's times with the session's access token,
// refreshing the tokens first if the access token has expired. An empty or
// unknown sessionID is a signed-out view, not an error. Upstream failures
// are in the view; the error return is for the webapp's own failures.
func (b *Browser) Home(ctx context.Context, sessionID domain.Secret) (HomeView, error) {
	if sessionID == "" {
		return HomeView{}, nil
	}
	// The refresh runs under the session's exclusive hold, so concurrent
	// page loads never spend one refresh token twice (the authserver would
	// take that for theft and revoke the whole grant); whoever waited finds
	// the new tokens and needs no refresh. It must finish even if the
	// browser gives up on the page: once the authserver answers, the old
	// refresh token is spent and its answer holds the only copy of the new
	// one. The authserver client's timeout still bounds it.
	refreshCtx := context.WithoutCancel(ctx)
	s, err := b.d.Sessions.Update(ctx, sessionID, func(s *domain.Session) error {
		t, err := b.d.Renewer.Fresh(refreshCtx, s.Tokens)
		if err != nil {
			return err
		}
		s.Tokens = t
		return nil
	})
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return HomeView{}, nil
	case domain.CodeOf(err) == domain.SessionEnded:
		return b.end(ctx, sessionID)
	case err != nil && domain.CodeOf(err) == "":
		return HomeView{}, err
	case err != nil:
		return HomeView{SignedIn: true, CSRFToken: s.CSRFToken, Name: s.Name, Err: err}, nil
	}

	results := make([]TimeResult, len(kinds))
	var wg sync.WaitGroup
	for i, kind := range kinds {
		wg.Go(func() {
			ans, err := b.d.Times.ReadTime(ctx, s.Tokens.AccessToken, kind)
			results[i] = TimeResult{Kind: kind, Answer: ans, Err: err}
		})
	}
	wg.Wait()
	for _, r := range results {
		if tokenRejected(r.Err) {
			return b.end(ctx, sessionID)
		}
	}
	return HomeView{SignedIn: true, CSRFToken: s.CSRFToken, Name: s.Name, Times: results}, nil
}

// tokenRejected reports whether the resource server refused the access
// token itself (401, RFC 6750 §3.1 invalid_token): it is revoked or
// expired, and a fresh one from the same grant would fare no better.
func tokenRejected(err error) bool {
	return domain.CodeOf(err) == domain.TokenRejected
}

// end deletes the session whose grant is no longer accepted.
func (b *Browser) end(ctx context.Context, sessionID domain.Secret) (HomeView, error) {
	if _, err := b.d.Sessions.Delete(ctx, sessionID); err != nil && !errors.Is(err, domain.ErrNotFound) {
		return HomeView{}, err
	}
	return HomeView{Ended: true}, nil
}
