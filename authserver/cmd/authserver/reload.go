package main

import (
	"context"
	"os"

	"go.uber.org/zap"

	"github.com/oauth2ref/authserver"
	"github.com/oauth2ref/pkg/reload"
	"github.com/oauth2ref/pkg/zaplog"
)

// liveConfig is how a running server reloads: its signals (SIGHUP), the
// process's environment, and load, which reads the configuration again
// the same way as at start.
type liveConfig struct {
	getenv  func(string) string
	signals <-chan os.Signal
	load    func() (Config, string, error)
}

// run reloads on each signal until ctx ends or the returned function is
// called, which waits for a reload in progress. A reload applies the log
// levels, the memory limit and the fixture files, all or nothing, and
// names every other changed setting as waiting for a restart.
func (l liveConfig) run(ctx context.Context, cfg Config, srv *authserver.Server, levels zaplog.Levels, log *zap.Logger) func() {
	running := cfg
	step := func(context.Context) (reload.Result, error) {
		next, file, err := l.load()
		if err != nil {
			return reload.Result{}, err
		}
		next.HTTP.TLS.Certificate = running.HTTP.TLS.Certificate // -dev-tls's, made at start
		return reload.Result{
			Log: next.Log, Runtime: next.Runtime, Old: running, New: next, Live: []string{"fixtures"},
			Apply: func(ctx context.Context) ([]zap.Field, error) {
				fields := []zap.Field{zap.String("config_file", file), zap.Strings("fixture_files", next.Fixtures)}
				if len(next.Fixtures) == 0 {
					return fields, nil
				}
				sum, err := srv.ReloadFixtures(ctx, next.Fixtures...)
				if err != nil {
					return nil, err
				}
				return append(fields, zap.Int("scopes_written", sum.ScopesWritten),
					zap.Strings("clients_added", sum.ClientsAdded), zap.Strings("clients_changed", sum.ClientsChanged),
					zap.Int("clients_unchanged", sum.ClientsUnchanged),
					zap.Int("users_written", sum.UsersWritten), zap.Int("users_unchanged", sum.UsersUnchanged)), nil
			},
			Commit: func() { running.Log, running.Runtime, running.Fixtures = next.Log, next.Runtime, next.Fixtures },
		}, nil
	}
	return reload.Live{Levels: levels, Getenv: l.getenv}.Go(ctx, l.signals, log, step)
}
