package app

import (
	"context"
	"errors"
	"time"
	"unicode/utf8"

	"github.com/oauth2ref/authserver/internal/domain"
)

// UserStore finds and saves users, for sign-up and the account page.
type UserStore interface {
	UserFinder
	// FindUser returns the user with the given id, or domain.ErrNotFound.
	FindUser(ctx context.Context, id string) (domain.User, error)
	// SaveUser creates or updates u; domain.ErrConflict if its username belongs
	// to another user.
	SaveUser(ctx context.Context, u domain.User) error
}

// PasswordHasher hashes new passwords.
type PasswordHasher interface {
	// HashPassword returns the hash of secret to store, in the scheme
	// SecretVerifier checks.
	HashPassword(ctx context.Context, secret string) (string, error)
}

// PasswordPolicy is what a new password must satisfy. Length is what counts
// (NIST SP 800-63B §3.1.1.2): no composition rules, an upper bound only so
// hashing stays bounded.
type PasswordPolicy struct {
	MinLength int
	MaxLength int
}

// Accounts signs people in and up, and keeps their browser sessions.
type Accounts struct {
	creds      credentialChecker
	users      UserStore
	hasher     PasswordHasher
	sessions   SessionStore
	policy     PasswordPolicy
	sessionTTL time.Duration
	now        Clock
	audit      auditor
}

// AccountsDeps are what Accounts needs.
type AccountsDeps struct {
	Users      UserStore
	Passwords  SecretVerifier
	Hasher     PasswordHasher
	Limiter    FailureLimiter
	Sessions   SessionStore
	DecoyHash  string
	Policy     PasswordPolicy
	SessionTTL time.Duration
	Now        Clock
	Audit      AuditLog // may be nil
}

// NewAccounts returns Accounts.
func NewAccounts(d AccountsDeps) *Accounts {
	return &Accounts{
		creds:      credentialChecker{users: d.Users, passwords: d.Passwords, limiter: d.Limiter, decoyHash: d.DecoyHash},
		users:      d.Users,
		hasher:     d.Hasher,
		sessions:   d.Sessions,
		policy:     d.Policy,
		sessionTTL: d.SessionTTL,
		now:        d.Now,
		audit:      auditor{log: d.Audit, now: d.Now},
	}
}

// Login checks a username and password typed into the login page. Failures
// count per account and per client IP address: here the address is the
// person's own, so guessing across many accounts from one place is stopped
// too.
func (a *Accounts) Login(ctx context.Context, username, password, ip string) (domain.User, error) {
	if username == "" || password == "" {
		return domain.User{}, errBadCredentials
	}
	u, err := a.creds.check(ctx, username, password, "user:"+username, "ip:"+ip)
	ev := domain.AuditEvent{Type: domain.AuditLoginSucceeded, UserID: u.ID}
	if err != nil {
		ev.Type = domain.AuditLoginFailed
	}
	a.audit.record(ctx, outcome(ev, err, "password"))
	return u, err
}

// StartSession opens a session for the user and returns the cookie token.
func (a *Accounts) StartSession(ctx context.Context, userID string) (string, error) {
	now := a.now()
	token := newOpaqueToken()
	err := a.sessions.CreateSession(ctx, domain.Session{
		Hash: HashToken(token), UserID: userID, CreatedAt: now, ExpiresAt: now.Add(a.sessionTTL),
	})
	return token, err
}

// ErrNoSession means the cookie names no active session.
var ErrNoSession = errors.New("no active session")

// Session returns the active session behind a cookie token.
func (a *Accounts) Session(ctx context.Context, token string) (domain.Session, error) {
	if token == "" {
		return domain.Session{}, ErrNoSession
	}
	s, err := a.sessions.FindSession(ctx, HashToken(token))
	if errors.Is(err, domain.ErrNotFound) || (err == nil && !s.Active(a.now())) {
		return domain.Session{}, ErrNoSession
	}
	return s, err
}

// EndSession signs the browser out.
func (a *Accounts) EndSession(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	return a.sessions.DeleteSession(ctx, HashToken(token))
}

// User returns the user with the given id.
func (a *Accounts) User(ctx context.Context, id string) (domain.User, error) {
	return a.users.FindUser(ctx, id)
}

// Signup creates an account.
func (a *Accounts) Signup(ctx context.Context, username, password string) (domain.User, error) {
	if !validUsername(username) {
		return domain.User{}, domain.Errorf(domain.InvalidRequest, "a username is 3 to 64 letters, digits or . _ @ + -")
	}
	n := utf8.RuneCountInString(password)
	if n < a.policy.MinLength {
		return domain.User{}, domain.Errorf(domain.InvalidRequest, "the password must have at least %d characters", a.policy.MinLength)
	}
	if n > a.policy.MaxLength {
		return domain.User{}, domain.Errorf(domain.InvalidRequest, "the password must have at most %d characters", a.policy.MaxLength)
	}
	if password == username {
		return domain.User{}, domain.Errorf(domain.InvalidRequest, "the password must not be the username")
	}
	if _, err := a.users.FindUserByUsername(ctx, username); err == nil {
		return domain.User{}, errUsernameTaken
	} else if !errors.Is(err, domain.ErrNotFound) {
		return domain.User{}, err
	}
	hash, err := a.hasher.HashPassword(ctx, password)
	if err != nil {
		return domain.User{}, err
	}
	now := a.now()
	u := domain.User{ID: newID(), Username: username, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	if err := a.users.SaveUser(ctx, u); errors.Is(err, domain.ErrConflict) {
		return domain.User{}, errUsernameTaken // taken between the check and the save
	} else if err != nil {
		return domain.User{}, err
	}
	a.audit.record(ctx, outcome(domain.AuditEvent{Type: domain.AuditUserCreated, UserID: u.ID}, nil, "signup"))
	return u, nil
}

var errUsernameTaken = domain.Errorf(domain.InvalidRequest, "that username is taken")

func validUsername(s string) bool {
	if len(s) < 3 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '@' || c == '+' || c == '-') {
			return false
		}
	}
	return true
}
