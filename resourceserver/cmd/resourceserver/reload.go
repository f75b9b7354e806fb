package main

import (
	"context"
	"os"

	"go.uber.org/zap"

	"github.com/oauth2ref/pkg/reload"
	"github.com/oauth2ref/pkg/zaplog"
)

// liveConfig is how a running server reloads: its signals (SIGHUP), the
// process's environment, and load, which reads and checks the
// configuration again the same way as at start.
type liveConfig struct {
	getenv  func(string) string
	signals <-chan os.Signal
	load    func() (Config, string, error)
}

// run reloads on each signal until ctx ends or the returned function is
// called. A reload applies the log levels and the memory limit, and names
// every other changed setting as waiting for a restart.
func (l liveConfig) run(ctx context.Context, cfg Config, levels zaplog.Levels, log *zap.Logger) func() {
	running := cfg
	step := func(context.Context) (reload.Result, error) {
		next, file, err := l.load()
		if err != nil {
			return reload.Result{}, err
		}
		return reload.Result{
			Log: next.Log, Runtime: next.Runtime, Old: running, New: next,
			Apply: func(context.Context) ([]zap.Field, error) {
				return []zap.Field{zap.String("config_file", file)}, nil
			},
			Commit: func() { running.Log, running.Runtime = next.Log, next.Runtime },
		}, nil
	}
	return reload.Live{Levels: levels, Getenv: l.getenv}.Go(ctx, l.signals, log, step)
}
