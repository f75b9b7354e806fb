package app_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/webapp/internal/adapters/storage/memory"
	"github.com/oauth2ref/webapp/internal/adapters/storage/storagetest"
	"github.com/oauth2ref/webapp/internal/app"
	"github.com/oauth2ref/webapp/internal/domain"
)

// fakeOAuth is a function-field fake of the authorization server client,
// OpenID Connect's side included: an "ID token" is "idt-" and the
// subject, which Verify takes for verified unless verify says otherwise.
type fakeOAuth struct {
	exchange func(ctx context.Context, code, verifier domain.Secret) (domain.Tokens, error)
	fresh    func(ctx context.Context, t domain.Tokens) (domain.Tokens, error)
	revoke   func(ctx context.Context, rt domain.Secret) error
	verify   func(t domain.Tokens, nonce domain.Secret) (string, error)
	name     func(sub string) (string, error)

	mu        sync.Mutex
	exchanges int
	revoked   []domain.Secret
	nonces    []domain.Secret
}

func (f *fakeOAuth) NewVerifier() domain.Secret { return "verifier-" + domain.NewRandom() }

func (f *fakeOAuth) AuthCodeURL(state, verifier, nonce domain.Secret) string {
	return "https://as.example/authorize?state=" + string(state) + "&v=" + string(verifier) + "&nonce=" + string(nonce)
}

func (f *fakeOAuth) EndSessionURL(idToken domain.Secret) string {
	return "https://as.example/end_session?id_token_hint=" + string(idToken)
}

func (f *fakeOAuth) Verify(_ context.Context, t domain.Tokens, nonce domain.Secret) (string, error) {
	f.mu.Lock()
	f.nonces = append(f.nonces, nonce)
	f.mu.Unlock()
	if f.verify != nil {
		return f.verify(t, nonce)
	}
	sub, ok := strings.CutPrefix(string(t.IDToken), "idt-")
	if !ok {
		return "", &domain.Error{Code: domain.BadGateway, Service: domain.AuthServer, Description: "the authserver issued no ID token"}
	}
	return sub, nil
}

func (f *fakeOAuth) Name(_ context.Context, _ domain.Secret, sub string) (string, error) {
	if f.name != nil {
		return f.name(sub)
	}
	return "Name of " + sub, nil
}

func (f *fakeOAuth) Exchange(ctx context.Context, code, verifier domain.Secret) (domain.Tokens, error) {
	f.mu.Lock()
	f.exchanges++
	f.mu.Unlock()
	if f.exchange == nil {
		return tokensFor("alice", "rt-"+code), nil
	}
	return f.exchange(ctx, code, verifier)
}

func (f *fakeOAuth) Fresh(ctx context.Context, t domain.Tokens) (domain.Tokens, error) {
	if f.fresh == nil {
		return t, nil
	}
	return f.fresh(ctx, t)
}

func (f *fakeOAuth) Revoke(ctx context.Context, rt domain.Secret) error {
	f.mu.Lock()
	f.revoked = append(f.revoked, rt)
	f.mu.Unlock()
	if f.revoke == nil {
		return nil
	}
	return f.revoke(ctx, rt)
}

const issuer = "https://as.example"

// tokensFor are tokens of a sign-in of sub, with the fake's ID token.
func tokensFor(sub string, refresh domain.Secret) domain.Tokens {
	return domain.Tokens{AccessToken: domain.Secret("at-" + sub), RefreshToken: refresh, TokenType: "Bearer", IDToken: domain.Secret("idt-" + sub)}
}

// store creates s, as alice's if it names no user.
func (f browserFixture) store(t *testing.T, s domain.Session) {
	t.Helper()
	if s.Subject == "" {
		s.Subject = "alice"
	}
	_, err := f.sessions.Create(context.Background(), s)
	require.NoError(t, err)
}

type browserFixture struct {
	b        *app.Browser
	oauth    *fakeOAuth
	sessions *memory.Sessions
	claims   *memory.LoginClaims
	clock    *storagetest.Clock
}

func newBrowser(oauth *fakeOAuth, times app.TimeReader) browserFixture {
	c := storagetest.NewClock()
	f := browserFixture{
		oauth:    oauth,
		sessions: memory.NewSessions(memory.Options{Capacity: 10, PerUser: 2, Now: c.Now}),
		claims:   memory.NewLoginClaims(memory.Options{Capacity: 10, Now: c.Now}),
		clock:    c,
	}
	f.b = app.NewBrowser(app.BrowserDeps{
		Authorizer: oauth, Identity: oauth, Renewer: oauth, Revoker: oauth, Times: times,
		Sessions: f.sessions, Claims: f.claims,
		Issuer: issuer, SessionTTL: time.Hour, Now: c.Now,
	})
	return f
}

func TestStartLogin(t *testing.T) {
	f := newBrowser(&fakeOAuth{}, nil)
	start := f.b.StartLogin("/somewhere")
	a := start.Attempt
	assert.GreaterOrEqual(t, len(a.State), 26, "state has at least 128 bits (base32)")
	assert.GreaterOrEqual(t, len(a.Nonce), 26, "so has the nonce")
	assert.NotEqual(t, a.State, a.Nonce)
	assert.True(t, strings.HasPrefix(string(a.Verifier), "verifier-"), "the verifier comes from the authorizer")
	assert.Equal(t, f.clock.Now().Add(10*time.Minute), a.Expires)
	assert.Equal(t, "/somewhere", a.ReturnTo)
	assert.Equal(t, "https://as.example/authorize?state="+string(a.State)+"&v="+string(a.Verifier)+"&nonce="+string(a.Nonce), start.URL,
		"the nonce goes out with the request")

	again := f.b.StartLogin("")
	assert.NotEqual(t, a.State, again.Attempt.State, "a new state every time")
	assert.NotEqual(t, a.Nonce, again.Attempt.Nonce, "a new nonce every time")
	assert.Empty(t, again.Attempt.ReturnTo)
	assert.Zero(t, f.claims.Len(), "starting a sign-in stores nothing")
	assert.Zero(t, f.sessions.Len())
}

func TestCompleteLogin(t *testing.T) {
	down := &domain.Error{Code: domain.Unavailable, Service: domain.AuthServer}
	ok := func(a domain.LoginAttempt) domain.AuthorizationResponse {
		return domain.AuthorizationResponse{Code: "c1", State: string(a.State), Issuer: issuer}
	}
	cases := []struct {
		name         string
		resp         func(a domain.LoginAttempt) domain.AuthorizationResponse
		attempt      func(a domain.LoginAttempt) domain.LoginAttempt // nil: the one started
		advance      time.Duration
		exchange     func(context.Context, domain.Secret, domain.Secret) (domain.Tokens, error)
		wantCode     domain.ErrorCode
		wantErr      error
		wantDesc     string
		wantExchange bool
		// wantClaimed says the attempt is used up: a second answer to it
		// would be refused before its code is presented.
		wantClaimed bool
	}{
		{name: "valid answer", resp: ok, wantExchange: true, wantClaimed: true},
		{name: "no attempt cookie", resp: ok, attempt: func(domain.LoginAttempt) domain.LoginAttempt { return domain.LoginAttempt{} },
			wantCode: domain.LoginFailed, wantDesc: "no sign-in in progress"},
		{name: "another attempt, as another browser has", resp: ok, attempt: func(a domain.LoginAttempt) domain.LoginAttempt {
			return domain.LoginAttempt{State: "other", Verifier: "v", Expires: a.Expires}
		}, wantCode: domain.LoginFailed, wantDesc: "state does not match"},
		{name: "expired attempt", resp: ok, advance: 10 * time.Minute,
			wantCode: domain.LoginFailed, wantDesc: "no sign-in in progress"},
		{name: "wrong state", resp: func(a domain.LoginAttempt) domain.AuthorizationResponse {
			r := ok(a)
			r.State = string(a.State) + "x"
			return r
		}, wantCode: domain.LoginFailed, wantDesc: "state does not match"},
		{name: "no state", resp: func(a domain.LoginAttempt) domain.AuthorizationResponse {
			r := ok(a)
			r.State = ""
			return r
		}, wantCode: domain.LoginFailed, wantDesc: "state does not match"},
		{name: "no iss", resp: func(a domain.LoginAttempt) domain.AuthorizationResponse {
			r := ok(a)
			r.Issuer = ""
			return r
		}, wantCode: domain.LoginFailed, wantDesc: "no iss parameter"},
		{name: "another issuer", resp: func(a domain.LoginAttempt) domain.AuthorizationResponse {
			r := ok(a)
			r.Issuer = "https://attacker.example"
			return r
		}, wantCode: domain.LoginFailed, wantDesc: "iss does not match"},
		{name: "access denied", resp: func(a domain.LoginAttempt) domain.AuthorizationResponse {
			return domain.AuthorizationResponse{Error: "access_denied", State: string(a.State), Issuer: issuer}
		}, wantCode: domain.AccessDenied, wantDesc: "sign-in was cancelled"},
		{name: "other error, control characters dropped", resp: func(a domain.LoginAttempt) domain.AuthorizationResponse {
			return domain.AuthorizationResponse{Error: "invalid_scope", ErrorDescription: "bad\r\nscope\x00", State: string(a.State), Issuer: issuer}
		}, wantCode: domain.LoginFailed, wantDesc: "the authserver refused the sign-in (invalid_scope): badscope"},
		{name: "error with a wrong state is not believed", resp: func(_ domain.LoginAttempt) domain.AuthorizationResponse {
			return domain.AuthorizationResponse{Error: "access_denied", State: "other", Issuer: issuer}
		}, wantCode: domain.LoginFailed, wantDesc: "state does not match"},
		{name: "neither code nor error", resp: func(a domain.LoginAttempt) domain.AuthorizationResponse {
			r := ok(a)
			r.Code = ""
			return r
		}, wantCode: domain.LoginFailed, wantDesc: "neither a code nor an error"},
		{name: "exchange failure passes through, the code may be spent", resp: ok, wantExchange: true, wantErr: down,
			wantClaimed: true, exchange: func(context.Context, domain.Secret, domain.Secret) (domain.Tokens, error) {
				return domain.Tokens{}, down
			}},
		{name: "code refused: nothing left to protect", resp: ok, wantExchange: true, wantCode: domain.LoginFailed,
			wantDesc: "code refused", exchange: func(context.Context, domain.Secret, domain.Secret) (domain.Tokens, error) {
				return domain.Tokens{}, &domain.Error{Code: domain.LoginFailed, Service: domain.AuthServer, Description: "code refused"}
			}},
		{name: "empty access token", resp: ok, wantExchange: true, wantCode: domain.BadGateway, wantClaimed: true,
			exchange: func(context.Context, domain.Secret, domain.Secret) (domain.Tokens, error) {
				return domain.Tokens{}, nil
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var gotVerifier domain.Secret
			oauth := &fakeOAuth{exchange: func(ctx context.Context, code, verifier domain.Secret) (domain.Tokens, error) {
				gotVerifier = verifier
				if tc.exchange != nil {
					return tc.exchange(ctx, code, verifier)
				}
				return tokensFor("alice", "rt"), nil
			}}
			f := newBrowser(oauth, nil)
			ctx := context.Background()
			old := domain.Session{ID: "old", CSRFToken: "old-csrf", Expires: f.clock.Now().Add(time.Hour),
				Tokens: domain.Tokens{RefreshToken: "old-rt"}}
			f.store(t, old)
			start := f.b.StartLogin("/back")
			f.clock.Advance(tc.advance)
			a := start.Attempt
			if tc.attempt != nil {
				a = tc.attempt(a)
			}

			in, err := f.b.CompleteLogin(ctx, a, old.ID, tc.resp(start.Attempt))
			s := in.Session

			assert.Equal(t, tc.wantExchange, oauth.exchanges == 1, "code redeemed")
			fresh, claimErr := f.claims.Claim(ctx, start.Attempt.State, start.Attempt.Expires)
			require.NoError(t, claimErr)
			assert.Equal(t, tc.wantClaimed, !fresh, "attempt used up")
			switch {
			case tc.wantErr != nil:
				assert.Same(t, tc.wantErr, err)
			case tc.wantCode != "":
				require.Error(t, err)
				assert.Equal(t, tc.wantCode, domain.CodeOf(err))
				var de *domain.Error
				require.ErrorAs(t, err, &de)
				assert.Contains(t, de.Description, tc.wantDesc)
			default:
				require.NoError(t, err)
				assert.Equal(t, start.Attempt.Verifier, gotVerifier, "the attempt's verifier goes with the code")
				assert.Equal(t, tokensFor("alice", "rt"), s.Tokens, "the ID token kept, for signing out")
				assert.Equal(t, "alice", s.Subject, "the ID token's sub")
				assert.Equal(t, "Name of alice", s.Name, "and the name UserInfo gave")
				assert.Equal(t, []domain.Secret{start.Attempt.Nonce}, oauth.nonces, "the ID token must carry the attempt's nonce")
				assert.Equal(t, f.clock.Now(), s.Created)
				assert.NotEqual(t, s.ID, s.CSRFToken)
				assert.GreaterOrEqual(t, len(s.ID), 26)
				assert.Equal(t, f.clock.Now().Add(time.Hour), s.Expires)
				assert.Equal(t, "/back", in.ReturnTo, "back where the sign-in started")
				_, err := f.sessions.Update(ctx, s.ID, func(*domain.Session) error { return nil })
				assert.NoError(t, err, "the new session is stored")
				_, err = f.sessions.Delete(ctx, old.ID)
				assert.ErrorIs(t, err, domain.ErrNotFound, "the browser's old session is ended")
				assert.Equal(t, []domain.Secret{"old-rt"}, oauth.revoked, "and its grant with it")
				assert.Zero(t, in.Evicted)
				return
			}
			_, err = f.sessions.Delete(ctx, old.ID)
			assert.NoError(t, err, "a failed sign-in leaves the old session alone")
			assert.NotContains(t, oauth.revoked, domain.Secret("old-rt"))
		})
	}
}

// An answer is completed once, however it is replayed: with a copy of the
// sign-in cookie afterwards, or twice at the same moment (a double click).
// The replay never reaches the authserver, which would take the second
// presentation of the code for theft and revoke the first one's grant.
func TestCompleteLoginPresentsACodeOnce(t *testing.T) {
	ctx := context.Background()
	ok := func(a domain.LoginAttempt) domain.AuthorizationResponse {
		return domain.AuthorizationResponse{Code: "c1", State: string(a.State), Issuer: issuer}
	}

	t.Run("replayed afterwards", func(t *testing.T) {
		f := newBrowser(&fakeOAuth{}, nil)
		a := f.b.StartLogin("").Attempt
		_, err := f.b.CompleteLogin(ctx, a, "", ok(a))
		require.NoError(t, err)
		_, err = f.b.CompleteLogin(ctx, a, "", ok(a))
		assert.Equal(t, domain.LoginFailed, domain.CodeOf(err))
		assert.ErrorContains(t, err, "completed already")
		assert.Equal(t, 1, f.oauth.exchanges)
		assert.Equal(t, 1, f.sessions.Len())
	})

	t.Run("at once", func(t *testing.T) {
		release := make(chan struct{})
		oauth := &fakeOAuth{exchange: func(context.Context, domain.Secret, domain.Secret) (domain.Tokens, error) {
			<-release
			return tokensFor("alice", "rt"), nil
		}}
		f := newBrowser(oauth, nil)
		a := f.b.StartLogin("").Attempt
		const n = 20
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				_, err := f.b.CompleteLogin(ctx, a, "", ok(a))
				errs <- err
			})
		}
		for range n - 1 {
			assert.Equal(t, domain.LoginFailed, domain.CodeOf(<-errs), "all but one refused without waiting")
		}
		close(release)
		wg.Wait()
		assert.NoError(t, <-errs)
		assert.Equal(t, 1, oauth.exchanges)
	})

	t.Run("a refused code is not claimed: trying again presents it again", func(t *testing.T) {
		refused := &domain.Error{Code: domain.LoginFailed, Service: domain.AuthServer, Description: "refused"}
		f := newBrowser(&fakeOAuth{exchange: func(context.Context, domain.Secret, domain.Secret) (domain.Tokens, error) {
			return domain.Tokens{}, refused
		}}, nil)
		a := f.b.StartLogin("").Attempt
		for range 2 {
			_, err := f.b.CompleteLogin(ctx, a, "", ok(a))
			assert.Same(t, refused, err)
		}
		assert.Equal(t, 2, f.oauth.exchanges)
		assert.Zero(t, f.claims.Len(), "nothing kept for a dead code")
	})
}

// The session belongs to the user the verified ID token names. A sign-in
// whose ID token is missing, does not verify or carries another nonce is
// refused, and the grant it came with revoked, since no session will hold
// it; one whose UserInfo fails signs in without a name.
func TestCompleteLoginNeedsAVerifiedIDToken(t *testing.T) {
	bad := &domain.Error{Code: domain.LoginFailed, Service: domain.AuthServer, Description: "the ID token carries another sign-in's nonce"}
	down := &domain.Error{Code: domain.Unavailable, Service: domain.AuthServer, Description: "keys unreachable"}
	cases := []struct {
		name     string
		tokens   domain.Tokens
		verify   func(domain.Tokens, domain.Secret) (string, error)
		nameErr  error
		wantCode domain.ErrorCode
		wantName string
	}{
		{name: "verified, with a name", tokens: tokensFor("5b8f3c2e", "rt"), wantName: "Name of 5b8f3c2e"},
		{name: "verified, UserInfo down: no name", tokens: tokensFor("5b8f3c2e", "rt"), nameErr: down},
		{name: "no ID token", tokens: domain.Tokens{AccessToken: "at", RefreshToken: "rt"}, wantCode: domain.BadGateway},
		{name: "another nonce", tokens: tokensFor("5b8f3c2e", "rt"), wantCode: domain.LoginFailed,
			verify: func(domain.Tokens, domain.Secret) (string, error) { return "", bad }},
		{name: "keys unreachable", tokens: tokensFor("5b8f3c2e", "rt"), wantCode: domain.Unavailable,
			verify: func(domain.Tokens, domain.Secret) (string, error) { return "", down }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			oauth := &fakeOAuth{
				exchange: func(context.Context, domain.Secret, domain.Secret) (domain.Tokens, error) { return tc.tokens, nil },
				verify:   tc.verify,
				name: func(sub string) (string, error) {
					if tc.nameErr != nil {
						return "", tc.nameErr
					}
					return "Name of " + sub, nil
				},
			}
			f := newBrowser(oauth, nil)
			a := f.b.StartLogin("").Attempt
			in, err := f.b.CompleteLogin(context.Background(), a, "",
				domain.AuthorizationResponse{Code: "c", State: string(a.State), Issuer: issuer})
			if tc.wantCode == "" {
				require.NoError(t, err)
				assert.Equal(t, "5b8f3c2e", in.Session.Subject)
				assert.Equal(t, tc.wantName, in.Session.Name)
				assert.Equal(t, tc.nameErr, in.NameErr, "for the logs")
				assert.Empty(t, oauth.revoked)
				return
			}
			assert.Equal(t, tc.wantCode, domain.CodeOf(err))
			assert.Equal(t, domain.AuthServer, domain.ServiceOf(err))
			assert.Zero(t, f.sessions.Len())
			assert.Equal(t, []domain.Secret{"rt"}, oauth.revoked, "the grant no session holds is revoked")
		})
	}
}

// One user holds at most the per-user number of sessions (2 here): a new
// sign-in ends the oldest, and revokes its grant. Other users are not
// touched, and the browser's own previous session does not count.
func TestCompleteLoginKeepsToThePerUserCap(t *testing.T) {
	ctx := context.Background()
	sub := "alice"
	n := 0
	oauth := &fakeOAuth{exchange: func(context.Context, domain.Secret, domain.Secret) (domain.Tokens, error) {
		n++
		return tokensFor(sub, domain.Secret("rt-"+strconv.Itoa(n))), nil
	}}
	f := newBrowser(oauth, nil)
	signIn := func(old domain.Secret) app.SignIn {
		t.Helper()
		f.clock.Advance(time.Second)
		a := f.b.StartLogin("").Attempt
		in, err := f.b.CompleteLogin(ctx, a, old, domain.AuthorizationResponse{Code: "c", State: string(a.State), Issuer: issuer})
		require.NoError(t, err)
		return in
	}

	first, second := signIn(""), signIn("")
	sub = "bob"
	bobs := signIn("")
	sub = "alice"
	assert.Zero(t, first.Evicted+second.Evicted+bobs.Evicted)
	assert.Empty(t, oauth.revoked)

	third := signIn("")
	assert.Equal(t, 1, third.Evicted)
	assert.Equal(t, []domain.Secret{"rt-1"}, oauth.revoked, "the oldest session's grant is revoked")
	assert.Equal(t, 3, f.sessions.Len(), "two of alice's, one of bob's")

	// Signing in again from the browser of the third: it replaces that
	// session, and no other is evicted.
	fourth := signIn(third.Session.ID)
	assert.Zero(t, fourth.Evicted)
	assert.Equal(t, []domain.Secret{"rt-1", "rt-4"}, oauth.revoked)
	for id, want := range map[domain.Secret]bool{first.Session.ID: false, second.Session.ID: true, bobs.Session.ID: true,
		third.Session.ID: false, fourth.Session.ID: true} {
		_, err := f.sessions.Update(ctx, id, func(*domain.Session) error { return nil })
		assert.Equal(t, want, err == nil)
	}
}

// A store that cannot take the session fails the sign-in, and the grant
// just made is revoked rather than left with no one holding it.
func TestCompleteLoginWhenTheStoreIsFull(t *testing.T) {
	ctx := context.Background()
	oauth := &fakeOAuth{}
	f := newBrowser(oauth, nil)
	for i := range 10 {
		f.store(t, domain.Session{ID: domain.Secret("s" + strconv.Itoa(i)), Subject: "user-" + strconv.Itoa(i), Expires: f.clock.Now().Add(time.Hour)})
	}
	a := f.b.StartLogin("").Attempt
	_, err := f.b.CompleteLogin(ctx, a, "", domain.AuthorizationResponse{Code: "c", State: string(a.State), Issuer: issuer})
	assert.Equal(t, domain.Unavailable, domain.CodeOf(err))
	assert.Equal(t, []domain.Secret{"rt-c"}, oauth.revoked)
	assert.Equal(t, 10, f.sessions.Len(), "no one else was signed out")
}

func TestHome(t *testing.T) {
	ended := &domain.Error{Code: domain.SessionEnded, Service: domain.AuthServer}
	authDown := &domain.Error{Code: domain.Unavailable, Service: domain.AuthServer}
	rejected := &domain.Error{Code: domain.TokenRejected, Service: domain.ResourceServer}
	notGranted := &domain.Error{Code: domain.NotGranted, Service: domain.ResourceServer}
	rsDown := &domain.Error{Code: domain.Unavailable, Service: domain.ResourceServer}
	refreshed := func(_ context.Context, _ domain.Tokens) (domain.Tokens, error) {
		return domain.Tokens{AccessToken: "at-2", RefreshToken: "rt-2"}, nil
	}

	cases := []struct {
		name      string
		noSession bool
		fresh     func(context.Context, domain.Tokens) (domain.Tokens, error)
		timeErr   map[domain.TimeKind]error
		wantView  func(t *testing.T, v app.HomeView)
		wantKept  bool
		wantRT    domain.Secret
	}{
		{name: "no cookie", noSession: true, wantView: func(t *testing.T, v app.HomeView) {
			assert.Equal(t, app.HomeView{}, v)
		}},
		{name: "both times, refreshed tokens used and kept", fresh: refreshed, wantKept: true, wantRT: "rt-2",
			wantView: func(t *testing.T, v app.HomeView) {
				assert.True(t, v.SignedIn)
				assert.Equal(t, domain.Secret("csrf"), v.CSRFToken)
				require.Len(t, v.Times, 2)
				assert.Equal(t, domain.CurrentTime, v.Times[0].Kind)
				assert.Equal(t, domain.EpochTime, v.Times[1].Kind)
				for _, r := range v.Times {
					assert.NoError(t, r.Err)
					assert.Equal(t, "read with at-2", string(r.Answer.Raw))
				}
			}},
		{name: "refresh refused ends the session", fresh: func(context.Context, domain.Tokens) (domain.Tokens, error) {
			return domain.Tokens{}, ended
		}, wantView: func(t *testing.T, v app.HomeView) {
			assert.Equal(t, app.HomeView{Ended: true}, v)
		}},
		{name: "authserver down keeps the session", fresh: func(context.Context, domain.Tokens) (domain.Tokens, error) {
			return domain.Tokens{}, authDown
		}, wantKept: true, wantRT: "rt-1", wantView: func(t *testing.T, v app.HomeView) {
			assert.True(t, v.SignedIn)
			assert.Same(t, authDown, v.Err)
			assert.Empty(t, v.Times)
			assert.Equal(t, domain.Secret("csrf"), v.CSRFToken, "sign-out still possible")
		}},
		{name: "token rejected by the resource server ends the session", timeErr: map[domain.TimeKind]error{domain.EpochTime: rejected},
			wantView: func(t *testing.T, v app.HomeView) { assert.Equal(t, app.HomeView{Ended: true}, v) }},
		{name: "scope not granted is shown, not fatal", timeErr: map[domain.TimeKind]error{domain.EpochTime: notGranted},
			wantKept: true, wantRT: "rt-1", wantView: func(t *testing.T, v app.HomeView) {
				require.Len(t, v.Times, 2)
				assert.NoError(t, v.Times[0].Err)
				assert.Same(t, notGranted, v.Times[1].Err)
			}},
		{name: "resource server down is shown", timeErr: map[domain.TimeKind]error{domain.CurrentTime: rsDown, domain.EpochTime: rsDown},
			wantKept: true, wantRT: "rt-1", wantView: func(t *testing.T, v app.HomeView) {
				assert.True(t, v.SignedIn)
				require.Len(t, v.Times, 2)
				assert.Same(t, rsDown, v.Times[0].Err)
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			times := fakeTimes{fn: func(_ context.Context, tok domain.Secret, kind domain.TimeKind) (domain.TimeAnswer, error) {
				if err := tc.timeErr[kind]; err != nil {
					return domain.TimeAnswer{}, err
				}
				return domain.TimeAnswer{Kind: kind, Raw: []byte("read with " + string(tok))}, nil
			}}
			f := newBrowser(&fakeOAuth{fresh: tc.fresh}, times)
			ctx := context.Background()
			s := domain.Session{ID: "s1", CSRFToken: "csrf", Expires: f.clock.Now().Add(time.Hour),
				Tokens: domain.Tokens{AccessToken: "at-1", RefreshToken: "rt-1"}}
			f.store(t, s)
			id := s.ID
			if tc.noSession {
				id = ""
			}

			v, err := f.b.Home(ctx, id)
			require.NoError(t, err)
			tc.wantView(t, v)
			if tc.noSession {
				return
			}
			got, err := f.sessions.Delete(ctx, "s1")
			if !tc.wantKept {
				assert.ErrorIs(t, err, domain.ErrNotFound, "the session is over")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantRT, got.Tokens.RefreshToken)
		})
	}
}

func TestHomeUnknownSessionIsSignedOut(t *testing.T) {
	f := newBrowser(&fakeOAuth{}, nil)
	v, err := f.b.Home(context.Background(), "no-such-session")
	require.NoError(t, err)
	assert.Equal(t, app.HomeView{}, v)
}

// The refresh finishes even if the page request is abandoned mid-way: the
// authserver has spent the old refresh token by then.
func TestHomeRefreshOutlivesTheRequest(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var refreshCtxErr error
	oauth := &fakeOAuth{fresh: func(rctx context.Context, _ domain.Tokens) (domain.Tokens, error) {
		cancel()
		refreshCtxErr = rctx.Err()
		return domain.Tokens{AccessToken: "at-2", RefreshToken: "rt-2"}, nil
	}}
	times := fakeTimes{fn: func(ctx context.Context, _ domain.Secret, _ domain.TimeKind) (domain.TimeAnswer, error) {
		return domain.TimeAnswer{}, &domain.Error{Code: domain.Unavailable, Service: domain.ResourceServer, Err: ctx.Err()}
	}}
	f := newBrowser(oauth, times)
	f.store(t, domain.Session{ID: "s1", Expires: f.clock.Now().Add(time.Hour),
		Tokens: domain.Tokens{AccessToken: "at-1", RefreshToken: "rt-1"}})

	_, err := f.b.Home(ctx, "s1")
	require.NoError(t, err)
	assert.NoError(t, refreshCtxErr, "the refresh does not see the request's cancellation")
	got, err := f.sessions.Delete(context.Background(), "s1")
	require.NoError(t, err)
	assert.Equal(t, domain.Secret("rt-2"), got.Tokens.RefreshToken, "the rotated token is kept")
}

func TestLogout(t *testing.T) {
	revokeFailed := errors.New("authserver down")
	t.Run("a session without an ID token signs out here only", func(t *testing.T) {
		f := newBrowser(&fakeOAuth{}, nil)
		f.store(t, domain.Session{ID: "s1", CSRFToken: "csrf", Expires: f.clock.Now().Add(time.Hour), Tokens: domain.Tokens{AccessToken: "at"}})
		out, err := f.b.Logout(context.Background(), "s1", "csrf")
		require.NoError(t, err)
		assert.Empty(t, out.EndSessionURL)
	})
	cases := []struct {
		name        string
		id          domain.Secret
		csrf        string
		refresh     domain.Secret
		revokeErr   error
		wantCode    domain.ErrorCode
		wantRevoked []domain.Secret
		wantGone    bool
	}{
		{name: "right token", id: "s1", csrf: "csrf", refresh: "rt-1", wantRevoked: []domain.Secret{"rt-1"}, wantGone: true},
		{name: "revocation fails, still signed out", id: "s1", csrf: "csrf", refresh: "rt-1", revokeErr: revokeFailed,
			wantRevoked: []domain.Secret{"rt-1"}, wantGone: true},
		{name: "no refresh token, nothing to revoke", id: "s1", csrf: "csrf", wantGone: true},
		{name: "wrong token", id: "s1", csrf: "csrf2", refresh: "rt-1", wantCode: domain.Forbidden},
		{name: "no token", id: "s1", csrf: "", refresh: "rt-1", wantCode: domain.Forbidden},
		{name: "no session", id: "", csrf: "", refresh: "rt-1"},
		{name: "unknown session", id: "s2", csrf: "csrf", refresh: "rt-1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			oauth := &fakeOAuth{revoke: func(context.Context, domain.Secret) error { return tc.revokeErr }}
			f := newBrowser(oauth, nil)
			ctx := context.Background()
			f.store(t, domain.Session{ID: "s1", CSRFToken: "csrf", Expires: f.clock.Now().Add(time.Hour),
				Tokens: domain.Tokens{AccessToken: "at-1", RefreshToken: tc.refresh, IDToken: "idt-alice"}})

			out, err := f.b.Logout(ctx, tc.id, tc.csrf)
			if tc.wantGone {
				assert.Equal(t, "https://as.example/end_session?id_token_hint=idt-alice", out.EndSessionURL,
					"on to the authserver, to sign out there too, named by the ID token")
			} else {
				assert.Empty(t, out.EndSessionURL, "nothing was ended here: nothing to end there")
			}
			if tc.wantCode != "" {
				assert.Equal(t, tc.wantCode, domain.CodeOf(err))
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tc.revokeErr, out.RevokeErr)
			assert.Equal(t, tc.wantRevoked, oauth.revoked)
			_, err = f.sessions.Delete(ctx, "s1")
			if tc.wantGone {
				assert.ErrorIs(t, err, domain.ErrNotFound)
			} else {
				assert.NoError(t, err, "the session is still there")
			}
		})
	}
}
