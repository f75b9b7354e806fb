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

// Open returns a service's buffered logger writing to w, and the level of
// its per-request lines.
func (c Config) Open(w io.Writer) (*zap.Logger, zapcore.Level, error) {
	access, err := zapcore.ParseLevel(c.AccessLevel)
	if err != nil {
		return nil, 0, fmt.Errorf("access log level %q: %w", c.AccessLevel, err)
	}
	log, err := NewBuffered(w, c.Level)
	return log, access, err
}
