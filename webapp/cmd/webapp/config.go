package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/oauth2ref/pkg/config"
	"github.com/oauth2ref/pkg/httpclient"
	"github.com/oauth2ref/pkg/httpserver"
	"github.com/oauth2ref/pkg/service"
	"github.com/oauth2ref/pkg/zaplog"
	"github.com/oauth2ref/webapp/internal/adapters/httpapi"
	"github.com/oauth2ref/webapp/internal/adapters/storage/redis"
	"github.com/oauth2ref/webapp/internal/app"
)

// demoClientSecret is the development fixtures' secret for client 1234.
// Everyone who has read the README knows it, so production refuses it.
const demoClientSecret = "qwerty"

// demoBrowserSecret is the development fixtures' secret for client
// webapp-browser, refused in production for the same reason.
const demoBrowserSecret = "webapp-browser-secret" //nolint:gosec // G101: named here to be refused

// callbackPath is where the webapp serves the authorization response, so
// it is the path browser.redirect_url must have.
const callbackPath = "/callback"

// Config is the webapp's whole configuration: built-in defaults, then
// configs/webapp.<env>.json, then WEBAPP_* environment variables
// (WEBAPP_HTTP_ADDR sets http.addr, WEBAPP_AUTHSERVER_CLIENT_SECRET sets
// authserver.client_secret, and so on).
type Config struct {
	// Base holds http, metrics, log and runtime, as in every service.
	service.Base
	// AuthServer is where the webapp gets tokens, and the client it
	// authenticates as (client_secret_basic).
	AuthServer struct {
		TokenURL     string          `json:"token_url"`
		ClientID     string          `json:"client_id"`
		ClientSecret string          `json:"client_secret"`
		Timeout      config.Duration `json:"timeout"`
		// TLS.CAFile trusts a private CA for an https authserver.
		TLS httpclient.TLSConfig `json:"tls"`
	} `json:"authserver"`
	ResourceServer struct {
		BaseURL string               `json:"base_url"`
		Timeout config.Duration      `json:"timeout"`
		TLS     httpclient.TLSConfig `json:"tls"`
	} `json:"resourceserver"`
	// DemoUser acts for requests without HTTP Basic credentials, so that a
	// bare `curl localhost:5003/current_time` works. An empty username
	// switches it off.
	DemoUser struct {
		Username string `json:"username"`
		Password string `json:"password"`
	} `json:"demo_user"`
	// Browser is the browser demo's client: the authorization code grant
	// with PKCE, as a confidential client (client_secret_basic), and an
	// OpenID Connect relying party. Its token endpoint is
	// authserver.token_url. An empty client_secret switches the browser
	// pages off.
	Browser struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		AuthorizeURL string `json:"authorize_url"`
		RevokeURL    string `json:"revoke_url"`
		// JWKSURL and UserInfoURL are the authserver's, reached from the
		// webapp (like revoke_url); EndSessionURL its RP-Initiated Logout
		// endpoint, reached by the browser (like authorize_url), which
		// sends it back to PostLogoutRedirectURL, registered there. An
		// empty end_session_url signs out of the webapp only.
		JWKSURL               string `json:"jwks_url"`
		UserInfoURL           string `json:"userinfo_url"`
		EndSessionURL         string `json:"end_session_url"`
		PostLogoutRedirectURL string `json:"post_logout_redirect_url"`
		// Issuer is the authserver's issuer identifier, which every
		// authorization response must carry as iss (RFC 9207).
		Issuer string `json:"issuer"`
		// RedirectURL is the webapp's own callback as the browser reaches
		// it, registered at the authserver; https there makes the cookies
		// Secure.
		RedirectURL string          `json:"redirect_url"`
		Scopes      []string        `json:"scopes"`
		SessionTTL  config.Duration `json:"session_ttl"`
		// CookieKey seals the sign-in cookie (state, PKCE verifier, nonce):
		// at least 32 random bytes in base64. Every replica needs the same
		// one. Empty makes a random key at start, which is fine for one
		// process; production requires it set.
		CookieKey string `json:"cookie_key"`
		// MaxSessions is the most signed-in sessions the webapp holds; past
		// it, sign-ins are refused with a 503 until some end, rather than
		// signing anyone out.
		MaxSessions int `json:"max_sessions"`
		// SessionsPerUser is the most sessions one user holds; a new
		// sign-in ends the user's oldest beyond it.
		SessionsPerUser int `json:"sessions_per_user"`
	} `json:"browser"`
	// Redis, when URL is set, keeps the browser sessions (and the claims of
	// completed sign-ins) so that replicas share them; otherwise they live
	// in this process's memory.
	Redis struct {
		// URL is redis://[:password@]host:port/db, rediss://... or
		// unix:///path?db=N.
		URL       string `json:"url"`
		KeyPrefix string `json:"key_prefix"`
		// Timeout bounds each call as a whole, connecting included.
		Timeout config.Duration `json:"timeout"`
		// LockLease is how long a session update (a token refresh) may
		// hold the session before another replica may take it.
		LockLease config.Duration `json:"lock_lease"`
	} `json:"redis"`
}

// BrowserEnabled reports whether the browser pages are served.
func (c Config) BrowserEnabled() bool { return c.Browser.ClientSecret != "" }

func defaultConfig() Config {
	var c Config
	c.HTTP = httpserver.DefaultConfig(":5003")
	c.Log = zaplog.DefaultConfig()
	c.AuthServer.TokenURL = "http://localhost:5001/oauth/token"
	c.AuthServer.ClientID = "1234"
	c.AuthServer.ClientSecret = demoClientSecret
	c.AuthServer.Timeout = config.Duration(3 * time.Second)
	c.ResourceServer.BaseURL = "http://localhost:5002"
	c.ResourceServer.Timeout = config.Duration(3 * time.Second)
	c.DemoUser.Username = "alice"
	c.DemoUser.Password = "alice-password"
	c.Browser.ClientID = "webapp-browser"
	c.Browser.ClientSecret = demoBrowserSecret
	c.Browser.AuthorizeURL = "http://localhost:5001/oauth/authorize"
	c.Browser.RevokeURL = "http://localhost:5001/oauth/revoke"
	c.Browser.JWKSURL = "http://localhost:5001/oauth/jwks.json"
	c.Browser.UserInfoURL = "http://localhost:5001/oauth/userinfo"
	c.Browser.EndSessionURL = "http://localhost:5001/oauth/end_session"
	c.Browser.PostLogoutRedirectURL = "http://localhost:5003/"
	c.Browser.Issuer = "http://localhost:5001"
	c.Browser.RedirectURL = "http://localhost:5003" + callbackPath
	c.Browser.Scopes = []string{"openid", "profile", "current_time", "epoch_time"}
	c.Browser.SessionTTL = config.Duration(time.Hour)
	c.Browser.MaxSessions = app.DefaultMaxSessions
	c.Browser.SessionsPerUser = app.DefaultSessionsPerUser
	c.Redis.KeyPrefix = redis.DefaultKeyPrefix
	c.Redis.Timeout = config.Duration(redis.DefaultTimeout)
	c.Redis.LockLease = config.Duration(redis.DefaultLockLease)
	return c
}

// check enforces what the schema cannot say: positive timeouts (a zero one
// would mean no timeout at all, so a hung upstream would hang every caller),
// and no demo credentials in production.
func (c Config) check(env string) error {
	var problems []string
	if c.AuthServer.Timeout.D() <= 0 {
		problems = append(problems, "authserver.timeout must be positive")
	}
	if c.ResourceServer.Timeout.D() <= 0 {
		problems = append(problems, "resourceserver.timeout must be positive")
	}
	if c.Browser.SessionTTL.D() <= 0 {
		problems = append(problems, "browser.session_ttl must be positive")
	}
	if u, err := url.Parse(c.Browser.RedirectURL); err == nil && u.Path != callbackPath {
		problems = append(problems, "browser.redirect_url must have the path "+callbackPath+", where the webapp serves it")
	}
	if c.BrowserEnabled() && !slices.Contains(c.Browser.Scopes, "openid") {
		// The ID token says who signed in: without it a session has no user.
		problems = append(problems, "browser.scopes must include openid: the webapp signs users in with OpenID Connect")
	}
	if c.Redis.Timeout.D() <= 0 {
		problems = append(problems, "redis.timeout must be positive")
	}
	if c.Redis.URL != "" && c.Redis.LockLease.D() <= c.AuthServer.Timeout.D() {
		// An update holds the session while it refreshes the tokens at the
		// authserver; a lease that ends first lets another replica spend
		// the same refresh token.
		problems = append(problems, "redis.lock_lease must be longer than authserver.timeout")
	}
	if c.Browser.CookieKey != "" {
		if _, err := c.cookieKey(); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if env == "production" {
		if c.BrowserEnabled() && c.Browser.CookieKey == "" {
			problems = append(problems, "browser.cookie_key is empty, which production refuses while the browser pages are on: set WEBAPP_BROWSER_COOKIE_KEY to at least 32 random bytes in base64 (openssl rand -base64 32), the same on every replica")
		}
		if c.Browser.ClientSecret == demoBrowserSecret {
			problems = append(problems, "browser.client_secret is the public demo secret, which production refuses: set WEBAPP_BROWSER_CLIENT_SECRET (or empty it to switch the browser pages off)")
		}
		switch c.AuthServer.ClientSecret {
		case "":
			problems = append(problems, "authserver.client_secret is empty: set WEBAPP_AUTHSERVER_CLIENT_SECRET")
		case demoClientSecret:
			problems = append(problems, "authserver.client_secret is the public demo secret, which production refuses: set WEBAPP_AUTHSERVER_CLIENT_SECRET")
		}
		if c.DemoUser.Username != "" {
			// Every request without credentials would act as this user.
			problems = append(problems, "demo_user is set, which production refuses: clear demo_user.username")
		}
	}
	if len(problems) > 0 {
		return errors.New("config: invalid: " + strings.Join(problems, "; "))
	}
	return nil
}

// cookieKey decodes browser.cookie_key: base64, standard or URL-safe,
// padded or not, of at least httpapi.MinCookieKeyLen bytes.
func (c Config) cookieKey() ([]byte, error) {
	text := strings.TrimSpace(c.Browser.CookieKey)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		key, err := enc.DecodeString(text)
		if err != nil {
			continue
		}
		if len(key) < httpapi.MinCookieKeyLen {
			return nil, fmt.Errorf("browser.cookie_key decodes to %d bytes; it needs at least %d", len(key), httpapi.MinCookieKeyLen)
		}
		return key, nil
	}
	// Never the value: it is a secret.
	return nil, errors.New("browser.cookie_key is not base64")
}

const configSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    ` + service.BaseSchema + `,
    "authserver": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "token_url": {"type": "string", "pattern": "^https?://[^?#]+$"},
        "client_id": {"type": "string", "minLength": 1},
        "client_secret": {"type": "string"},
        "timeout": ` + config.DurationSchema + `,
        "tls": ` + httpclient.TLSSchema + `
      }
    },
    "resourceserver": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "base_url": {"type": "string", "pattern": "^https?://[^?#]+$"},
        "timeout": ` + config.DurationSchema + `,
        "tls": ` + httpclient.TLSSchema + `
      }
    },
    "demo_user": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "username": {"type": "string"},
        "password": {"type": "string"}
      },
      "if": {"properties": {"username": {"minLength": 1}}},
      "then": {"properties": {"password": {"minLength": 1}}}
    },
    "browser": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "client_id": {"type": "string", "minLength": 1},
        "client_secret": {"type": "string"},
        "authorize_url": {"type": "string", "pattern": "^https?://[^?#]+$"},
        "revoke_url": {"type": "string", "pattern": "^https?://[^?#]+$"},
        "jwks_url": {"type": "string", "pattern": "^https?://[^?#]+$"},
        "userinfo_url": {"type": "string", "pattern": "^https?://[^?#]+$"},
        "end_session_url": {"type": "string", "pattern": "^$|^https?://[^?#]+$"},
        "post_logout_redirect_url": {"type": "string", "pattern": "^https?://[^#]+$"},
        "issuer": {"type": "string", "pattern": "^https?://[^?#]+$"},
        "redirect_url": {"type": "string", "pattern": "^https?://[^?#]+$"},
        "scopes": {
          "type": "array",
          "minItems": 1,
          "uniqueItems": true,
          "items": {"type": "string", "pattern": "^[\\x21\\x23-\\x5B\\x5D-\\x7E]+$"}
        },
        "session_ttl": ` + config.DurationSchema + `,
        "cookie_key": {"type": "string"},
        "max_sessions": {"type": "integer", "minimum": 1},
        "sessions_per_user": {"type": "integer", "minimum": 1}
      }
    },
    "redis": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "url": {"type": "string", "pattern": "^$|^(redis|rediss|unix)://"},
        "key_prefix": {"type": "string", "minLength": 1},
        "timeout": ` + config.DurationSchema + `,
        "lock_lease": ` + config.DurationSchema + `
      }
    }
  }
}`
