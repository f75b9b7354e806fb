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
	// UpdateUser runs update on the user with the given id, as one atomic
	// step: if update returns nil, what it left in u is saved (an id it
	// changed is ignored); if it returns an error, nothing changes and
	// UpdateUser returns it. Of concurrent updates of one user, each sees
	// the outcome of those before it. domain.ErrNotFound if there is no
	// such user, domain.ErrConflict if the new username is another's.
	UpdateUser(ctx context.Context, id string, update func(u *domain.User) error) error
	// DeleteUser deletes the user with the given id; domain.ErrNotFound if
	// there is none (of concurrent deletions, one succeeds).
	DeleteUser(ctx context.Context, id string) error
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

// Accounts signs people in and up, keeps their sessions (the login page's
// and the accounts API's: one model), and changes and closes accounts.
type Accounts struct {
	creds    credentialChecker
	devices  *DeviceCookies
	users    UserStore
	hasher   PasswordHasher
	sessions SessionStore
	ends     userEnds
	owned    OwnedClients // nil: no clients are owned
	clients  clientEnds
	policy   PasswordPolicy
	lives    SessionPolicy
	now      Clock
	wait     func(time.Duration)
	audit    auditor
}

// SessionPolicy is how long sessions live and how many a user keeps.
type SessionPolicy struct {
	// TTL is a new session's lifetime.
	TTL time.Duration
	// MaxTTL caps how long after it began a session may be extended to
	// live (PATCH /api/sessions/{id}); at least TTL.
	MaxTTL time.Duration
	// PerUser caps a user's sessions: a new one beyond it ends the oldest,
	// so that signing in again and again fills no store.
	PerUser int
}

// AccountsDeps are what Accounts needs.
type AccountsDeps struct {
	Users     UserStore
	Passwords SecretVerifier
	Hasher    PasswordHasher
	Limiter   Limiter
	Text      TextRules
	// Devices issue and check known-device cookies; nil turns them off.
	Devices   *DeviceCookies
	Sessions  SessionStore
	DecoyHash string
	Policy    PasswordPolicy
	Lifetimes SessionPolicy
	// What a password change or a closed account takes down: the user's
	// grants (Consents), refresh tokens (Refresh), access tokens and codes
	// (Revocations, for up to MaxAccessTTL).
	Consents     ConsentStore
	Refresh      UserRevoker
	Revocations  RevocationStore
	MaxAccessTTL time.Duration
	// Clients, with what ending a client takes (ClientRefresh,
	// ClientConsents), lets a closed account delete the clients its user
	// registered on the developer pages; nil, there are none.
	Clients        OwnedClientStore
	ClientRefresh  ClientRevoker
	ClientConsents ClientConsentDeleter
	Now            Clock
	// Wait pauses a password change until the next whole second (see
	// ChangePassword); nil is time.Sleep.
	Wait  func(time.Duration)
	Audit AuditLog // may be nil
}

// NewAccounts returns Accounts.
func NewAccounts(d AccountsDeps) *Accounts {
	wait := d.Wait
	if wait == nil {
		wait = time.Sleep
	}
	lives := d.Lifetimes
	lives.MaxTTL = max(lives.MaxTTL, lives.TTL)
	if lives.PerUser < 1 {
		lives.PerUser = DefaultSessionsPerUser
	}
	return &Accounts{
		creds: newCredentialChecker(Credentials{
			Users: d.Users, Passwords: d.Passwords, Limiter: d.Limiter, Text: d.Text, DecoyHash: d.DecoyHash,
		}),
		devices:  d.Devices,
		users:    d.Users,
		hasher:   d.Hasher,
		sessions: d.Sessions,
		ends: userEnds{
			sessions: d.Sessions, consents: d.Consents, refresh: d.Refresh, revocations: d.Revocations, maxTTL: d.MaxAccessTTL,
		},
		owned: ownedOrNil(d.Clients),
		clients: clientEnds{
			clients: d.Clients, refresh: d.ClientRefresh, consents: d.ClientConsents, revocations: d.Revocations,
			maxTTL: d.MaxAccessTTL, now: d.Now,
		},
		policy: d.Policy,
		lives:  lives,
		now:    d.Now,
		wait:   wait,
		audit:  auditor{log: d.Audit, now: d.Now},
	}
}

// ownedOrNil keeps a nil store nil as an interface, so that Accounts can
// tell there is none.
func ownedOrNil(s OwnedClientStore) OwnedClients {
	if s == nil {
		return nil
	}
	return s
}

// DefaultSessionsPerUser is SessionPolicy.PerUser when none is set.
const DefaultSessionsPerUser = 100

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

// SessionStart says where a new session comes from.
type SessionStart struct {
	Door domain.SessionDoor
	// Source is the client address, UserAgent its User-Agent header.
	Source, UserAgent string
}

// StartSession opens a session for u, just signed in or up, and returns
// its token (for the cookie, or the bearer token of the API) and the
// session.
//
// Once the session is stored, the user is read again: if the account was
// closed or its password changed since u was read (a sign-in checked
// against the old password, racing the change), the session is ended at
// once and the sign-in refused. Either the read sees the change, or the
// session was stored before the change ended every session.
func (a *Accounts) StartSession(ctx context.Context, u domain.User, from SessionStart) (string, domain.Session, error) {
	now := a.now()
	token := newOpaqueToken()
	sess := domain.Session{
		Hash: HashToken(token), UserID: u.ID, Door: from.Door, Source: from.Source, UserAgent: cutUserAgent(from.UserAgent),
		CreatedAt: now, ExpiresAt: now.Add(a.lives.TTL),
	}
	if err := a.sessions.CreateSession(ctx, sess); err != nil {
		return "", domain.Session{}, err
	}
	cur, err := a.users.FindUser(ctx, u.ID)
	if err != nil || cur.PasswordHash != u.PasswordHash || cur.Disabled {
		_ = a.sessions.DeleteSession(context.WithoutCancel(ctx), sess.Hash) // best effort: err says why
		if err == nil || errors.Is(err, domain.ErrNotFound) {
			err = errSignInAgain
		}
		return "", domain.Session{}, err
	}
	a.trimSessions(ctx, u.ID, sess.Hash)
	return token, sess, nil
}

var errSignInAgain = domain.Errorf(domain.InvalidGrant, "the account changed while signing in; sign in again")

// trimSessions ends the user's oldest sessions beyond the policy's cap,
// never keep. Best effort: a session it fails to end is ended by the next
// sign-in, or when it expires.
func (a *Accounts) trimSessions(ctx context.Context, userID, keep string) {
	list, err := a.sessions.ListUserSessions(ctx, userID)
	if err != nil {
		return
	}
	for _, s := range list {
		if len(list) <= a.lives.PerUser {
			return
		}
		if s.Hash == keep {
			continue
		}
		if a.sessions.DeleteSession(ctx, s.Hash) != nil {
			return
		}
		list = list[1:]
	}
}

// cutUserAgent bounds a User-Agent to domain.MaxUserAgentBytes, at a
// character boundary.
func cutUserAgent(ua string) string {
	if len(ua) <= domain.MaxUserAgentBytes {
		return ua
	}
	ua = ua[:domain.MaxUserAgentBytes]
	for len(ua) > 0 && !utf8.ValidString(ua) {
		ua = ua[:len(ua)-1]
	}
	return ua
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

// Profile is what a person may tell about themselves when signing up: a
// name to be greeted by and an email address, both optional. An address
// given here is not verified (email_verified is false): nothing proves it
// is theirs.
type Profile struct {
	Name, Email string
	// EmailVerified is set only by an administrator (or a fixture), who
	// may know the address to be the person's; sign-up leaves it false.
	EmailVerified bool
}

// Signup creates an account. The username is stored in its prepared form
// (so "Alice" cannot be registered beside "alice"), the password hashed in
// its prepared form; length is counted on the prepared forms.
func (a *Accounts) Signup(ctx context.Context, rawUsername, rawPassword string, p Profile) (domain.User, error) {
	return a.createUser(ctx, rawUsername, rawPassword, p, false, "signup")
}

// createUser is Signup's rules for any new account, an administrator's
// too; detail says who made it, for the audit trail.
func (a *Accounts) createUser(ctx context.Context, rawUsername, rawPassword string, p Profile, admin bool, detail string) (domain.User, error) {
	username, err := a.creds.username(rawUsername)
	if err != nil || utf8.RuneCountInString(username) < 3 {
		return domain.User{}, domain.FieldErrorf(FieldUsername, domain.InvalidRequest,
			"a username has 3 to %d bytes: letters, digits and symbols, no spaces", MaxUsernameBytes)
	}
	password, err := a.newPassword(FieldPassword, username, rawPassword)
	if err != nil {
		return domain.User{}, err
	}
	if err := domain.ValidateName(p.Name); err != nil {
		return domain.User{}, domain.FieldErrorf(FieldName, domain.InvalidRequest, "%s", err)
	}
	if err := domain.ValidateEmail(p.Email); err != nil {
		return domain.User{}, domain.FieldErrorf(FieldEmail, domain.InvalidRequest, "%s", err)
	}
	if p.EmailVerified && p.Email == "" {
		return domain.User{}, domain.FieldErrorf(FieldEmail, domain.InvalidRequest, "email_verified needs an email address")
	}
	if _, err := a.users.FindUserByUsername(ctx, username); err == nil {
		return domain.User{}, ErrUsernameTaken
	} else if !errors.Is(err, domain.ErrNotFound) {
		return domain.User{}, err
	}
	hash, err := a.hasher.HashPassword(ctx, password)
	if err != nil {
		return domain.User{}, err
	}
	now := a.now()
	u := domain.User{ID: newID(), Username: username, PasswordHash: hash, Admin: admin, Name: p.Name, Email: p.Email, EmailVerified: p.EmailVerified, CreatedAt: now, UpdatedAt: now}
	if err := a.users.SaveUser(ctx, u); errors.Is(err, domain.ErrConflict) {
		return domain.User{}, ErrUsernameTaken // taken between the check and the save
	} else if err != nil {
		return domain.User{}, err
	}
	a.audit.record(ctx, outcome(domain.AuditEvent{Type: domain.AuditUserCreated, UserID: u.ID}, nil, detail))
	return u, nil
}

// newPassword returns the prepared form of a new password for username,
// or why the policy refuses it, as an error of field.
func (a *Accounts) newPassword(field, username, raw string) (string, error) {
	password, err := a.creds.Text.Password(raw)
	if err != nil {
		return "", domain.FieldErrorf(field, domain.InvalidRequest, "the password has characters that are not allowed in one")
	}
	n := utf8.RuneCountInString(password)
	if n < a.policy.MinLength {
		return "", domain.FieldErrorf(field, domain.InvalidRequest, "the password must have at least %d characters", a.policy.MinLength)
	}
	if n > a.policy.MaxLength {
		return "", domain.FieldErrorf(field, domain.InvalidRequest, "the password must have at most %d characters", a.policy.MaxLength)
	}
	if folded, err := a.creds.Text.Username(password); password == username || (err == nil && folded == username) {
		return "", domain.FieldErrorf(field, domain.InvalidRequest, "the password must not be the username")
	}
	return password, nil
}

// The names of the inputs the account use cases may refuse, as their
// errors' Field (domain.FieldError).
const (
	FieldUsername        = "username"
	FieldPassword        = "password"
	FieldCurrentPassword = "current_password"
	FieldNewPassword     = "new_password"
	FieldExpiresAt       = "expires_at"
	FieldEmail           = "email" // the profile's; its name is FieldName
)

// ErrUsernameTaken means another account has that name.
var ErrUsernameTaken = domain.FieldErrorf(FieldUsername, domain.InvalidRequest, "that username is taken")
