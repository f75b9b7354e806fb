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
	devices    *DeviceCookies
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
	Users     UserStore
	Passwords SecretVerifier
	Hasher    PasswordHasher
	Limiter   Limiter
	Text      TextRules
	// Devices issue and check known-device cookies; nil turns them off.
	Devices    *DeviceCookies
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
		creds: newCredentialChecker(Credentials{
			Users: d.Users, Passwords: d.Passwords, Limiter: d.Limiter, Text: d.Text, DecoyHash: d.DecoyHash,
		}),
		devices:    d.Devices,
		users:      d.Users,
		hasher:     d.Hasher,
		sessions:   d.Sessions,
		policy:     d.Policy,
		sessionTTL: d.SessionTTL,
		now:        d.Now,
		audit:      auditor{log: d.Audit, now: d.Now},
	}
}

// LoginAttempt is a username and password typed into the login page.
type LoginAttempt struct {
	Username, Password string
	// Source is where it comes from: the key of the client address
	// (pkg/httpserver.SourceKey).
	Source string
	// Device is the known-device token the browser sent, if any.
	Device string
}

// LoginResult is a successful login.
type LoginResult struct {
	User domain.User
	// Device is a new known-device token for this user and browser, to
	// replace the one it sent; empty when device cookies are off.
	Device string
}

// Login checks a username and password typed into the login page. Failures
// count per account, per account and source, and per source: here the
// source is the person's own address, so one address guessing across many
// accounts is slowed too. A browser with a device token for this user is
// counted per account and device instead, so a person who signed in here
// before is slowed by nobody else's failures.
func (a *Accounts) Login(ctx context.Context, at LoginAttempt) (LoginResult, error) {
	res, err := a.login(ctx, at)
	ev := domain.AuditEvent{Type: domain.AuditLoginSucceeded, UserID: res.User.ID}
	if err != nil {
		ev.Type = domain.AuditLoginFailed
	}
	a.audit.record(ctx, outcome(ev, err, "password"))
	return res, err
}

func (a *Accounts) login(ctx context.Context, at LoginAttempt) (LoginResult, error) {
	if at.Username == "" || at.Password == "" {
		return LoginResult{}, errBadCredentials
	}
	username, err := a.creds.username(at.Username)
	if err != nil {
		return LoginResult{}, err
	}
	keys := []LimitKey{
		limitKey(LimitAccount, username), limitKey(LimitAccountSource, username, at.Source), limitKey(LimitSource, at.Source),
	}
	if dev, ok := a.devices.Check(at.Device, username); ok {
		keys = []LimitKey{limitKey(LimitAccountDevice, username, dev)}
	}
	u, err := a.creds.check(ctx, username, at.Password, keys)
	if err != nil {
		return LoginResult{}, err
	}
	res := LoginResult{User: u}
	if a.devices != nil {
		res.Device = a.devices.Issue(username)
	}
	return res, nil
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

// Signup creates an account. The username is stored in its prepared form
// (so "Alice" cannot be registered beside "alice"), the password hashed in
// its prepared form; length is counted on the prepared forms.
func (a *Accounts) Signup(ctx context.Context, rawUsername, rawPassword string) (domain.User, error) {
	username, err := a.creds.username(rawUsername)
	if err != nil || utf8.RuneCountInString(username) < 3 {
		return domain.User{}, domain.Errorf(domain.InvalidRequest, "a username has 3 to %d bytes: letters, digits and symbols, no spaces", MaxUsernameBytes)
	}
	password, err := a.creds.Text.Password(rawPassword)
	if err != nil {
		return domain.User{}, domain.Errorf(domain.InvalidRequest, "the password has characters that are not allowed in one")
	}
	n := utf8.RuneCountInString(password)
	if n < a.policy.MinLength {
		return domain.User{}, domain.Errorf(domain.InvalidRequest, "the password must have at least %d characters", a.policy.MinLength)
	}
	if n > a.policy.MaxLength {
		return domain.User{}, domain.Errorf(domain.InvalidRequest, "the password must have at most %d characters", a.policy.MaxLength)
	}
	if folded, err := a.creds.Text.Username(password); password == username || (err == nil && folded == username) {
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
