package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/pkg/schema"
)

type testConfig struct {
	Addr     string   `json:"addr"`
	Debug    bool     `json:"debug"`
	Workers  int      `json:"workers"`
	Timeout  Duration `json:"timeout"`
	Scopes   []string `json:"scopes"`
	Database struct {
		DSN      string `json:"dsn"`
		MaxConns int    `json:"max_conns"`
	} `json:"database"`
	Routes map[string]string `json:"routes"`
}

const testSchema = `{
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "addr":    {"type": "string", "minLength": 1},
    "debug":   {"type": "boolean"},
    "workers": {"type": "integer", "minimum": 1, "maximum": 64},
    "timeout": ` + DurationSchema + `,
    "scopes":  {"type": "array", "items": {"type": "string"}},
    "database": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "dsn": {"type": "string"},
        "max_conns": {"type": "integer", "minimum": 1}
      }
    },
    "routes": {"type": "object", "additionalProperties": {"enum": ["a", "b"]}}
  }
}`

func defaults() testConfig {
	var c testConfig
	c.Addr = ":8080"
	c.Workers = 4
	c.Timeout = Duration(5 * time.Second)
	c.Scopes = []string{"a"}
	c.Database.MaxConns = 10
	c.Routes = map[string]string{}
	return c
}

func source(t *testing.T, dir string, env map[string]string) Source {
	s, err := schema.Compile("test", []byte(testSchema))
	require.NoError(t, err)
	return Source{
		Service:   "svc",
		Env:       "test",
		Dir:       dir,
		EnvPrefix: "SVC",
		Getenv:    func(k string) string { return env[k] },
		Schema:    s,
	}
}

func writeFile(t *testing.T, dir, name, body string) {
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600))
}

func TestLoadLayers(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "svc.test.json", `{"addr": ":9000", "database": {"dsn": "from-file"}, "timeout": "2s"}`)

	cfg := defaults()
	file, err := Load(source(t, dir, map[string]string{
		"SVC_WORKERS":      "8",
		"SVC_DEBUG":        "true",
		"SVC_DATABASE_DSN": "from-env",
		"SVC_SCOPES":       "x, y",
	}), &cfg)
	require.NoError(t, err)

	assert.Equal(t, filepath.Join(dir, "svc.test.json"), file)
	assert.Equal(t, ":9000", cfg.Addr, "file overrides default")
	assert.Equal(t, 8, cfg.Workers, "env overrides default")
	assert.True(t, cfg.Debug)
	assert.Equal(t, "from-env", cfg.Database.DSN, "env overrides file")
	assert.Equal(t, 10, cfg.Database.MaxConns, "untouched nested default survives the merge")
	assert.Equal(t, 2*time.Second, cfg.Timeout.D())
	assert.Equal(t, []string{"x", "y"}, cfg.Scopes)
}

func TestLoadWithoutConfigDirUsesDefaults(t *testing.T) {
	cfg := defaults()
	file, err := Load(source(t, filepath.Join(t.TempDir(), "absent"), nil), &cfg)
	require.NoError(t, err)
	assert.Empty(t, file)
	assert.Equal(t, defaults(), cfg)
}

func TestLoadErrorsNameTheField(t *testing.T) {
	cases := []struct {
		name string
		file string
		env  map[string]string
		want []string
	}{
		{name: "env value out of range", env: map[string]string{"SVC_WORKERS": "1000"}, want: []string{"workers (from SVC_WORKERS)", "<= 64"}},
		{name: "env value of wrong type", env: map[string]string{"SVC_WORKERS": "many"}, want: []string{"workers (from SVC_WORKERS)"}},
		{name: "file field of wrong type", file: `{"database": {"max_conns": "ten"}}`, want: []string{"database.max_conns (from ", "svc.test.json)"}},
		{name: "bad duration", file: `{"timeout": "soon"}`, want: []string{"timeout (from "}},
		{name: "unknown field", file: `{"adr": ":1"}`, want: []string{"adr"}},
		{name: "broken file", file: `{"addr": `, want: []string{"invalid JSON"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "svc.test.json", "{}")
			if tc.file != "" {
				writeFile(t, dir, "svc.test.json", tc.file)
			}
			cfg := defaults()
			_, err := Load(source(t, dir, tc.env), &cfg)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestLoadRejectsUnknownEnvironment(t *testing.T) {
	src := source(t, t.TempDir(), nil)
	src.Env = "staging"
	cfg := defaults()
	_, err := Load(src, &cfg)
	assert.ErrorContains(t, err, "staging")
}

func TestLoadMissingFileInExistingDir(t *testing.T) {
	cfg := defaults()
	_, err := Load(source(t, t.TempDir(), nil), &cfg)
	assert.ErrorContains(t, err, "svc.test.json")
}

func TestLoadMapFromEnv(t *testing.T) {
	for name, text := range map[string]string{"shorthand": "x=a, y=b", "json": `{"x":"a","y":"b"}`} {
		t.Run(name, func(t *testing.T) {
			cfg := defaults()
			_, err := Load(source(t, filepath.Join(t.TempDir(), "absent"), map[string]string{"SVC_ROUTES": text}), &cfg)
			require.NoError(t, err)
			assert.Equal(t, map[string]string{"x": "a", "y": "b"}, cfg.Routes)
		})
	}
	cfg := defaults()
	_, err := Load(source(t, filepath.Join(t.TempDir(), "absent"), map[string]string{"SVC_ROUTES": "x=c"}), &cfg)
	assert.ErrorContains(t, err, "routes.x (from SVC_ROUTES)")
}

func TestChangedNamesFieldsNotValues(t *testing.T) {
	a, b := defaults(), defaults()
	assert.Nil(t, Changed(a, b))
	b.Addr = ":9"
	b.Database.DSN = "postgres://secret@db"
	b.Scopes = []string{"a", "b"}
	b.Routes = map[string]string{"x": "a"}
	got := Changed(a, b)
	assert.Equal(t, []string{"addr", "database.dsn", "routes.x", "scopes"}, got)
	assert.NotContains(t, strings.Join(got, " "), "secret")
}
