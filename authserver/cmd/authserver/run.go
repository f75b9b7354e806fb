package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/go-chi/chi/v5"
	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/oauth2ref/authserver"
	"github.com/oauth2ref/authserver/internal/adapters/hashing"
	"github.com/oauth2ref/authserver/storage"
	"github.com/oauth2ref/pkg/config"
	"github.com/oauth2ref/pkg/httpserver"
	"github.com/oauth2ref/pkg/service"
	"github.com/oauth2ref/pkg/zaplog"
)

const usage = `usage: authserver [flags] [command]

commands:
  serve                    run the server (the default)
  migrate                  apply pending PostgreSQL schema migrations
  loaddata FILE...         load scopes, clients and users from JSON/YAML fixture files
  keys rotate              make a new signing key the signer
  clients list|show|add|rm manage clients on the configured storage (clients -h)
  users list|add|set-password|rm
                           manage users; passwords are read from stdin
  hash-secret              read a secret on stdin, print its argon2id hash
  hash-secret -fast        read a machine-generated secret (32+ characters)
                           on stdin, print its fast hmac-sha256 hash
  hash-secret -generate    make a random secret, print it and its fast hash

flags:
`

// run is the whole program; main only gives it the process's context,
// arguments, environment and streams, so tests can run it in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer, opts ...service.Option) error {
	cfg, c, file, err := loadConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	name, rest := "serve", []string(nil)
	if len(c.Args) > 0 {
		name, rest = c.Args[0], c.Args[1:]
	}
	switch {
	case name == "serve" && len(rest) == 0:
		p, err := service.Start(&cfg.Base, c, getenv, stdout, opts...)
		if err != nil {
			return err
		}
		defer p.Close()
		return serve(ctx, p, cfg, file, stdout, func() (Config, string, error) {
			next, _, file, err := loadConfig(args, getenv, io.Discard)
			return next, file, err
		})
	case name == "migrate" && len(rest) == 0:
		return migrate(ctx, cfg, stdout)
	case name == "loaddata":
		return loadData(ctx, cfg, rest, stdout)
	case name == "keys" && len(rest) == 1 && rest[0] == "rotate":
		return rotateKeys(ctx, cfg, stdout)
	case name == "hash-secret":
		return hashSecretCommand(ctx, cfg, rest, stdin, stdout)
	case name == "clients" || name == "users":
		return manage(ctx, cfg, name, rest, stdin, stdout, stderr)
	}
	_, _ = fmt.Fprint(stderr, usage) // best effort: the error below is what counts
	return fmt.Errorf("unknown command %q", strings.Join(c.Args, " "))
}

// migrate applies the pending PostgreSQL migrations.
func migrate(ctx context.Context, cfg Config, stdout io.Writer) error {
	applied, err := storage.Migrate(ctx, storageConfig(cfg))
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		_, err = fmt.Fprintln(stdout, "schema is up to date")
		return err
	}
	for _, m := range applied {
		if _, err := fmt.Fprintln(stdout, "applied", m); err != nil {
			return err
		}
	}
	return nil
}

// loadData loads fixture files into the configured storage.
func loadData(ctx context.Context, cfg Config, files []string, stdout io.Writer) error {
	if len(files) == 0 {
		return errors.New("loaddata: name at least one fixture file")
	}
	set, err := storage.Open(ctx, storageConfig(cfg), storageEnv(cfg, zap.NewNop()))
	if err != nil {
		return err
	}
	defer set.Close()
	sum, err := authserver.LoadData(ctx, files, append(keyOptions(cfg), authserver.WithStores(set.Stores()))...)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "loaded %d scopes; clients: %d written, %d unchanged; users: %d written, %d unchanged\n",
		sum.Scopes, sum.ClientsWritten, sum.ClientsUnchanged, sum.UsersWritten, sum.UsersUnchanged)
	return err
}

// rotateKeys makes a new signing key the signer in the configured key store.
func rotateKeys(ctx context.Context, cfg Config, stdout io.Writer) error {
	set, err := storage.Open(ctx, storageConfig(cfg), storageEnv(cfg, zap.NewNop()))
	if err != nil {
		return err
	}
	defer set.Close()
	kid, err := authserver.RotateKeys(ctx, append(keyOptions(cfg), authserver.WithStores(set.Stores()))...)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "new signing key %s; running servers switch to it within %s\n", kid, cfg.Signing.RefreshInterval.D())
	return err
}

// hashSecretCommand is `hash-secret [-fast | -generate]`.
func hashSecretCommand(ctx context.Context, cfg Config, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("hash-secret", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fast := fs.Bool("fast", false, "hash a machine-generated secret with hmac-sha256")
	generate := fs.Bool("generate", false, "make a random secret and print it with its fast hash")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 || (*fast && *generate) {
		return errors.New("usage: hash-secret [-fast | -generate]")
	}
	if *generate {
		secret, hash := hashing.NewGeneratedSecret()
		_, err := fmt.Fprintf(stdout, "secret: %s\nsecret_hash: %s\n", secret, hash)
		return err
	}
	return hashSecret(ctx, cfg, stdin, stdout, *fast)
}

// loadConfig reads the configuration from the command line, the file of
// the environment and the environment variables, at start and again on
// every reload. It returns the command and the file read.
func loadConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, config.Command, string, error) {
	cfg, c, file, err := config.Loader[Config]{
		Service: "authserver", EnvPrefix: "AUTHSERVER", Usage: usage, Schema: configSchema, Defaults: defaultConfig,
	}.Load(args, getenv, stderr)
	if err != nil {
		return cfg, c, file, err
	}
	if c.Env == "production" && !strings.HasPrefix(cfg.Issuer, "https://") {
		// RFC 8414 §2 and RFC 9700 §2.6: the issuer is an https URL. Only
		// development and test may run on plain http.
		return cfg, c, file, errors.New("config: issuer must be an https URL in production (set AUTHSERVER_ISSUER)")
	}
	// Fixture paths in a config file are relative to its directory.
	for i, p := range cfg.Fixtures {
		if !filepath.IsAbs(p) {
			cfg.Fixtures[i] = filepath.Join(c.ConfigDir, p)
		}
	}
	return cfg, c, file, nil
}

// serve opens the storage and builds the server on it, and serves it with
// p until ctx ends; each reload reads the configuration with
// reloadConfig, and the fixture files again.
func serve(ctx context.Context, p *service.Process, cfg Config, file string, stdout io.Writer, reloadConfig func() (Config, string, error)) error {
	log := p.Log
	// The audit trail is written at info whatever log.level says.
	audit, err := zaplog.NewBuffered(stdout, "info")
	if err != nil {
		return err
	}
	defer func() { _ = audit.Sync() }()
	p.Starting(file, zap.String("issuer", cfg.Issuer),
		zap.String("storage", cfg.Storage.Default), zap.Any("storage_groups", cfg.Storage.Groups))
	if cfg.HTTP.TLS.Enabled() && !strings.HasPrefix(cfg.Issuer, "https://") {
		// The reverse, an https issuer on plain HTTP, is TLS ended by a
		// proxy in front.
		log.Warn("the server speaks HTTPS but the issuer is http: clients are sent to the issuer's URLs", zap.String("issuer", cfg.Issuer))
	}
	goredis.SetLogger(redisLog{log.Named("redis")})

	senv := storageEnv(cfg, log)
	senv.AuditFallback = audit
	set, err := storage.Open(ctx, storageConfig(cfg), senv)
	if err != nil {
		return err
	}
	defer set.Close() // after the server's: it commits the audit trail last

	opts := append(keyOptions(cfg),
		authserver.WithLogger(log),
		authserver.WithAuditLog(audit),
		authserver.WithStores(set.Stores()),
		authserver.WithFixtures(cfg.Fixtures...),
		authserver.WithAudience(cfg.Tokens.Audience...),
		authserver.WithPasswordHashing(authserver.Argon2Params{
			MemoryKiB: cfg.Passwords.MemoryKiB, Time: cfg.Passwords.Time, Threads: cfg.Passwords.Threads,
		}, cfg.Passwords.Concurrency),
		authserver.WithPasswordQueue(cfg.Passwords.MaxWaiting, cfg.Passwords.MaxWait.D()),
		authserver.WithLoginLimits(loginLimits(cfg)),
		authserver.WithRateLimits(authserver.RateLimits{
			Disabled: !cfg.RateLimits.Enabled,
			Source:   authserver.RateLimit{PerSecond: cfg.RateLimits.SourceRPS, Burst: cfg.RateLimits.SourceBurst},
			Client:   authserver.RateLimit{PerSecond: cfg.RateLimits.ClientRPS, Burst: cfg.RateLimits.ClientBurst},
		}),
		authserver.WithTrustedProxies(cfg.HTTP.TrustedProxies...),
		authserver.WithMaxBodyBytes(cfg.HTTP.MaxBodyBytes),
		authserver.WithGrants(grants(cfg.Grants)...),
		authserver.WithCodeLifetime(cfg.Browser.CodeTTL.D()),
		authserver.WithSessionLifetime(cfg.Browser.SessionTTL.D()),
		authserver.WithSessionLimits(cfg.Browser.MaxSessionTTL.D(), cfg.Browser.SessionsPerUser),
		authserver.WithPasswordPolicy(cfg.Browser.MinPasswordLength, cfg.Browser.MaxPasswordLength),
		authserver.WithRegistration(authserver.Registration{
			Mode: authserver.RegistrationMode(cfg.Registration.Mode), PerSourcePerHour: cfg.Registration.PerSourcePerHour,
			MaxClients: cfg.Registration.MaxClients, ClientsPerUser: cfg.Registration.ClientsPerUser,
			DeveloperPages: cfg.Registration.DeveloperPages,
		}),
	)
	key, err := cookieKey(cfg.Browser.CookieKey)
	if err != nil {
		return err
	}
	if key != nil {
		opts = append(opts, authserver.WithCookieKey(key))
	} else {
		log.Info("browser.cookie_key is not set: known-device cookies are signed with a key of this process, " +
			"so a restart or another replica does not recognise them")
	}
	srv, err := authserver.New(ctx, opts...)
	if err != nil {
		return err
	}
	defer func() {
		if err := srv.Close(); err != nil {
			log.Error("closing the authorization server", zap.Error(err))
		}
	}()

	p.Reload = service.ReloadStep(cfg, reloadConfig, reloadFixtures(srv), "fixtures")
	return p.Serve(ctx, service.Site{
		Health: httpserver.NewHealth(httpserver.Check{Name: "storage", Fn: srv.Ready}),
		Mount: func(r chi.Router) {
			r.Mount("/oauth", srv.Handler())
			r.Mount("/api", srv.APIHandler())
			r.Method(http.MethodGet, "/.well-known/oauth-authorization-server", srv.MetadataHandler())
			r.Method(http.MethodGet, "/.well-known/openid-configuration", srv.OpenIDConfigurationHandler())
			r.Method(http.MethodGet, "/openapi.json", srv.OpenAPIHandler())
		},
	})
}

// cookieKey decodes browser.cookie_key: standard or URL-safe base64,
// padded or not, of at least 32 bytes. Empty is nil.
func cookieKey(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.DecodeString(s); err == nil {
			if len(key) < 32 {
				break
			}
			return key, nil
		}
	}
	return nil, errors.New("config: browser.cookie_key must be base64 of at least 32 random bytes (e.g. openssl rand -base64 32)")
}

func keyOptions(cfg Config) []authserver.Option {
	opts := []authserver.Option{
		authserver.WithIssuer(cfg.Issuer),
		authserver.WithSigningAlgorithm(cfg.Signing.Algorithm),
		authserver.WithKeyRefresh(cfg.Signing.RefreshInterval.D()),
		authserver.WithTokenLifetimes(cfg.Tokens.AccessTTL.D(), cfg.Tokens.MaxAccessTTL.D(), cfg.Tokens.RefreshTTL.D()),
	}
	if cfg.DataDir != "" {
		opts = append(opts, authserver.WithKeyFile(filepath.Join(cfg.DataDir, "signing-keys.json")),
			authserver.WithSecretsDir(cfg.DataDir))
	}
	return opts
}

// storageConfig places the data groups as the configuration says.
func storageConfig(cfg Config) storage.Config {
	groups := make(map[storage.Group]storage.Backend, len(cfg.Storage.Groups))
	for g, b := range cfg.Storage.Groups {
		groups[storage.Group(g)] = storage.Backend(b)
	}
	return storage.Config{
		Default:        storage.Backend(cfg.Storage.Default),
		Groups:         groups,
		ConnectTimeout: cfg.Storage.ConnectTimeout.D(),
		ClientCacheTTL: cfg.Storage.ClientCacheTTL.D(),
		Postgres: storage.PostgresConfig{
			DSN: cfg.Postgres.DSN, MaxConns: cfg.Postgres.MaxConns, MinConns: cfg.Postgres.MinConns,
			QueryTimeout: cfg.Postgres.QueryTimeout.D(), Migrate: cfg.Postgres.Migrate,
		},
		Redis: storage.RedisConfig{URL: cfg.Redis.URL, KeyPrefix: cfg.Redis.KeyPrefix, Timeout: cfg.Redis.Timeout.D()},
	}
}

// storageEnv is what the stores need of the server: its log and login
// limits, and the data directory, where audit events that cannot reach
// PostgreSQL wait on disk.
func storageEnv(cfg Config, log *zap.Logger) storage.Env {
	return storage.Env{Log: log, LoginLimits: loginLimits(cfg), AuditSpool: cfg.DataDir}
}

func loginLimits(cfg Config) authserver.LoginLimits {
	return authserver.LoginLimits{
		PerAccountSource: cfg.LoginLimits.PerAccountSource, PerAccount: cfg.LoginLimits.PerAccount,
		PerSource: cfg.LoginLimits.PerSource, BaseDelay: cfg.LoginLimits.BaseDelay.D(),
		MaxDelay: cfg.LoginLimits.MaxDelay.D(), Window: cfg.LoginLimits.Window.D(),
	}
}

func grants(names []string) []authserver.Grant {
	out := make([]authserver.Grant, len(names))
	for i, n := range names {
		out[i] = authserver.Grant(n)
	}
	return out
}

// hashSecret prints the hash of the first line of stdin, for putting a
// secret or password into a fixture file: argon2id, or with fast the
// hmac-sha256 scheme that only a long machine-generated secret may use.
func hashSecret(ctx context.Context, cfg Config, stdin io.Reader, stdout io.Writer, fast bool) error {
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	secret := strings.TrimRight(line, "\r\n")
	if secret == "" {
		return errors.New("hash-secret: no secret on stdin")
	}
	if fast {
		// 32 random hex digits carry 128 bits; anything shorter may be
		// guessable, and then only the slow hash protects it.
		if len(secret) < 32 {
			return errors.New("hash-secret -fast: a fast hash is only safe for a generated secret of 32+ characters")
		}
		_, err := fmt.Fprintln(stdout, hashing.HashGenerated(secret))
		return err
	}
	h := hashing.NewHasher(hashing.Argon2Params{MemoryKiB: cfg.Passwords.MemoryKiB, Time: cfg.Passwords.Time, Threads: cfg.Passwords.Threads}, 1)
	hash, err := h.HashPassword(ctx, secret)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, hash)
	return err
}

// redisLog routes go-redis's own messages (dial failures, mostly) into the
// JSON log; go-redis offers only a package-level hook for them.
type redisLog struct{ log *zap.Logger }

func (l redisLog) Printf(_ context.Context, format string, v ...any) {
	l.log.Warn(fmt.Sprintf(format, v...))
}
