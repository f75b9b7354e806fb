package main

import (
	"github.com/oauth2ref/authserver"
	"github.com/oauth2ref/authserver/storage"
	"github.com/oauth2ref/pkg/config"
	"github.com/oauth2ref/pkg/httpserver"
	"github.com/oauth2ref/pkg/service"
	"github.com/oauth2ref/pkg/zaplog"
)

// Config is the authserver's whole configuration: built-in defaults, then
// configs/authserver.<env>.json, then AUTHSERVER_* environment variables
// (AUTHSERVER_HTTP_ADDR sets http.addr, and so on).
type Config struct {
	// Base holds http, metrics, log and runtime, as in every service.
	service.Base
	// Issuer is the "iss" of every token and the base of every URL in the
	// metadata document.
	Issuer string `json:"issuer"`
	// DataDir holds the signing key file and the audit spool. Empty keeps
	// keys in memory only, so a restart invalidates every token issued
	// before it, and leaves audit events that PostgreSQL cannot take only
	// the JSON log.
	DataDir string `json:"data_dir"`
	// Fixtures are loaded at start; relative paths are relative to the
	// config directory.
	Fixtures []string `json:"fixtures"`
	Grants   []string `json:"grants"`
	Signing  struct {
		Algorithm       string          `json:"algorithm"`
		RefreshInterval config.Duration `json:"refresh_interval"`
	} `json:"signing"`
	Tokens struct {
		AccessTTL    config.Duration `json:"access_ttl"`
		MaxAccessTTL config.Duration `json:"max_access_ttl"`
		RefreshTTL   config.Duration `json:"refresh_ttl"`
		Audience     []string        `json:"audience"`
	} `json:"tokens"`
	Passwords struct {
		MemoryKiB   uint32 `json:"memory_kib"`
		Time        uint32 `json:"time"`
		Threads     uint8  `json:"threads"`
		Concurrency int    `json:"concurrency"`
		// MaxWaiting hashes may wait for a slot (0: 4 per slot), each at
		// most MaxWait; past either a request gets a fast 503.
		MaxWaiting int             `json:"max_waiting"`
		MaxWait    config.Duration `json:"max_wait"`
	} `json:"passwords"`
	// LoginLimits throttle password and client secret guessing (see
	// authserver.LoginLimits).
	LoginLimits struct {
		PerAccountSource int             `json:"per_account_source"`
		PerAccount       int             `json:"per_account"`
		PerSource        int             `json:"per_source"`
		BaseDelay        config.Duration `json:"base_delay"`
		MaxDelay         config.Duration `json:"max_delay"`
		Window           config.Duration `json:"window"`
	} `json:"login_limits"`
	// RateLimits are token buckets per source address and per client (see
	// the README, "Rate limits").
	RateLimits struct {
		Enabled     bool    `json:"enabled"`
		SourceRPS   float64 `json:"source_rps"`
		SourceBurst int     `json:"source_burst"`
		ClientRPS   float64 `json:"client_rps"`
		ClientBurst int     `json:"client_burst"`
	} `json:"rate_limits"`
	// Storage places each data group on a backend (see the README).
	Storage struct {
		Default        string            `json:"default"`
		Groups         map[string]string `json:"groups"`
		ConnectTimeout config.Duration   `json:"connect_timeout"`
		ClientCacheTTL config.Duration   `json:"client_cache_ttl"`
	} `json:"storage"`
	Postgres struct {
		DSN          string          `json:"dsn"`
		MaxConns     int32           `json:"max_conns"`
		MinConns     int32           `json:"min_conns"`
		QueryTimeout config.Duration `json:"query_timeout"`
		Migrate      bool            `json:"migrate"`
	} `json:"postgres"`
	Redis struct {
		URL       string          `json:"url"`
		KeyPrefix string          `json:"key_prefix"`
		Timeout   config.Duration `json:"timeout"`
	} `json:"redis"`
	// Browser is the authorization endpoint and the pages.
	Browser struct {
		CodeTTL    config.Duration `json:"code_ttl"`
		SessionTTL config.Duration `json:"session_ttl"`
		// MaxSessionTTL caps how long after it began a session may be
		// extended to last (PATCH /api/sessions/{id}).
		MaxSessionTTL config.Duration `json:"max_session_ttl"`
		// SessionsPerUser caps a user's sessions: a new one ends the
		// oldest beyond it.
		SessionsPerUser   int `json:"sessions_per_user"`
		MinPasswordLength int `json:"min_password_length"`
		MaxPasswordLength int `json:"max_password_length"`
		// CookieKey signs the login page's known-device cookies: base64 of
		// at least 32 random bytes, the same on every replica. Empty: a
		// random key per process.
		CookieKey string `json:"cookie_key"`
	} `json:"browser"`
	// Registration is dynamic client registration (RFC 7591, 7592) and
	// the developer pages (see authserver.Registration).
	Registration struct {
		// Mode is off, token (an initial access token with the register
		// scope) or open.
		Mode             string `json:"mode"`
		PerSourcePerHour int    `json:"per_source_per_hour"`
		MaxClients       int    `json:"max_clients"`
		ClientsPerUser   int    `json:"clients_per_user"`
		DeveloperPages   bool   `json:"developer_pages"`
	} `json:"registration"`
}

func defaultConfig() Config {
	var c Config
	c.HTTP = httpserver.DefaultConfig(":5001")
	c.Log = zaplog.DefaultConfig()
	// The memory target is 100 MB of RSS. The limit covers the runtime's
	// own memory; RSS also holds the binary and what the collector has not
	// returned yet: with 64 MiB, 100,000 refresh tokens peak at 81 MiB
	// (./scripts/bench.sh --memory), with 80 MiB at 100, without at 135.
	c.Runtime.MemoryLimit = "64MiB"
	// The library's defaults, written once (authserver.Defaults and
	// storage.Defaults); only what is the binary's own is set here.
	d := authserver.Defaults()
	c.Issuer = d.Issuer
	c.DataDir = "data"
	c.Fixtures = []string{}
	for _, g := range d.Grants {
		c.Grants = append(c.Grants, string(g))
	}
	c.Signing.Algorithm = d.SigningAlgorithm
	c.Signing.RefreshInterval = config.Duration(d.KeyRefresh)
	c.Tokens.AccessTTL = config.Duration(d.AccessTTL)
	c.Tokens.MaxAccessTTL = config.Duration(d.MaxAccessTTL)
	c.Tokens.RefreshTTL = config.Duration(d.RefreshTTL)
	c.Tokens.Audience = d.Audience
	c.Passwords.MemoryKiB, c.Passwords.Time, c.Passwords.Threads = d.Argon2.MemoryKiB, d.Argon2.Time, d.Argon2.Threads
	c.Passwords.Concurrency = d.HashConcurrency
	c.Passwords.MaxWaiting = d.HashQueue
	c.Passwords.MaxWait = config.Duration(d.HashWait)
	l := d.LoginLimits
	c.LoginLimits.PerAccountSource, c.LoginLimits.PerAccount, c.LoginLimits.PerSource = l.PerAccountSource, l.PerAccount, l.PerSource
	c.LoginLimits.BaseDelay, c.LoginLimits.MaxDelay = config.Duration(l.BaseDelay), config.Duration(l.MaxDelay)
	c.LoginLimits.Window = config.Duration(l.Window)
	rl := d.RateLimits
	c.RateLimits.Enabled = !rl.Disabled
	c.RateLimits.SourceRPS, c.RateLimits.SourceBurst = rl.Source.PerSecond, rl.Source.Burst
	c.RateLimits.ClientRPS, c.RateLimits.ClientBurst = rl.Client.PerSecond, rl.Client.Burst
	c.Browser.CodeTTL = config.Duration(d.CodeTTL)
	c.Browser.SessionTTL = config.Duration(d.SessionTTL)
	c.Browser.MaxSessionTTL = config.Duration(d.MaxSessionTTL)
	c.Browser.SessionsPerUser = d.SessionsPerUser
	c.Browser.MinPasswordLength, c.Browser.MaxPasswordLength = d.MinPassword, d.MaxPassword
	reg := d.Registration
	c.Registration.Mode = string(reg.Mode)
	c.Registration.PerSourcePerHour, c.Registration.MaxClients = reg.PerSourcePerHour, reg.MaxClients
	c.Registration.ClientsPerUser, c.Registration.DeveloperPages = reg.ClientsPerUser, reg.DeveloperPages
	sd := storage.Defaults()
	c.Storage.Default = string(sd.Default)
	c.Storage.Groups = map[string]string{}
	c.Storage.ConnectTimeout = config.Duration(sd.ConnectTimeout)
	c.Storage.ClientCacheTTL = config.Duration(sd.ClientCacheTTL)
	c.Postgres.MaxConns, c.Postgres.MinConns = sd.Postgres.MaxConns, sd.Postgres.MinConns
	c.Postgres.QueryTimeout = config.Duration(sd.Postgres.QueryTimeout)
	c.Postgres.Migrate = sd.Postgres.Migrate
	c.Redis.KeyPrefix = sd.Redis.KeyPrefix
	c.Redis.Timeout = config.Duration(sd.Redis.Timeout)
	return c
}

const configSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    ` + service.BaseSchema + `,
    "issuer": {"type": "string", "pattern": "^https?://[^?#]+$"},
    "data_dir": {"type": "string"},
    "fixtures": {"type": "array", "items": {"type": "string", "minLength": 1}},
    "grants": {"type": "array", "uniqueItems": true, "items": {"enum": ["authorization_code", "implicit", "password", "client_credentials", "refresh_token"]}},
    "signing": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "algorithm": {"enum": ["ES256", "RS256", "EdDSA"]},
        "refresh_interval": ` + config.DurationSchema + `
      }
    },
    "tokens": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "access_ttl": ` + config.DurationSchema + `,
        "max_access_ttl": ` + config.DurationSchema + `,
        "refresh_ttl": ` + config.DurationSchema + `,
        "audience": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}}
      }
    },
    "passwords": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "memory_kib": {"type": "integer", "minimum": 8, "maximum": 1048576},
        "time": {"type": "integer", "minimum": 1, "maximum": 100},
        "threads": {"type": "integer", "minimum": 1, "maximum": 255},
        "concurrency": {"type": "integer", "minimum": 1, "maximum": 1024},
        "max_waiting": {"type": "integer", "minimum": 0, "maximum": 100000},
        "max_wait": ` + config.DurationSchema + `
      }
    },
    "login_limits": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "per_account_source": {"type": "integer", "minimum": 1, "maximum": 1000000},
        "per_account": {"type": "integer", "minimum": 1, "maximum": 1000000},
        "per_source": {"type": "integer", "minimum": 1, "maximum": 1000000},
        "base_delay": ` + config.DurationSchema + `,
        "max_delay": ` + config.DurationSchema + `,
        "window": ` + config.DurationSchema + `
      }
    },
    "rate_limits": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "enabled": {"type": "boolean"},
        "source_rps": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000000000},
        "source_burst": {"type": "integer", "minimum": 1, "maximum": 1000000000},
        "client_rps": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000000000},
        "client_burst": {"type": "integer", "minimum": 1, "maximum": 1000000000}
      }
    },
    "storage": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "default": {"enum": ["memory", "postgres"]},
        "groups": {
          "type": "object",
          "propertyNames": {"enum": ["clients", "users", "refresh_tokens", "revocations", "signing_keys", "sessions", "codes", "consents", "rate_limits", "audit"]},
          "additionalProperties": {"enum": ["memory", "postgres", "redis"]}
        },
        "connect_timeout": ` + config.DurationSchema + `,
        "client_cache_ttl": ` + config.DurationSchema + `
      }
    },
    "postgres": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "dsn": {"type": "string"},
        "max_conns": {"type": "integer", "minimum": 1, "maximum": 1000},
        "min_conns": {"type": "integer", "minimum": 0, "maximum": 1000},
        "query_timeout": ` + config.DurationSchema + `,
        "migrate": {"type": "boolean"}
      }
    },
    "redis": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "url": {"type": "string"},
        "key_prefix": {"type": "string"},
        "timeout": ` + config.DurationSchema + `
      }
    },
    "browser": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "code_ttl": ` + config.DurationSchema + `,
        "session_ttl": ` + config.DurationSchema + `,
        "max_session_ttl": ` + config.DurationSchema + `,
        "sessions_per_user": {"type": "integer", "minimum": 1, "maximum": 100000},
        "min_password_length": {"type": "integer", "minimum": 8, "maximum": 1024},
        "max_password_length": {"type": "integer", "minimum": 8, "maximum": 4096},
        "cookie_key": {"type": "string", "pattern": "^$|^[A-Za-z0-9+/_-]{43,}={0,2}$"}
      }
    },
    "registration": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "mode": {"enum": ["off", "token", "open"]},
        "per_source_per_hour": {"type": "integer", "minimum": 1, "maximum": 1000000},
        "max_clients": {"type": "integer", "minimum": 1, "maximum": 100000000},
        "clients_per_user": {"type": "integer", "minimum": 1, "maximum": 100000},
        "developer_pages": {"type": "boolean"}
      }
    }
  }
}`
