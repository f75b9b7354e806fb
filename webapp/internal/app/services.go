package app

import (
	"context"
	"time"

	"github.com/oauth2ref/webapp/internal/domain"
)

// TokenSource gets an access token for a user from the authorization server.
// It returns *domain.Error values naming domain.AuthServer: InvalidCredentials
// when the user's credentials are refused, Unavailable when the server cannot
// be reached in time, BadGateway for any other unexpected answer.
type TokenSource interface {
	// Token returns an access token for creds with exactly scope ("" asks for
	// the client's default scopes).
	Token(ctx context.Context, creds domain.Credentials, scope string) (domain.Secret, error)
}

// TimeReader reads one kind of time from the resource server with a bearer
// token. It returns *domain.Error values naming domain.ResourceServer:
// Unavailable, TokenRejected, NotGranted or BadGateway.
type TimeReader interface {
	// ReadTime reads the time of the given kind, presenting token.
	ReadTime(ctx context.Context, token domain.Secret, kind domain.TimeKind) (domain.TimeAnswer, error)
}

// Authorizer is the client side of the authorization code grant with PKCE
// (RFC 6749 §4.1, RFC 7636 with S256) at the authorization server.
type Authorizer interface {
	// NewVerifier returns a new PKCE code verifier.
	NewVerifier() domain.Secret
	// AuthCodeURL is where to send the browser to ask the user for access
	// and who they are: the authorization endpoint with the client's id,
	// redirect URI and scopes (openid among them), state, nonce, and the
	// S256 challenge of verifier.
	AuthCodeURL(state, verifier, nonce domain.Secret) string
	// EndSessionURL is where to send the browser to sign the user out at
	// the authorization server too (OpenID Connect RP-Initiated Logout),
	// naming them with idToken, "" if the server has no such endpoint
	// configured.
	EndSessionURL(idToken domain.Secret) string
	// Exchange redeems a code for tokens, proving with verifier that it is
	// the client that asked for the code. A code the server refuses is a
	// domain.LoginFailed error; otherwise errors name domain.AuthServer, as
	// TokenSource's do.
	Exchange(ctx context.Context, code, verifier domain.Secret) (domain.Tokens, error)
}

// Identity tells who signed in: OpenID Connect's ID token and UserInfo.
type Identity interface {
	// Verify checks the ID token that came with t: its signature through
	// the authorization server's published keys, its issuer, audience
	// (this client) and expiry, that it carries nonce, and that its
	// at_hash is t's access token's. It returns the user's subject. An ID
	// token that fails is a domain.LoginFailed error; a missing one, or
	// keys that cannot be fetched, errors naming domain.AuthServer.
	Verify(ctx context.Context, t domain.Tokens, nonce domain.Secret) (subject string, err error)
	// Name asks UserInfo for the name of the user of accessToken, who must
	// be subject; "" if the server has none.
	Name(ctx context.Context, accessToken domain.Secret, subject string) (string, error)
}

// TokenRenewer keeps a session's tokens usable.
type TokenRenewer interface {
	// Fresh returns t if its access token is still valid, else the tokens
	// the authorization server gives for t's refresh token (which include a
	// new refresh token: the old one is spent). A refresh the server refuses
	// (invalid_grant: revoked, expired, reused) or cannot be tried (no
	// refresh token) is a domain.SessionEnded error.
	Fresh(ctx context.Context, t domain.Tokens) (domain.Tokens, error)
}

// TokenRevoker tells the authorization server a refresh token is no longer
// wanted (RFC 7009).
type TokenRevoker interface {
	// Revoke revokes refreshToken, which ends the grant it belongs to.
	Revoke(ctx context.Context, refreshToken domain.Secret) error
}

// The session stores' limits unless configured otherwise: sessions in all,
// and sessions of one user.
const (
	DefaultMaxSessions     = 10000
	DefaultSessionsPerUser = 20
)

// SessionStore keeps signed-in sessions until they expire. Every method
// returns domain.ErrNotFound for a session that is not there or has expired.
// A store that cannot be reached in time fails with a domain.Unavailable
// error.
type SessionStore interface {
	// Create adds a new session. A user (a Subject, which must not be
	// empty) holds at most the store's per-user number of sessions: Create
	// first ends that user's oldest ones to make room, and returns their
	// tokens, oldest first, so that their grants can be revoked. When the
	// store holds as many live sessions as it may, it refuses with a
	// domain.Unavailable error rather than sign anyone else out.
	Create(ctx context.Context, s domain.Session) (evicted []domain.Tokens, err error)
	// Update runs fn on a copy of the session and stores what fn leaves
	// (but never a changed ID or Expires). It has the session to itself
	// while fn runs: Updates and Deletes of one session run one after
	// another, so fn may spend a refresh token knowing that no one else is
	// spending it at the same time. If fn fails, nothing is stored and
	// Update returns the session as it was along with fn's error.
	Update(ctx context.Context, id domain.Secret, fn func(*domain.Session) error) (domain.Session, error)
	// Delete removes the session, once no Update is running on it, and
	// returns it as it last was.
	Delete(ctx context.Context, id domain.Secret) (domain.Session, error)
}

// LoginClaimStore remembers which sign-ins are being or have been
// completed. A sign-in in progress lives only in the browser's cookie, so
// without this a copy of that cookie, replayed with the answer, would
// present the same code again; the authorization server would refuse it,
// but would also take it for a stolen code and revoke what the first use
// gave. Claims are keyed by the attempt's state and kept until the attempt
// expires.
type LoginClaimStore interface {
	// Claim marks the sign-in whose state this is as completed, until
	// expires; false if it was claimed already.
	Claim(ctx context.Context, state domain.Secret, expires time.Time) (bool, error)
	// Release forgets a claim: for a sign-in whose code the authorization
	// server refused, where nothing is left to protect.
	Release(ctx context.Context, state domain.Secret) error
}
