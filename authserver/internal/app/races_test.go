package app_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

// The guarantees of the README's "What holds under races and faults", on
// the use cases over the memory store. The storage conformance suite checks
// each backend's part; authserver's race tests run these on PostgreSQL and
// Redis.

func codeTokenReq(client, code string) app.TokenRequest {
	redirect := "https://app.example/cb"
	if client == "spa" {
		redirect = "https://spa.example/cb"
	}
	return app.TokenRequest{GrantType: "authorization_code", Code: code, RedirectURI: redirect, CodeVerifier: verifier}
}

func codeReqFor(client string) app.AuthorizeRequest {
	req := codeReq(client)
	if client == "spa" {
		req.RedirectURI = "https://spa.example/cb"
	}
	return req
}

// alive reports whether anything of resp still works: its access token
// introspects active, or its refresh token is usable.
func (w *world) alive(resp app.TokenResponse) bool {
	w.t.Helper()
	if w.introspect("rs", resp.AccessToken).Active {
		return true
	}
	if resp.RefreshToken == "" {
		return false
	}
	t, err := w.store.FindRefreshToken(context.Background(), app.HashToken(resp.RefreshToken))
	require.NoError(w.t, err)
	return t.Usable(w.clock.Now())
}

func TestCodeReplayedDuringItsExchangeLeavesNothingAlive(t *testing.T) {
	for _, client := range []string{"web", "spa"} { // with and without refresh tokens
		t.Run(client, func(t *testing.T) {
			w := newWorld(t)
			for round := 0; round < 50; round++ {
				code := w.approve(t, codeReqFor(client))
				var (
					wg   sync.WaitGroup
					mu   sync.Mutex
					won  []app.TokenResponse
					errs []error
				)
				for range 2 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						resp, err := w.exchange(client, codeTokenReq(client, code))
						mu.Lock()
						defer mu.Unlock()
						if err != nil {
							errs = append(errs, err)
							return
						}
						won = append(won, resp)
					}()
				}
				wg.Wait()
				require.LessOrEqual(t, len(won), 1, "round %d: a code buys tokens once", round)
				for _, err := range errs {
					require.Equal(t, domain.InvalidGrant, domain.CodeOf(err), "round %d: %v", round, err)
				}
				for _, resp := range won {
					require.False(t, w.alive(resp), "round %d: the code was presented twice, so what it bought is revoked", round)
				}
			}
		})
	}
}

// flakyRefresh fails CreateRefreshToken with an outage until healed.
type flakyRefresh struct {
	app.RefreshTokenStore
	mu   sync.Mutex
	down bool
}

func (f *flakyRefresh) CreateRefreshToken(ctx context.Context, t domain.RefreshToken) error {
	f.mu.Lock()
	down := f.down
	f.mu.Unlock()
	if down {
		return domain.ErrUnavailable
	}
	return f.RefreshTokenStore.CreateRefreshToken(ctx, t)
}

func TestFailedTokenWriteLeavesTheCodeUsable(t *testing.T) {
	w := newWorld(t)
	refresh := &flakyRefresh{RefreshTokenStore: w.store, down: true}
	minter := app.NewMinter(app.MinterDeps{Signer: w.keys, Refresh: refresh, Policy: app.TokenPolicy{
		Issuer: issuer, Audience: []string{"rs"}, AccessTTL: time.Minute, MaxAccessTTL: time.Hour, RefreshTTL: time.Hour,
	}, Now: w.clock.Now})
	grant := app.NewAuthorizationCodeGrant(w.store, refresh, w.store, minter, w.clock.Now)
	ctx := context.Background()

	code := w.approve(t, codeReq("web"))
	_, err := grant.Exchange(ctx, w.client("web"), codeTokenReq("web", code))
	require.ErrorIs(t, err, domain.ErrUnavailable, "the client is told to retry")

	refresh.mu.Lock()
	refresh.down = false
	refresh.mu.Unlock()
	resp, err := grant.Exchange(ctx, w.client("web"), codeTokenReq("web", code))
	require.NoError(t, err, "the retry succeeds: the code was not burned")
	assert.True(t, w.alive(resp))

	_, err = grant.Exchange(ctx, w.client("web"), codeTokenReq("web", code))
	assert.Equal(t, domain.InvalidGrant, domain.CodeOf(err), "and it is used now")
	assert.False(t, w.alive(resp), "so a third presentation is a replay")
}

func TestRefusedPresentationsHaveNoSideEffects(t *testing.T) {
	w := newWorld(t)
	cases := map[string]func(code string) (string, app.TokenRequest){
		"another client": func(code string) (string, app.TokenRequest) {
			return "spa", codeTokenReq("web", code)
		},
		"wrong verifier": func(code string) (string, app.TokenRequest) {
			r := codeTokenReq("web", code)
			r.CodeVerifier = strings.Repeat("a", 43)
			return "web", r
		},
		"wrong redirect_uri": func(code string) (string, app.TokenRequest) {
			r := codeTokenReq("web", code)
			r.RedirectURI = "https://app.example/other?keep=1"
			return "web", r
		},
	}
	for name, bad := range cases {
		t.Run(name, func(t *testing.T) {
			code := w.approve(t, codeReq("web"))
			client, req := bad(code)
			_, err := w.exchange(client, req)
			require.Equal(t, domain.InvalidGrant, domain.CodeOf(err))
			resp, err := w.exchange("web", codeTokenReq("web", code))
			require.NoError(t, err, "the owner still redeems its code")
			assert.True(t, w.alive(resp), "and nothing it bought was revoked")
		})
	}
}

// claimHook runs during once the code store has answered a claim made
// with a marked context: the moment a presentation holds its claim.
type claimHook struct {
	app.CodeStore
	during func()
}

type presenterKey struct{}

func (h *claimHook) ClaimCode(ctx context.Context, hash, attempt string, until time.Time) (domain.AuthorizationCode, bool, error) {
	c, ok, err := h.CodeStore.ClaimCode(ctx, hash, attempt, until)
	if f := h.during; f != nil && ctx.Value(presenterKey{}) != nil {
		h.during = nil
		f()
	}
	return c, ok, err
}

// A presentation the code refuses claims nothing, so the owner presenting
// the code while it is being refused is no replay: whatever the timing,
// the owner gets its tokens. (A refused presentation that held a claim,
// however briefly, made the owner's exchange at that moment look like a
// second use, and burnt the code.)
func TestOwnerRedeemsWhileARefusedPresentationRuns(t *testing.T) {
	cases := map[string]func(code string) (string, app.TokenRequest){
		"another client": func(code string) (string, app.TokenRequest) {
			return "spa", codeTokenReq("web", code)
		},
		"wrong verifier": func(code string) (string, app.TokenRequest) {
			r := codeTokenReq("web", code)
			r.CodeVerifier = strings.Repeat("a", 43)
			return "web", r
		},
	}
	for name, bad := range cases {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			hook := &claimHook{CodeStore: w.store}
			minter := app.NewMinter(app.MinterDeps{Signer: w.keys, Refresh: w.store, Policy: app.TokenPolicy{
				Issuer: issuer, Audience: []string{"rs"}, AccessTTL: time.Minute, MaxAccessTTL: time.Hour, RefreshTTL: time.Hour,
			}, Now: w.clock.Now})
			grant := app.NewAuthorizationCodeGrant(hook, w.store, w.store, minter, w.clock.Now)
			code := w.approve(t, codeReq("web"))

			var (
				owner    app.TokenResponse
				ownerErr error
				ran      bool
			)
			redeem := func() {
				ran = true
				owner, ownerErr = grant.Exchange(context.Background(), w.client("web"), codeTokenReq("web", code))
			}
			hook.during = redeem
			client, req := bad(code)
			_, err := grant.Exchange(context.WithValue(context.Background(), presenterKey{}, true), w.client(client), req)
			require.Equal(t, domain.InvalidGrant, domain.CodeOf(err))
			if !ran {
				redeem() // the refused presentation never claimed: the owner comes after it
			}
			require.NoError(t, ownerErr, "the owner redeems its code")
			assert.True(t, w.alive(owner), "and keeps what it bought")
		})
	}
}

func TestRevokingAGrantInvalidatesOutstandingCodes(t *testing.T) {
	for _, client := range []string{"web", "spa"} {
		t.Run(client, func(t *testing.T) {
			w := newWorld(t)
			code := w.approve(t, codeReqFor(client))
			require.NoError(t, w.consents.Revoke(context.Background(), "u-alice", client))
			_, err := w.exchange(client, codeTokenReq(client, code))
			assert.Equal(t, domain.InvalidGrant, domain.CodeOf(err), "a code issued before the revocation buys nothing")
		})
	}
}

func TestRefreshReuseDuringRotationRevokesTheSuccessor(t *testing.T) {
	w := newWorld(t)
	for round := 0; round < 50; round++ {
		code := w.approve(t, codeReq("web"))
		first := w.mustExchange("web", codeTokenReq("web", code))
		second := w.mustExchange("web", app.TokenRequest{GrantType: "refresh_token", RefreshToken: first.RefreshToken})
		// The thief replays the retired first token while the client
		// rotates the second one.
		var (
			wg      sync.WaitGroup
			rotated app.TokenResponse
			rotErr  error
		)
		wg.Add(2)
		go func() {
			defer wg.Done()
			rotated, rotErr = w.exchange("web", app.TokenRequest{GrantType: "refresh_token", RefreshToken: second.RefreshToken})
		}()
		go func() {
			defer wg.Done()
			_, err := w.exchange("web", app.TokenRequest{GrantType: "refresh_token", RefreshToken: first.RefreshToken})
			assert.Equal(t, domain.InvalidGrant, domain.CodeOf(err))
		}()
		wg.Wait()
		if rotErr == nil {
			require.False(t, w.alive(rotated), "round %d: the successor dies with its family", round)
		}
		require.False(t, w.alive(second), "round %d", round)
	}
}
