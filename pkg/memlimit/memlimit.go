// Package memlimit sets the Go runtime's soft memory limit from a service's
// configuration, so a service stays within its memory target without the
// operator setting GOMEMLIMIT. The environment variable, when set, wins:
// the runtime has read it already, and an operator who set it meant it.
package memlimit

import (
	"fmt"
	"math"
	"runtime/debug"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// Config is the "runtime" part of a service's configuration.
type Config struct {
	// MemoryLimit is the soft limit in GOMEMLIMIT's format ("80MiB"); ""
	// or "off" sets none.
	MemoryLimit string `json:"memory_limit"`
}

// ConfigSchema is the JSON Schema of Config, for services to splice into
// their own config schema under their "runtime" key.
const ConfigSchema = `{
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "memory_limit": {"type": "string", "pattern": "^(|off|[0-9]+(B|KiB|MiB|GiB|TiB)?)$"}
  }
}`

// minLimit keeps a typo ("80" for 80 MiB) from making the collector run
// all the time: no service here fits in less.
const minLimit = 16 << 20

// Parse reads a limit in GOMEMLIMIT's format: a number of bytes with an
// optional B, KiB, MiB, GiB or TiB suffix. "" and "off" are 0, no limit.
func Parse(s string) (int64, error) {
	if s == "" || s == "off" {
		return 0, nil
	}
	num, mult := s, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("memory limit %q: want a size like 80MiB", s)
	}
	if n*mult < minLimit {
		return 0, fmt.Errorf("memory limit %q is below 16MiB", s)
	}
	return n * mult, nil
}

// Check reports whether MemoryLimit is a limit Apply would set.
func (c Config) Check() error {
	_, err := Parse(c.MemoryLimit)
	return err
}

// Applied says which memory limit is in force and where it came from, for
// the service's log.
type Applied struct {
	// Limit is in bytes; 0 means none.
	Limit int64
	// Source is "config" (runtime.memory_limit), "GOMEMLIMIT" (the
	// environment, which wins) or "none".
	Source string
}

// Apply sets the runtime's soft memory limit to c's unless GOMEMLIMIT is
// set in getenv; a limit of none lifts one set before (a reload). It
// changes nothing on error.
func (c Config) Apply(getenv func(string) string) (Applied, error) {
	limit, err := Parse(c.MemoryLimit)
	if err != nil {
		return Applied{}, err
	}
	if env := getenv("GOMEMLIMIT"); env != "" {
		cur := debug.SetMemoryLimit(-1) // -1 reads it
		if cur == math.MaxInt64 {
			cur = 0 // GOMEMLIMIT=off
		}
		return Applied{Limit: cur, Source: "GOMEMLIMIT"}, nil
	}
	if limit == 0 {
		debug.SetMemoryLimit(math.MaxInt64)
		return Applied{Source: "none"}, nil
	}
	debug.SetMemoryLimit(limit)
	return Applied{Limit: limit, Source: "config"}, nil
}

// Log writes the start-up line saying which limit is in force.
func (a Applied) Log(log *zap.Logger) {
	switch a.Source {
	case "GOMEMLIMIT":
		log.Info("memory limit from GOMEMLIMIT, which wins over runtime.memory_limit", zap.Int64("memory_limit", a.Limit))
	case "none":
		log.Info("no memory limit (runtime.memory_limit is off)")
	default:
		log.Info("memory limit from runtime.memory_limit", zap.Int64("memory_limit", a.Limit))
	}
}
