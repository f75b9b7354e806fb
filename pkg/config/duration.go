package config

import (
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a time.Duration written in config files as Go duration text
// ("5s", "1h30m"), which reads better than nanoseconds.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes d as a Go duration string such as "1m30s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a Go duration string such as "5s"; anything else, a
// bare number included, is an error.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"5s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// DurationSchema is the JSON Schema, as JSON text, of a Duration value, for
// services to splice into their config schemas so that a bad duration is
// reported with its field name.
const DurationSchema = `{"type": "string", "pattern": "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"}`
