package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"time"

	"go.uber.org/zap"

	"github.com/oauth2ref/pkg/config"
	"github.com/oauth2ref/pkg/httpclient"
	"github.com/oauth2ref/pkg/httpserver"
	"github.com/oauth2ref/pkg/introspection"
	"github.com/oauth2ref/resourceserver/internal/adapters/httpapi"
	"github.com/oauth2ref/resourceserver/internal/adapters/introspector"
	"github.com/oauth2ref/resourceserver/internal/app"
)

// run is the whole program; main only gives it the process's context,
// arguments, environment and streams, so tests can run it in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, opts ...option) error {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	cfg := defaultConfig()
	cmd, file, err := config.LoadService("resourceserver", "RESOURCESERVER", "usage: resourceserver [flags]\n\nflags:\n", configSchema, args, getenv, stderr, &cfg)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(cmd.Args) > 0 {
		return fmt.Errorf("unexpected arguments %q", cmd.Args)
	}
	if err := cfg.check(cmd.Env); err != nil {
		return err
	}
	if o.listener == nil {
		if o.listener, err = httpserver.Inherited(getenv); err != nil {
			return err
		}
	}
	return serve(ctx, cfg, file, cmd.Env, stdout, o.listener)
}

// option adjusts run for a test.
type option func(*options)

type options struct {
	// listener is served on instead of a socket from the service manager
	// or http.addr: a test opens it on port 0, so it knows the address
	// before the server starts and no other process can take it.
	listener net.Listener
}

func withListener(ln net.Listener) option { return func(o *options) { o.listener = ln } }

// serve runs the server until ctx ends, on ln if not nil, else on
// http.addr.
func serve(ctx context.Context, cfg Config, file, env string, stdout io.Writer, ln net.Listener) error {
	log, levels, err := cfg.Log.Open(stdout)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	log.Info("starting", zap.String("env", env), zap.String("config_file", file),
		zap.String("introspection_endpoint", cfg.Introspection.Endpoint), zap.String("audience", cfg.Audience))
	if env == "production" && !secureEndpoint(cfg.Introspection.Endpoint) {
		log.Warn("the introspection endpoint is plain HTTP to another host: our client secret and every token cross the network in clear")
	}

	// One client for the life of the process: every request introspects,
	// so reusing connections is most of the latency.
	hc := httpclient.New(cfg.Introspection.Timeout.D())
	defer hc.CloseIdleConnections()
	ic := introspection.NewClient(cfg.Introspection.Endpoint, cfg.Introspection.ClientID, cfg.Introspection.ClientSecret, hc)

	api := httpapi.NewHandler(httpapi.Deps{
		Log:         log,
		Tokens:      app.NewAuthenticator(introspector.New(ic), cfg.Audience),
		CurrentTime: app.NewCurrentTime(time.Now),
		EpochTime:   app.NewEpochTime(time.Now),
	})

	// No readiness checks: the only dependency is the authorization
	// server, and each request reports it as a 503 of its own.
	health := httpserver.NewHealth()
	r := httpserver.NewRouter(httpserver.Stack{
		Log: log, AccessLevel: levels.Access, MaxBodyBytes: cfg.HTTP.MaxBodyBytes,
		Health: health, Metrics: httpserver.NewMetrics(),
	})
	r.Mount("/", api)
	return httpserver.Serve(ctx, cfg.HTTP, r, log, health, ln)
}

// secureEndpoint reports whether calls to endpoint are safe from the
// network: over TLS, or to this host.
func secureEndpoint(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	if u.Scheme == "https" {
		return true
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
