package zaplog

import (
	"fmt"
	"io"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Config is the "log" part of every service's configuration.
type Config struct {
	// Level is the lowest level written.
	Level string `json:"level"`
	// AccessLevel is the level of the one line each request writes; set it
	// below Level to drop those lines.
	AccessLevel string `json:"access_level"`
}

// DefaultConfig logs everything from info up, requests included.
func DefaultConfig() Config { return Config{Level: "info", AccessLevel: "info"} }

// ConfigSchema is the JSON Schema of Config, for services to splice into
// their own config schema under their "log" key.
const ConfigSchema = `{
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "level": {"enum": ["debug", "info", "warn", "error"]},
    "access_level": {"enum": ["debug", "info", "warn", "error"]}
  }
}`

// Levels are a running service's two log levels: the logger's, and that
// of its per-request lines. Both can change while the service runs (a
// reload on SIGHUP); every logger built on them sees the change at once.
type Levels struct {
	Log    zap.AtomicLevel
	Access zap.AtomicLevel
}

// Set changes both levels to c's, or neither if either is not a level.
func (l Levels) Set(c Config) error {
	lvl, access, err := c.parse()
	if err != nil {
		return err
	}
	l.Log.SetLevel(lvl)
	l.Access.SetLevel(access)
	return nil
}

func (c Config) parse() (lvl, access zapcore.Level, err error) {
	if lvl, err = zapcore.ParseLevel(c.Level); err != nil {
		return 0, 0, fmt.Errorf("log level %q: %w", c.Level, err)
	}
	if access, err = zapcore.ParseLevel(c.AccessLevel); err != nil {
		return 0, 0, fmt.Errorf("access log level %q: %w", c.AccessLevel, err)
	}
	return lvl, access, nil
}

// Open returns a service's buffered logger writing to w, and its levels,
// which Levels.Set changes later.
func (c Config) Open(w io.Writer) (*zap.Logger, Levels, error) {
	lvl, access, err := c.parse()
	if err != nil {
		return nil, Levels{}, err
	}
	levels := Levels{Log: zap.NewAtomicLevelAt(lvl), Access: zap.NewAtomicLevelAt(access)}
	return newLogger(buffered(w), levels.Log), levels, nil
}
