// Package httpserver holds what every service needs around its handler: the
// listener and graceful shutdown, the middleware each request passes through,
// health and readiness endpoints, and Prometheus metrics.
package httpserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/oauth2ref/pkg/config"
)

// Config is the part of every service's configuration that shapes its HTTP
// server. The timeouts keep a slow or stuck client from holding a connection
// forever; MaxBodyBytes caps what a handler will read.
type Config struct {
	Addr              string          `json:"addr"`
	ReadHeaderTimeout config.Duration `json:"read_header_timeout"`
	ReadTimeout       config.Duration `json:"read_timeout"`
	WriteTimeout      config.Duration `json:"write_timeout"`
	IdleTimeout       config.Duration `json:"idle_timeout"`
	ShutdownTimeout   config.Duration `json:"shutdown_timeout"`
	MaxBodyBytes      int64           `json:"max_body_bytes"`
	// TrustedProxies are the networks (CIDRs) whose X-Forwarded-For is
	// believed when telling where a request came from; none by default.
	// The default is an empty list, not nil, so that the config loader
	// knows the field and <SERVICE>_HTTP_TRUSTED_PROXIES can set it.
	// From the environment: comma-separated (..._HTTP_TRUSTED_PROXIES).
	TrustedProxies []string `json:"trusted_proxies"`
	// TLS, when set, makes the server speak HTTPS (and HTTP/2).
	TLS TLSConfig `json:"tls"`
}

// DefaultConfig returns timeouts that suit an API behind no proxy.
func DefaultConfig(addr string) Config {
	return Config{
		Addr:              addr,
		ReadHeaderTimeout: config.Duration(5 * time.Second),
		ReadTimeout:       config.Duration(10 * time.Second),
		WriteTimeout:      config.Duration(30 * time.Second),
		IdleTimeout:       config.Duration(120 * time.Second),
		ShutdownTimeout:   config.Duration(15 * time.Second),
		MaxBodyBytes:      64 << 10,
		TrustedProxies:    []string{},
	}
}

// ConfigSchema is the JSON Schema of Config, for services to splice into
// their own config schema under their "http" key.
const ConfigSchema = `{
  "type": "object",
  "additionalProperties": false,
  "required": ["addr"],
  "properties": {
    "addr": {"type": "string", "minLength": 1},
    "read_header_timeout": ` + config.DurationSchema + `,
    "read_timeout": ` + config.DurationSchema + `,
    "write_timeout": ` + config.DurationSchema + `,
    "idle_timeout": ` + config.DurationSchema + `,
    "shutdown_timeout": ` + config.DurationSchema + `,
    "max_body_bytes": {"type": "integer", "minimum": 1024, "maximum": 10485760},
    "trusted_proxies": {"type": "array", "maxItems": 64, "items": {"type": "string", "minLength": 1, "maxLength": 64}},
    "tls": ` + TLSSchema + `
  }
}`

// Serve serves h on ln until ctx ends, then shuts down gracefully: it
// stops accepting, marks health not ready, and waits up to
// cfg.ShutdownTimeout for in-flight requests to finish. ln is the socket a
// service manager passed (see Inherited) or one a test opened; with ln nil
// Serve listens on cfg.Addr itself. Serve closes the listener when it
// returns. With cfg.TLS set it serves HTTPS, and HTTP/2 by ALPN.
func Serve(ctx context.Context, cfg Config, h http.Handler, log *zap.Logger, health *Health, ln net.Listener) error {
	return serve(ctx, cfg, h, log, health, ln, "listening")
}

// serve is Serve, saying listened with the message msg: a service's main
// listener says "listening", which scripts and tests wait for, and others
// say something else.
func serve(ctx context.Context, cfg Config, h http.Handler, log *zap.Logger, health *Health, ln net.Listener, msg string) error {
	tlsConfig, err := cfg.TLS.serverConfig()
	if err != nil {
		if ln != nil {
			_ = ln.Close()
		}
		return err
	}
	if ln == nil {
		if ln, err = (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.Addr); err != nil {
			return fmt.Errorf("listen %s: %w", cfg.Addr, err)
		}
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout.D(),
		ReadTimeout:       cfg.ReadTimeout.D(),
		WriteTimeout:      cfg.WriteTimeout.D(),
		IdleTimeout:       cfg.IdleTimeout.D(),
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
		TLSConfig:         tlsConfig,
	}
	if tlsConfig != nil {
		log.Info("serving HTTPS", cfg.TLS.logFields(tlsConfig)...)
	}
	log.Info(msg, zap.String("addr", ln.Addr().String()), zap.Bool("tls", tlsConfig != nil))
	_ = log.Sync() // scripts and tests wait for this line

	errc := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			errc <- srv.ServeTLS(ln, "", "") // the certificate is in TLSConfig
			return
		}
		errc <- srv.Serve(ln)
	}()

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	log.Info("shutting down", zap.Duration("timeout", cfg.ShutdownTimeout.D()))
	if health != nil {
		health.draining.Store(true)
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout.D())
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	_ = log.Sync()
	return nil
}

// ServeAll runs every server until ctx ends or one of them returns, then
// stops the others and waits for them. It returns the first error. A nil
// server is skipped.
func ServeAll(ctx context.Context, servers ...func(ctx context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(servers))
	n := 0
	for _, s := range servers {
		if s == nil {
			continue
		}
		n++
		go func() { errc <- s(ctx) }()
	}
	var first error
	for i := 0; i < n; i++ {
		err := <-errc
		cancel()
		if first == nil {
			first = err
		}
	}
	return first
}
