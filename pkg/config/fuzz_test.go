package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad: whatever a config file and the environment say, Load either
// fills a config that the schema accepts or refuses with an error that says
// where the bad value came from. It never panics and never half-applies.
func FuzzLoad(f *testing.F) {
	f.Add(`{"addr": ":9000", "timeout": "2s"}`, "8", "1m", "x, y", `{"a":"a"}`)
	f.Add(`{"workers": 0}`, "nope", "-1s", "", "{")
	f.Add(`[]`, "", "", "", "")
	f.Add(`{"database": {"dsn": 7}}`, "99999999999999999999", "1e9h", "\x00", `{"z":"c"}`)
	f.Fuzz(func(t *testing.T, file, workers, timeout, scopes, routes string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "svc.test.json"), []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := defaults()
		_, err := Load(source(t, dir, map[string]string{
			"SVC_WORKERS": workers, "SVC_TIMEOUT": timeout, "SVC_SCOPES": scopes, "SVC_ROUTES": routes,
		}), &cfg)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "config:") {
				t.Fatalf("an error that does not say it is the config's: %v", err)
			}
			if cfg.Workers != defaults().Workers || cfg.Addr != defaults().Addr {
				t.Fatalf("a refused config was half applied: %+v", cfg)
			}
			return
		}
		if cfg.Workers < 1 || cfg.Workers > 64 || cfg.Addr == "" || cfg.Timeout.D() < 0 {
			t.Fatalf("accepted a config the schema forbids: %+v", cfg)
		}
		for _, v := range cfg.Routes {
			if v != "a" && v != "b" {
				t.Fatalf("accepted route value %q", v)
			}
		}
	})
}
