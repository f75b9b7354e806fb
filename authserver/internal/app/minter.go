package app

import (
	"context"
	"slices"
	"time"

	"github.com/oauth2ref/authserver/internal/domain"
)

// AccessTokenSigner turns access token claims into a signed JWT.
type AccessTokenSigner interface {
	// SignAccessToken returns t's claims as a JWT signed with the current key.
	SignAccessToken(ctx context.Context, t domain.AccessToken) (string, error)
}

// TokenPolicy is the server-wide part of token issuance.
type TokenPolicy struct {
	Issuer string
	// Audience is the "aud" of tokens whose client names none.
	Audience []string
	// AccessTTL is the default access token lifetime; MaxAccessTTL caps any
	// client's own setting.
	AccessTTL    time.Duration
	MaxAccessTTL time.Duration
	RefreshTTL   time.Duration
}

// Minter makes the tokens every grant hands out, so that all grants issue
// them the same way.
type Minter struct {
	signer  AccessTokenSigner
	ids     IDTokenSigner
	refresh RefreshTokenStore
	policy  TokenPolicy
	now     Clock
}

// MinterDeps are what a Minter needs.
type MinterDeps struct {
	Signer AccessTokenSigner
	// IDTokens signs OpenID Connect ID tokens; nil issues none.
	IDTokens IDTokenSigner
	// Refresh may be nil when no grant issues refresh tokens.
	Refresh RefreshTokenStore
	Policy  TokenPolicy
	Now     Clock
}

// NewMinter returns a Minter.
func NewMinter(d MinterDeps) *Minter {
	return &Minter{signer: d.Signer, ids: d.IDTokens, refresh: d.Refresh, policy: d.Policy, now: d.Now}
}

// Issuance describes tokens to mint for one grant.
type Issuance struct {
	Client domain.Client
	UserID string // empty when no resource owner is involved
	Scope  domain.Scope
	// Refresh asks for a refresh token.
	Refresh bool
	// FamilyID names the grant the tokens belong to, so that revoking it
	// revokes them. Empty: a new family if a refresh token is asked for,
	// else none.
	FamilyID string
	// AuthTime is when the user authorized the grant; zero means At.
	AuthTime time.Time
	// At is the issuance time; zero means now. A grant that checks whether
	// it may issue (a code not replayed, a grant not revoked) takes At
	// before those checks: every revocation is stamped after it takes
	// effect, so one the checks miss still covers the tokens (their iat is
	// not after its mark).
	At time.Time
	// SignIn is the user's sign-in an OpenID Connect grant rests on; with
	// it, and openid in Scope, an ID token is issued too, carrying Nonce.
	// A refresh token's family keeps it.
	SignIn domain.SignIn
	Nonce  string
}

// Mint issues an access token, and a refresh token if asked. The refresh
// token is stored first: if its grant was revoked meanwhile, nothing is
// issued (ErrRevoked).
func (m *Minter) Mint(ctx context.Context, is Issuance) (TokenResponse, error) {
	at := is.At
	if at.IsZero() {
		at = m.now()
	}
	authTime := is.AuthTime
	if authTime.IsZero() {
		authTime = at
	}
	var refresh string
	familyID := is.FamilyID
	if is.Refresh {
		if familyID == "" {
			familyID = newID()
		}
		var rec domain.RefreshToken
		refresh, rec = m.newRefreshToken(is.Client, is.UserID, is.Scope, familyID, at, authTime)
		rec.SignIn = is.SignIn
		if err := m.refresh.CreateRefreshToken(ctx, rec); err != nil {
			return TokenResponse{}, err
		}
	}
	resp, err := m.access(ctx, is.Client, is.UserID, is.Scope, familyID, at)
	if err != nil {
		return TokenResponse{}, err
	}
	resp.RefreshToken = refresh
	if resp.IDToken, err = m.idToken(ctx, is.Client, is.UserID, is.Scope, is.SignIn, is.Nonce, resp.AccessToken, at); err != nil {
		return TokenResponse{}, err
	}
	return resp, nil
}

// signsIDTokens reports whether ID tokens can be signed with alg.
func (m *Minter) signsIDTokens(alg string) bool {
	return m.ids != nil && slices.Contains(m.ids.IDTokenAlgs(), alg)
}

// IDTokenAlgs lists the algorithms ID tokens can be signed with, for the
// discovery document; none if the Minter issues none.
func (m *Minter) IDTokenAlgs() []string {
	if m.ids == nil {
		return nil
	}
	return m.ids.IDTokenAlgs()
}

// idToken signs the ID token of an OpenID Connect grant (Core §2,
// §3.1.3.6), issued at at with accessToken, or returns "" for a grant
// that is not one: no openid in scope, no sign-in, or no signer. It lives
// as long as the access token, so that the keys kept for access tokens
// (MaxAccessTTL after their retirement) verify it to its end. A refresh
// passes no nonce (Core §12.2).
func (m *Minter) idToken(ctx context.Context, c domain.Client, userID string, scope domain.Scope, signIn domain.SignIn, nonce, accessToken string, at time.Time) (string, error) {
	if m.ids == nil || !scope.Has(domain.ScopeOpenID) || signIn.IsZero() || userID == "" {
		return "", nil
	}
	alg := c.IDTokenSigningAlg()
	iat, exp := m.lifetime(c, at)
	return m.ids.SignIDToken(ctx, alg, domain.IDToken{
		Issuer:          m.policy.Issuer,
		Subject:         userID,
		Audience:        []string{c.ID},
		IssuedAt:        iat,
		ExpiresAt:       exp,
		AuthTime:        signIn.At.Truncate(time.Second),
		Nonce:           nonce,
		AccessTokenHash: domain.AccessTokenHash(alg, accessToken),
		Methods:         []string{domain.MethodPassword},
		SessionID:       signIn.SessionID,
	})
}

// lifetime is the iat and exp of a token of c issued at at. JWT times are
// whole seconds: iat rounds down and exp rounds up, so a token never
// expires before the expires_in it was sent with.
func (m *Minter) lifetime(c domain.Client, at time.Time) (iat, exp time.Time) {
	iat = at.Truncate(time.Second)
	exp = at.Add(m.accessTTL(c))
	if t := exp.Truncate(time.Second); !t.Equal(exp) {
		exp = t.Add(time.Second)
	}
	return iat, exp
}

// access signs an access token issued at at. RFC 9068 §2.2: with no
// resource owner, the subject is the client itself.
func (m *Minter) access(ctx context.Context, c domain.Client, userID string, scope domain.Scope, grantID string, at time.Time) (TokenResponse, error) {
	ttl := m.accessTTL(c)
	iat, exp := m.lifetime(c, at)
	sub := userID
	if sub == "" {
		sub = c.ID
	}
	aud := c.Audience
	if len(aud) == 0 {
		aud = m.policy.Audience
	}
	tok := domain.AccessToken{
		ID:        newID(),
		Issuer:    m.policy.Issuer,
		Subject:   sub,
		Audience:  aud,
		ClientID:  c.ID,
		Scope:     scope,
		IssuedAt:  iat,
		ExpiresAt: exp,
		GrantID:   grantID,
	}
	jwt, err := m.signer.SignAccessToken(ctx, tok)
	if err != nil {
		return TokenResponse{}, err
	}
	return TokenResponse{
		AccessToken: jwt,
		TokenType:   "Bearer",
		ExpiresIn:   int64(ttl / time.Second),
		Scope:       scope,
		UserID:      userID,
	}, nil
}

func (m *Minter) accessTTL(c domain.Client) time.Duration {
	ttl := c.AccessTokenTTL
	if ttl <= 0 {
		ttl = m.policy.AccessTTL
	}
	if m.policy.MaxAccessTTL > 0 && ttl > m.policy.MaxAccessTTL {
		ttl = m.policy.MaxAccessTTL
	}
	return ttl
}

func (m *Minter) refreshTTL(c domain.Client) time.Duration {
	if c.RefreshTokenTTL > 0 {
		return c.RefreshTokenTTL
	}
	return m.policy.RefreshTTL
}

// newRefreshToken returns a new refresh token issued at at and the record
// to store for it.
func (m *Minter) newRefreshToken(c domain.Client, userID string, scope domain.Scope, familyID string, at, authTime time.Time) (string, domain.RefreshToken) {
	tok := newOpaqueToken()
	return tok, domain.RefreshToken{
		Hash:      HashToken(tok),
		FamilyID:  familyID,
		ClientID:  c.ID,
		UserID:    userID,
		Scope:     scope,
		Status:    domain.RefreshActive,
		IssuedAt:  at,
		ExpiresAt: at.Add(m.refreshTTL(c)),
		AccessTTL: m.accessTTL(c),
		AuthTime:  authTime,
	}
}
