// Package reload re-reads a service's configuration on SIGHUP, while it
// runs, and applies what can change live: the log levels and the memory
// limit everywhere, and whatever else a service adds (the authserver's
// fixture files). A reload is all or nothing: the new configuration is
// loaded and checked, and the service's own step run, before anything is
// applied; a bad file leaves everything as it was. Each reload writes one
// log line saying what it applied, what waits for a restart, or why
// nothing changed.
package reload

import (
	"context"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"

	"go.uber.org/zap"

	"github.com/oauth2ref/pkg/config"
	"github.com/oauth2ref/pkg/memlimit"
	"github.com/oauth2ref/pkg/zaplog"
)

// Signals returns the process's SIGHUPs, which then no longer end it, and
// a function that stops their delivery. Only run calls it (main stays
// three lines); tests hand run a channel of their own instead.
func Signals() (<-chan os.Signal, func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	return ch, func() { signal.Stop(ch) }
}

// Live is what every service changes while it runs.
type Live struct {
	Levels zaplog.Levels
	// Getenv is the process's environment, for GOMEMLIMIT.
	Getenv func(string) string
}

// Step is a service's reload: it loads and checks the configuration anew
// and says what to apply. It changes nothing; an error leaves everything
// as it was.
type Step func(ctx context.Context) (Result, error)

// Result is what a Step found, to be applied and logged.
type Result struct {
	Log     zaplog.Config
	Runtime memlimit.Config
	// Apply, if set, is the service's own change (the authserver's
	// fixtures), run after the checks and before the levels change. It is
	// all or nothing: an error leaves everything as it was, levels
	// included. It returns fields for the log line.
	Apply func(ctx context.Context) ([]zap.Field, error)
	// Commit, if set, is called once everything is applied: the service
	// records the configuration now running.
	Commit func()
	// Old and New are the whole configurations, compared to name the
	// fields that changed but only apply at the next start.
	Old, New any
	// Live are the top-level fields the service applies itself, beside
	// "log" and "runtime", which never need a restart.
	Live []string
}

// Run calls step for each signal on ch until ctx ends, then applies and
// logs the result. It returns when ctx ends.
func (l Live) Run(ctx context.Context, ch <-chan os.Signal, log *zap.Logger, step Step) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch:
			l.once(ctx, log, step)
		}
	}
}

// Go runs Run on a goroutine of its own, until ctx ends or the returned
// function is called, which waits for a reload in progress to finish.
func (l Live) Go(ctx context.Context, ch <-chan os.Signal, log *zap.Logger, step Step) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		l.Run(ctx, ch, log, step)
	}()
	return func() { cancel(); wg.Wait() }
}

func (l Live) once(ctx context.Context, log *zap.Logger, step Step) {
	defer func() { _ = log.Sync() }() // tests and operators wait for the line
	r, err := step(ctx)
	if err == nil {
		err = r.Runtime.Check()
	}
	var own []zap.Field
	if err == nil && r.Apply != nil {
		own, err = r.Apply(ctx)
	}
	if err != nil {
		log.Error("reload refused: nothing changed", zap.Error(err))
		return
	}
	// Checked above: neither can fail now.
	_ = l.Levels.Set(r.Log)
	applied, _ := r.Runtime.Apply(l.Getenv)
	if r.Commit != nil {
		r.Commit()
	}
	fields := append([]zap.Field{
		zap.String("log_level", r.Log.Level), zap.String("access_level", r.Log.AccessLevel),
		zap.Int64("memory_limit", applied.Limit), zap.String("memory_limit_from", applied.Source),
	}, own...)
	if restart := NeedsRestart(r.Old, r.New, append([]string{"log", "runtime"}, r.Live...)...); len(restart) > 0 {
		fields = append(fields, zap.Strings("restart_required", restart))
		log.Warn("reloaded; some changed settings only apply at the next start", fields...)
		return
	}
	log.Info("reloaded", fields...)
}

// NeedsRestart names the fields that differ between before and after
// outside the live ones (top-level names, or dotted paths).
func NeedsRestart(before, after any, live ...string) []string {
	var out []string
	for _, f := range config.Changed(before, after) {
		if !slices.ContainsFunc(live, func(l string) bool { return f == l || strings.HasPrefix(f, l+".") }) {
			out = append(out, f)
		}
	}
	return out
}
