package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"time"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"

	"github.com/oauth2ref/pkg/config"
	"github.com/oauth2ref/pkg/httpclient"
	"github.com/oauth2ref/pkg/introspection"
	"github.com/oauth2ref/pkg/service"
	"github.com/oauth2ref/resourceserver/internal/adapters/httpapi"
	"github.com/oauth2ref/resourceserver/internal/adapters/introspector"
	"github.com/oauth2ref/resourceserver/internal/app"
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
	Service: "resourceserver", EnvPrefix: "RESOURCESERVER", Schema: configSchema, Defaults: defaultConfig, Check: Config.check,
}.Load

// serve wires the introspection client and the time endpoints, and serves
// them with p until ctx ends.
func serve(ctx context.Context, p *service.Process, cfg Config, file string) error {
	p.Starting(file, zap.String("introspection_endpoint", cfg.Introspection.Endpoint), zap.String("audience", cfg.Audience))
	if p.Env() == "production" && !secureEndpoint(cfg.Introspection.Endpoint) {
		p.Log.Warn("the introspection endpoint is plain HTTP to another host: our client secret and every token cross the network in clear")
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
		Log:         p.Log,
		Tokens:      app.NewAuthenticator(introspector.New(ic), cfg.Audience),
		CurrentTime: app.NewCurrentTime(time.Now),
		EpochTime:   app.NewEpochTime(time.Now),
	})
	// No readiness checks: the only dependency is the authorization
	// server, and each request reports it as a 503 of its own.
	return p.Serve(ctx, service.Site{Mount: func(r chi.Router) { r.Mount("/", api) }})
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
