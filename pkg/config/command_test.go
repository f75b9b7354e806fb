package config

import (
	"bytes"
	"errors"
	"flag"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseCommand(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	c, err := ParseCommand("svc", "usage\n", []string{"svc"}, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, Command{ConfigDir: "configs", Env: "development", Args: []string{}}, c)

	c, err = ParseCommand("svc", "usage\n", []string{"svc", "keys", "rotate"}, env(map[string]string{"CONFIG_DIR": "/etc/x", "APP_ENV": "test"}), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, Command{ConfigDir: "/etc/x", Env: "test", DirRequired: true, Args: []string{"keys", "rotate"}}, c)

	c, err = ParseCommand("svc", "usage\n", []string{"svc", "-config-dir", "here", "-env", "production"}, env(map[string]string{"APP_ENV": "test"}), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "here", c.ConfigDir)
	assert.True(t, c.DirRequired, "a directory named on the command line must exist")
	assert.Equal(t, "production", c.Env, "the flag wins over the environment")

	var out bytes.Buffer
	_, err = ParseCommand("svc", "usage: svc [flags]\n", []string{"svc", "-h"}, env(nil), &out)
	assert.True(t, errors.Is(err, flag.ErrHelp))
	assert.Contains(t, out.String(), "usage: svc [flags]")
	assert.Contains(t, out.String(), "-config-dir")

	_, err = ParseCommand("svc", "", []string{"svc", "-nope"}, env(nil), &bytes.Buffer{})
	assert.Error(t, err)
}

func TestParseCommandDevTLS(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := ParseCommand("svc", "", []string{"svc", "-dev-tls"}, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	assert.True(t, c.DevTLS)

	_, err = ParseCommand("svc", "", []string{"svc", "-dev-tls", "-env", "production"}, env(nil), &bytes.Buffer{})
	assert.ErrorContains(t, err, "production needs http.tls.cert_file")
	_, err = ParseCommand("svc", "", []string{"svc", "-dev-tls"}, env(map[string]string{"APP_ENV": "production"}), &bytes.Buffer{})
	assert.Error(t, err, "production from the environment too")
}
