// Package zaplog builds the JSON logger every service uses and carries the
// request-scoped fields (request_id, client_id, user_id) that each log line of
// a request should repeat.
//
// Nothing here logs request bodies, headers or query strings: that is where
// secrets and tokens travel, so they never reach a logger by construction.
package zaplog

import (
	"fmt"
	"io"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// New returns a JSON logger writing each line straight to w at the given
// level ("debug", "info", "warn", "error").
func New(w io.Writer, level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	return newLogger(zapcore.AddSync(w), lvl), nil
}

// NewBuffered is New with writes buffered and flushed every second and on
// Sync: one write(2) per log line cost a busy server a fifth of its CPU
// (measured with scripts/bench.sh). The price is that a crash loses up to a
// second of log lines, so services Sync before exiting and after lines that
// others wait for.
func NewBuffered(w io.Writer, level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	return newLogger(buffered(w), lvl), nil
}

func buffered(w io.Writer) zapcore.WriteSyncer {
	return &zapcore.BufferedWriteSyncer{WS: zapcore.AddSync(w), Size: 64 << 10, FlushInterval: time.Second}
}

// newLogger writes JSON lines to ws from lvl up; lvl may be a
// zap.AtomicLevel, to change while the logger is in use.
func newLogger(ws zapcore.WriteSyncer, lvl zapcore.LevelEnabler) *zap.Logger {
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey = "time"
	enc.EncodeTime = zapcore.RFC3339NanoTimeEncoder
	enc.EncodeDuration = zapcore.MillisDurationEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.Lock(ws), lvl)
	return zap.New(core, zap.AddCaller())
}
