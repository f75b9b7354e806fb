// Package service is what the three services' run functions share around
// their own wiring: the configuration every service has (Base), the start
// of the process (the listening socket, -dev-tls, SIGHUP, the log and the
// memory limit: Start), and its serving (the middleware stack with health
// and Prometheus metrics, the public and the metrics listeners, reloads on
// SIGHUP: Process.Serve). Run does all of it for a service that takes no
// subcommand.
package service

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"

	"github.com/oauth2ref/pkg/config"
	"github.com/oauth2ref/pkg/httpserver"
	"github.com/oauth2ref/pkg/memlimit"
	"github.com/oauth2ref/pkg/metrics"
	"github.com/oauth2ref/pkg/reload"
	"github.com/oauth2ref/pkg/zaplog"
)

// Base is the configuration every service has, under the same keys. Each
// service's Config embeds it.
type Base struct {
	HTTP httpserver.Config `json:"http"`
	// Metrics says where /metrics is served (see httpserver.MetricsConfig).
	Metrics httpserver.MetricsConfig `json:"metrics"`
	Log     zaplog.Config            `json:"log"`
	Runtime memlimit.Config          `json:"runtime"`
}

func (b *Base) base() *Base { return b }

// BaseSchema is the JSON Schema of Base's properties, for a service's
// config schema to list among its own ("properties": {` + BaseSchema + `,
// ...}).
const BaseSchema = `"http": ` + httpserver.ConfigSchema + `,
    "metrics": ` + httpserver.MetricsConfigSchema + `,
    "log": ` + zaplog.ConfigSchema + `,
    "runtime": ` + memlimit.ConfigSchema

// Config is a pointer to a service's configuration C, which embeds Base.
type Config[C any] interface {
	*C
	base() *Base
}

// Option adjusts a run for a test.
type Option func(*hooks)

type hooks struct {
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

// WithListener serves on ln.
func WithListener(ln net.Listener) Option { return func(h *hooks) { h.listener = ln } }

// WithMetricsListener serves the metrics on ln when metrics.addr is set.
func WithMetricsListener(ln net.Listener) Option {
	return func(h *hooks) { h.metricsListener = ln }
}

// WithReload reloads on each signal of signals instead of SIGHUP.
func WithReload(signals <-chan os.Signal) Option { return func(h *hooks) { h.reload = signals } }

// Process is a service's process once Start has begun it.
type Process struct {
	Log    *zap.Logger
	Levels zaplog.Levels
	// Reload is what Serve runs on each SIGHUP. Run sets it to read the
	// configuration again (ReloadStep); nil, SIGHUP changes nothing.
	Reload reload.Step

	base   *Base
	env    string
	getenv func(string) string
	limit  memlimit.Applied
	hooks
	stopSignals func()
}

// Start begins the process of a service configured by b and cmd: it takes
// the socket the service manager handed over (unless a test gave a
// listener), makes -dev-tls's certificate (into b), takes the process's
// SIGHUPs (unless a test gave a channel), opens the log on stdout and
// applies the memory limit. Close releases what Start took.
func Start(b *Base, cmd config.Command, getenv func(string) string, stdout io.Writer, opts ...Option) (*Process, error) {
	p := &Process{base: b, env: cmd.Env, getenv: getenv, stopSignals: func() {}}
	for _, opt := range opts {
		opt(&p.hooks)
	}
	var err error
	if p.listener == nil {
		if p.listener, err = httpserver.Inherited(getenv); err != nil {
			return nil, err
		}
	}
	if cmd.DevTLS {
		if err := b.HTTP.TLS.UseDevCertificate(time.Now()); err != nil {
			return nil, err
		}
	}
	if p.Log, p.Levels, err = b.Log.Open(stdout); err != nil {
		return nil, err
	}
	if p.limit, err = b.Runtime.Apply(getenv); err != nil {
		_ = p.Log.Sync()
		return nil, fmt.Errorf("config: runtime.memory_limit: %w", err)
	}
	if p.reload == nil {
		p.reload, p.stopSignals = reload.Signals()
	}
	return p, nil
}

// Env is the environment the process runs in (-env): development, test
// or production.
func (p *Process) Env() string { return p.env }

// Close stops taking SIGHUPs and flushes the log.
func (p *Process) Close() {
	p.stopSignals()
	_ = p.Log.Sync()
}

// Starting writes the service's first log line, "starting", with the
// environment, the config file read and the service's own fields (never a
// secret), then the memory limit's.
func (p *Process) Starting(file string, fields ...zap.Field) {
	p.Log.Info("starting", append([]zap.Field{zap.String("env", p.env), zap.String("config_file", file)}, fields...)...)
	p.limit.Log(p.Log)
}

// Site is what a process serves.
type Site struct {
	// Mount puts the service's handlers on the base router.
	Mount func(r chi.Router)
	// Health answers /healthz and /readyz; nil, a Health without checks.
	Health *httpserver.Health
	// Stack is the base router's stack beyond what Serve fills in (the
	// log, the body limit, health and metrics): what else the service
	// needs, e.g. RecordClientAddr and TrustedProxies.
	Stack httpserver.Stack
}

// Serve serves s until ctx ends: on the process's listener, else on
// http.addr, with /metrics beside it when metrics.addr is set (else on the
// public router, with a warning in production), reloading on every SIGHUP.
func (p *Process) Serve(ctx context.Context, s Site) error {
	health := s.Health
	if health == nil {
		health = httpserver.NewHealth()
	}
	requests := metrics.New()
	stack := s.Stack
	stack.Log, stack.AccessLevel, stack.MaxBodyBytes = p.Log, p.Levels.Access, p.base.HTTP.MaxBodyBytes
	stack.Health, stack.Metrics, stack.MetricsAccess = health, requests, p.base.Metrics
	r := httpserver.NewRouter(stack)
	s.Mount(r)
	if p.env == "production" && p.base.Metrics.Public() {
		p.Log.Warn(httpserver.PublicMetricsWarning)
	}
	if p.Reload != nil {
		stop := reload.Live{Levels: p.Levels, Getenv: p.getenv}.Go(ctx, p.reload, p.Log, p.Reload)
		defer stop()
	}
	return httpserver.ServeAll(ctx,
		func(ctx context.Context) error {
			return httpserver.Serve(ctx, p.base.HTTP, r, p.Log, health, p.listener)
		},
		httpserver.MetricsServer(p.base.HTTP, p.base.Metrics, requests, p.Log, p.metricsListener))
}

// ReloadStep is a reload that reads the configuration again with load, as
// at start, and applies the log levels and the memory limit, then apply's
// own change if apply is not nil (live names the top-level fields apply
// takes care of). Every other field that changed since running, the
// configuration the process started with, waits for a restart, and the
// reload's log line names it.
func ReloadStep[C any, PC Config[C]](running C, load func() (C, string, error), apply func(ctx context.Context, next C) ([]zap.Field, error), live ...string) reload.Step {
	return func(context.Context) (reload.Result, error) {
		next, file, err := load()
		if err != nil {
			return reload.Result{}, err
		}
		b := PC(&next).base()
		return reload.Result{
			Log: b.Log, Runtime: b.Runtime, Old: running, New: next, Live: live,
			Apply: func(ctx context.Context) ([]zap.Field, error) {
				fields := []zap.Field{zap.String("config_file", file)}
				if apply == nil {
					return fields, nil
				}
				own, err := apply(ctx, next)
				if err != nil {
					return nil, err
				}
				return append(fields, own...), nil
			},
		}, nil
	}
}

// Program is a service without subcommands, for Run.
type Program[C any] struct {
	Args   []string
	Getenv func(string) string
	Stdout io.Writer
	Stderr io.Writer
	// Load reads and checks the configuration (command line, config file,
	// environment): at start, and again on every SIGHUP (stderr is
	// io.Discard then). It returns the command line and the file read.
	Load func(args []string, getenv func(string) string, stderr io.Writer) (C, config.Command, string, error)
	// Serve wires the service on cfg and serves it with p.Serve.
	Serve func(ctx context.Context, p *Process, cfg C, file string) error
}

// Run is the whole run of a service without subcommands: it loads the
// configuration (-h prints the usage and returns nil), refuses arguments
// left over, starts the process, and serves until ctx ends, reloading the
// configuration on SIGHUP.
func Run[C any, PC Config[C]](ctx context.Context, prog Program[C], opts ...Option) error {
	cfg, cmd, file, err := prog.Load(prog.Args, prog.Getenv, prog.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(cmd.Args) > 0 {
		return fmt.Errorf("unexpected arguments %q", cmd.Args)
	}
	p, err := Start(PC(&cfg).base(), cmd, prog.Getenv, prog.Stdout, opts...)
	if err != nil {
		return err
	}
	defer p.Close()
	p.Reload = ReloadStep[C, PC](cfg, func() (C, string, error) {
		next, _, file, err := prog.Load(prog.Args, prog.Getenv, io.Discard)
		return next, file, err
	}, nil)
	return prog.Serve(ctx, p, cfg, file)
}

// Main is a service's main: run gets a context that ends on SIGINT or
// SIGTERM; an error is printed after the service's name and exits 1.
func Main(name string, run func(ctx context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}
