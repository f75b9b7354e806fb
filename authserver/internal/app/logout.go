package app

import (
	"context"
	"errors"
	"slices"

	"github.com/oauth2ref/authserver/internal/domain"
)

// EndSessionRequest is an RP-Initiated Logout 1.0 request (§2), each
// parameter at most once.
type EndSessionRequest struct {
	IDTokenHint           string
	ClientID              string
	PostLogoutRedirectURI string
	State                 string
	// LogoutHint and UILocales are accepted and not acted on: the
	// browser's own session is the one ended, and the pages speak English.
	LogoutHint string
	UILocales  string
	// Repeated names a parameter that came more than once, "" if none.
	Repeated string
}

// EndSession is a logout request that passed validation.
type EndSession struct {
	Request EndSessionRequest
	// Client is the client that asked, if it said (by its id or its ID
	// token's audience); its zero value if it did not.
	Client domain.Client
	// Redirect is the registered post-logout URI to send the browser to
	// afterwards, "" to show the signed-out page instead.
	Redirect string
	// Subject is the user the id_token_hint names, "" without one.
	Subject string
}

// ClientName is the name of the client to show the user, "" if none
// asked.
func (e EndSession) ClientName() string {
	if e.Client.Name != "" {
		return e.Client.Name
	}
	return e.Client.ID
}

// Logouts validates RP-Initiated Logout requests. Ending the session is
// Accounts.EndSession's, once the user confirms.
type Logouts struct {
	clients  ClientFinder
	idTokens IDTokenVerifier
}

// NewLogouts returns Logouts. idTokens nil refuses every id_token_hint.
func NewLogouts(clients ClientFinder, idTokens IDTokenVerifier) *Logouts {
	return &Logouts{clients: clients, idTokens: idTokens}
}

// MaxLogoutParamBytes bounds each of a logout request's short parameters
// (client_id, post_logout_redirect_uri, state, the hints); an
// id_token_hint may be MaxIDTokenHintBytes.
const MaxLogoutParamBytes = 2048

// ValidateEndSession checks a logout request (RP-Initiated Logout §2,
// §3): an id_token_hint must be an ID token this server issued (an
// expired one is fine, §2), a client_id must be a known client and the
// hint's audience, and a post_logout_redirect_uri must be registered,
// exactly, for the client the request names, which it must name. An
// error is shown on a page: without a registered URI the browser is never
// sent anywhere (no open redirector).
func (l *Logouts) ValidateEndSession(ctx context.Context, req EndSessionRequest) (EndSession, error) {
	es := EndSession{Request: req}
	if req.Repeated != "" {
		return es, domain.Errorf(domain.InvalidRequest, "%s is repeated", req.Repeated)
	}
	if len(req.IDTokenHint) > MaxIDTokenHintBytes || slices.ContainsFunc([]string{req.ClientID, req.PostLogoutRedirectURI, req.State, req.LogoutHint, req.UILocales},
		func(v string) bool { return len(v) > MaxLogoutParamBytes }) {
		return es, domain.Errorf(domain.InvalidRequest, "a parameter is too long")
	}
	clientID := req.ClientID
	if req.IDTokenHint != "" {
		t, err := l.verify(ctx, req.IDTokenHint)
		if err != nil {
			return es, err
		}
		es.Subject = t.Subject
		switch {
		case clientID != "" && !slices.Contains(t.Audience, clientID):
			return es, domain.Errorf(domain.InvalidRequest, "client_id is not the audience of id_token_hint")
		case clientID == "" && len(t.Audience) > 0:
			clientID = t.Audience[0]
		}
	}
	if clientID != "" {
		c, err := l.clients.FindClient(ctx, clientID)
		switch {
		case errors.Is(err, domain.ErrNotFound):
			return es, domain.Errorf(domain.InvalidRequest, "unknown client")
		case err != nil:
			return es, err
		}
		es.Client = c
	}
	if uri := req.PostLogoutRedirectURI; uri != "" {
		switch {
		case es.Client.ID == "":
			return es, domain.Errorf(domain.InvalidRequest, "post_logout_redirect_uri needs the client: send id_token_hint or client_id")
		case !es.Client.HasPostLogoutRedirectURI(uri):
			return es, domain.Errorf(domain.InvalidRequest, "post_logout_redirect_uri is not registered for this client")
		}
		es.Redirect = uri
	}
	return es, nil
}

func (l *Logouts) verify(ctx context.Context, hint string) (domain.IDToken, error) {
	bad := domain.Errorf(domain.InvalidRequest, "id_token_hint is not one of this server's ID tokens")
	if l.idTokens == nil {
		return domain.IDToken{}, bad
	}
	t, err := l.idTokens.VerifyIDToken(ctx, hint)
	switch {
	case errors.Is(err, domain.ErrUnavailable):
		return domain.IDToken{}, err
	case err != nil:
		return domain.IDToken{}, bad
	}
	return t, nil
}
