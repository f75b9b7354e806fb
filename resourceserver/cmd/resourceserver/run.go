package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/oauth2ref/pkg/config"
	"github.com/oauth2ref/pkg/httpclient"
	"github.com/oauth2ref/pkg/httpserver"
	"github.com/oauth2ref/pkg/introspection"
	"github.com/oauth2ref/pkg/metrics"
	"github.com/oauth2ref/pkg/reload"
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
	cfg, cmd, file, err := loadConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(cmd.Args) > 0 {
		return fmt.Errorf("unexpected arguments %q", cmd.Args)
	}
	if o.listener == nil {
		if o.listener, err = httpserver.Inherited(getenv); err != nil {
			return err
		}
	}
	if cmd.DevTLS {
		if err := cfg.HTTP.TLS.UseDevCertificate(time.Now()); err != nil {
			return err
		}
	}
	if o.reload == nil {
		signals, stop := reload.Signals()
		defer stop()
		o.reload = signals
	}
	return serve(ctx, cfg, file, cmd.Env, stdout, o, liveConfig{
		getenv: getenv, signals: o.reload,
		load: func() (Config, string, error) {
			next, _, file, err := loadConfig(args, getenv, io.Discard)
			return next, file, err
		},
	})
}

// loadConfig reads the configuration from the command line, the file of
// the environment and the environment variables, and checks it, at start
// and again on every reload.
func loadConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, config.Command, string, error) {
	cfg := defaultConfig()
	cmd, file, err := config.LoadService("resourceserver", "RESOURCESERVER", "usage: resourceserver [flags]\n\nflags:\n", configSchema, args, getenv, stderr, &cfg)
	if err == nil {
		err = cfg.check(cmd.Env)
	}
	return cfg, cmd, file, err
}

// option adjusts run for a test.
type option func(*options)

type options struct {
	// listener is served on instead of a socket from the service manager
	// or http.addr: a test opens it on port 0, so it knows the address
	// before the server starts and no other process can take it.
	listener net.Listener
	// metricsListener is served on instead of metrics.addr, when that is
	// set.
	metricsListener net.Listener
	// reload replaces the process's SIGHUPs: SIGHUP goes to the whole
	// test process, which runs several servers.
	reload <-chan os.Signal
}

func withListener(ln net.Listener) option { return func(o *options) { o.listener = ln } }

func withMetricsListener(ln net.Listener) option {
	return func(o *options) { o.metricsListener = ln }
}

func withReload(signals <-chan os.Signal) option { return func(o *options) { o.reload = signals } }

// serve runs the server until ctx ends, on o.listener if not nil, else on
// http.addr, and the metrics beside it when metrics.addr is set; it
// reloads on every signal of live.
func serve(ctx context.Context, cfg Config, file, env string, stdout io.Writer, o options, live liveConfig) error {
	log, levels, err := cfg.Log.Open(stdout)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	limit, err := cfg.Runtime.Apply(live.getenv)
	if err != nil {
		return fmt.Errorf("config: runtime.memory_limit: %w", err)
	}
	log.Info("starting", zap.String("env", env), zap.String("config_file", file),
		zap.String("introspection_endpoint", cfg.Introspection.Endpoint), zap.String("audience", cfg.Audience))
	limit.Log(log)
	if env == "production" && !secureEndpoint(cfg.Introspection.Endpoint) {
		log.Warn("the introspection endpoint is plain HTTP to another host: our client secret and every token cross the network in clear")
	}

	// One client for the life of the process: every request introspects,
	// so reusing connections is most of the latency.
	roots, err := cfg.Introspection.TLS.Roots()
	if err != nil {
		return fmt.Errorf("config: introspection.%w", err)
	}
	hc := httpclient.New(cfg.Introspection.Timeout.D(), httpclient.WithRoots(roots))
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
	requests := metrics.New()
	r := httpserver.NewRouter(httpserver.Stack{
		Log: log, AccessLevel: levels.Access, MaxBodyBytes: cfg.HTTP.MaxBodyBytes,
		Health: health, Metrics: requests, MetricsAccess: cfg.Metrics,
	})
	r.Mount("/", api)
	if env == "production" && cfg.Metrics.Public() {
		log.Warn(httpserver.PublicMetricsWarning)
	}

	stopReloads := live.run(ctx, cfg, levels, log)
	defer stopReloads()
	return httpserver.ServeAll(ctx,
		func(ctx context.Context) error { return httpserver.Serve(ctx, cfg.HTTP, r, log, health, o.listener) },
		httpserver.MetricsServer(cfg.HTTP, cfg.Metrics, requests, log, o.metricsListener))
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
