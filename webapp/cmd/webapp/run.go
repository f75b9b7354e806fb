package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"
	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/oauth2ref/pkg/config"
	"github.com/oauth2ref/pkg/httpclient"
	"github.com/oauth2ref/pkg/httpserver"
	"github.com/oauth2ref/pkg/service"
	"github.com/oauth2ref/webapp/internal/adapters/authclient"
	"github.com/oauth2ref/webapp/internal/adapters/httpapi"
	"github.com/oauth2ref/webapp/internal/adapters/resourceclient"
	"github.com/oauth2ref/webapp/internal/adapters/storage/memory"
	"github.com/oauth2ref/webapp/internal/adapters/storage/redis"
	"github.com/oauth2ref/webapp/internal/app"
	"github.com/oauth2ref/webapp/internal/domain"
)

// run is the whole program; main only gives it the process's context,
// arguments, environment and streams, so tests can run it in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, opts ...service.Option) error {
	return service.Run(ctx, service.Program[Config]{
		Args: args, Getenv: getenv, Stdout: stdout, Stderr: stderr, Load: loadConfig, Serve: serve,
	}, opts...)
}

// loadConfig reads the configuration (command line, the file of the
// environment, environment variables) and checks it, at start and again on
// every reload.
var loadConfig = config.Loader[Config]{
	Service: "webapp", EnvPrefix: "WEBAPP", Schema: configSchema, Defaults: defaultConfig, Check: Config.check,
}.Load

// serve wires the adapters to the use cases and serves them with p until
// ctx ends.
func serve(ctx context.Context, p *service.Process, cfg Config, file string) error {
	log := p.Log
	authRoots, err := cfg.AuthServer.TLS.Roots()
	if err != nil {
		return fmt.Errorf("config: authserver.%w", err)
	}
	resourceRoots, err := cfg.ResourceServer.TLS.Roots()
	if err != nil {
		return fmt.Errorf("config: resourceserver.%w", err)
	}
	// Never the client secret or the demo password.
	p.Starting(file,
		zap.String("token_url", cfg.AuthServer.TokenURL), zap.String("client_id", cfg.AuthServer.ClientID),
		zap.String("resourceserver", cfg.ResourceServer.BaseURL), zap.Bool("demo_user", cfg.DemoUser.Username != ""),
		zap.Bool("browser_pages", cfg.BrowserEnabled()), zap.String("browser_client_id", cfg.Browser.ClientID),
		zap.String("authorize_url", cfg.Browser.AuthorizeURL), zap.String("redirect_url", cfg.Browser.RedirectURL),
		zap.String("issuer", cfg.Browser.Issuer), zap.String("session_store", sessionStoreName(cfg)))

	// One client per upstream, each bounded by that upstream's timeout and
	// keeping its connections for reuse.
	authHTTP := httpclient.New(cfg.AuthServer.Timeout.D(), httpclient.WithRoots(authRoots))
	tokens := authclient.New(authclient.Config{
		TokenURL:     cfg.AuthServer.TokenURL,
		ClientID:     cfg.AuthServer.ClientID,
		ClientSecret: cfg.AuthServer.ClientSecret,
	}, authHTTP)
	times := resourceclient.New(cfg.ResourceServer.BaseURL, httpclient.New(cfg.ResourceServer.Timeout.D(), httpclient.WithRoots(resourceRoots)))

	proxies, err := httpserver.ParseTrustedProxies(cfg.HTTP.TrustedProxies)
	if err != nil {
		return fmt.Errorf("config: http.trusted_proxies: %w", err)
	}
	deps := httpapi.Deps{
		Log:      log,
		Times:    app.New(tokens, times),
		DemoUser: domain.Credentials{Username: cfg.DemoUser.Username, Password: domain.Secret(cfg.DemoUser.Password)},
		ClientID: cfg.AuthServer.ClientID,
	}
	if cfg.BrowserEnabled() {
		st, err := sessionStores(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer st.close()
		pages, err := browserPages(cfg, log, authHTTP, times, st)
		if err != nil {
			return err
		}
		deps.Pages = pages
	} else {
		log.Info("browser pages off: browser.client_secret is empty")
	}
	// No readiness checks on the upstreams: when one is down the webapp
	// still answers, fast, with a 503 naming it, and taking the webapp out
	// of rotation too would only hide which service is at fault.
	return p.Serve(ctx, service.Site{
		Mount: func(r chi.Router) { r.Mount("/", httpapi.NewHandler(deps)) },
		// The password grant forwards the caller's address (authclient).
		Stack: httpserver.Stack{RecordClientAddr: true, TrustedProxies: proxies},
	})
}

// maxLoginClaims is the most claims of completed sign-ins kept in memory:
// a claim is a few dozen bytes, and one lasts 10 minutes, so this is room
// for a sign-in every 60 ms, and less than a megabyte.
const maxLoginClaims = 10000

// stores are where the browser's sessions and sign-in claims live.
type stores struct {
	sessions app.SessionStore
	claims   app.LoginClaimStore
	close    func()
}

// sessionStoreName says where sessions live, for the start-up log line:
// "memory", or the Redis URL without its password.
func sessionStoreName(cfg Config) string {
	if cfg.Redis.URL == "" {
		return "memory"
	}
	u, err := url.Parse(cfg.Redis.URL)
	if err != nil {
		return "redis"
	}
	return u.Redacted()
}

// sessionStores are Redis if redis.url is set, else this process's memory.
// A Redis that does not answer at start is no reason to stop: the pages
// answer 503 until it does, and the curl flow needs no Redis at all.
func sessionStores(ctx context.Context, cfg Config, log *zap.Logger) (stores, error) {
	if cfg.Redis.URL == "" {
		return stores{
			sessions: memory.NewSessions(memory.Options{Capacity: cfg.Browser.MaxSessions, PerUser: cfg.Browser.SessionsPerUser}),
			claims:   memory.NewLoginClaims(memory.Options{Capacity: maxLoginClaims}),
			close:    func() {},
		}, nil
	}
	// go-redis logs dial failures through a package-level hook only.
	goredis.SetLogger(redisLog{log.Named("redis")})
	st, err := redis.New(redis.Config{
		URL:       cfg.Redis.URL,
		KeyPrefix: cfg.Redis.KeyPrefix,
		Timeout:   cfg.Redis.Timeout.D(),
		LockLease: cfg.Redis.LockLease.D(),
		Capacity:  cfg.Browser.MaxSessions,
		PerUser:   cfg.Browser.SessionsPerUser,
	}, nil)
	if err != nil {
		return stores{}, fmt.Errorf("redis.url: %w", err)
	}
	if err := st.Ping(ctx); err != nil {
		log.Warn("the session store (Redis) does not answer; the browser pages answer 503 until it does", zap.Error(err))
	}
	return stores{sessions: st, claims: st, close: st.Close}, nil
}

// redisLog routes go-redis's own messages (dial failures, mostly) into the
// JSON log.
type redisLog struct{ log *zap.Logger }

func (l redisLog) Printf(_ context.Context, format string, v ...any) {
	l.log.Warn(fmt.Sprintf(format, v...))
}

// browserPages wires the browser demo: the authorization code client on
// the authserver's HTTP client, the resource client shared with the curl
// flow, and the session stores.
func browserPages(cfg Config, log *zap.Logger, authHTTP *http.Client, times *resourceclient.Client, st stores) (*httpapi.Pages, error) {
	code := authclient.NewCodeClient(authclient.CodeConfig{
		AuthorizeURL: cfg.Browser.AuthorizeURL,
		TokenURL:     cfg.AuthServer.TokenURL,
		RevokeURL:    cfg.Browser.RevokeURL,
		ClientID:     cfg.Browser.ClientID,
		ClientSecret: cfg.Browser.ClientSecret,
		RedirectURL:  cfg.Browser.RedirectURL,
		Scopes:       cfg.Browser.Scopes,
		// RP-Initiated Logout: back to the webapp's home page.
		EndSessionURL:         cfg.Browser.EndSessionURL,
		PostLogoutRedirectURL: cfg.Browser.PostLogoutRedirectURL,
	}, authHTTP)
	identity := authclient.NewIdentity(authclient.IdentityConfig{
		Issuer: cfg.Browser.Issuer, ClientID: cfg.Browser.ClientID,
		JWKSURL: cfg.Browser.JWKSURL, UserInfoURL: cfg.Browser.UserInfoURL,
	}, authHTTP)
	browser := app.NewBrowser(app.BrowserDeps{
		Authorizer: code,
		Identity:   identity,
		Renewer:    code,
		Revoker:    code,
		Times:      times,
		Sessions:   st.sessions,
		Claims:     st.claims,
		Issuer:     cfg.Browser.Issuer,
		SessionTTL: cfg.Browser.SessionTTL.D(),
	})
	key, err := browserCookieKey(cfg, log)
	if err != nil {
		return nil, err
	}
	return httpapi.NewPages(httpapi.PageDeps{
		Browser:       browser,
		CookieKey:     key,
		Log:           log,
		SecureCookies: strings.HasPrefix(cfg.Browser.RedirectURL, "https://"),
		ClientID:      cfg.Browser.ClientID,
		SignOutTarget: originOf(cfg.Browser.EndSessionURL),
	})
}

// originOf is the scheme://host[:port] of an http(s) URL, "" for "" (the
// schema has checked the form).
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// browserCookieKey is browser.cookie_key, or a random key for this process
// alone if it is empty.
func browserCookieKey(cfg Config, log *zap.Logger) ([]byte, error) {
	if cfg.Browser.CookieKey != "" {
		return cfg.cookieKey()
	}
	log.Info("browser.cookie_key is empty: sign-in cookies are sealed with a random key made at start, " +
		"so sign-ins in progress do not survive a restart, and replicas cannot complete each other's; " +
		"set WEBAPP_BROWSER_COOKIE_KEY, the same on every replica")
	key := make([]byte, httpapi.MinCookieKeyLen)
	_, _ = rand.Read(key) // never fails (crypto/rand)
	return key, nil
}
