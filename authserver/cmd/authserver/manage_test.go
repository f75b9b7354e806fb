package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/faulttest"
)

// cliRun runs the binary's run in-process with env, args and stdin, and
// returns what it printed and its error.
func cliRun(t *testing.T, env map[string]string, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), append([]string{"authserver"}, args...), fakeEnv(env), strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

func mustCLI(t *testing.T, env map[string]string, stdin string, args ...string) string {
	t.Helper()
	out, errOut, err := cliRun(t, env, stdin, args...)
	require.NoError(t, err, "authserver %s: %s", strings.Join(args, " "), errOut)
	return out
}

func cliEnv(t *testing.T) map[string]string {
	return map[string]string{"CONFIG_DIR": "../../../configs", "APP_ENV": "test", "AUTHSERVER_DATA_DIR": t.TempDir(),
		// Cheap hashes: the tests make accounts, not measure them.
		"AUTHSERVER_PASSWORDS_MEMORY_KIB": "64", "AUTHSERVER_PASSWORDS_TIME": "1"}
}

func TestManageCommandsOnMemory(t *testing.T) {
	env := cliEnv(t)
	out, errOut, err := cliRun(t, env, "", "clients", "add", "-id", "cli-made", "-name", "Made by the CLI",
		"-grant", "client_credentials")
	require.NoError(t, err, errOut)
	assert.Contains(t, errOut, "warning: clients or users are in memory storage", "says its changes end with it")
	var made struct {
		ID     string `json:"id"`
		Secret string `json:"client_secret"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &made), out)
	assert.Len(t, made.Secret, 43, "the secret, printed this once")

	_, _, err = cliRun(t, env, "", "clients", "add", "-name", "Bad", "-type", "public", "-grant", "authorization_code",
		"-redirect-uri", "http://app.example/cb")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "redirect_uris: ", "the field at fault")
	_, _, err = cliRun(t, env, "", "clients", "add", "-name", "Unknown scope", "-grant", "client_credentials", "-scope", "current_time")
	assert.ErrorContains(t, err, `unknown scope "current_time"`, "memory knows no scope: nothing was loaded into it")

	out = mustCLI(t, env, "dora-password-1\n", "users", "add", "-admin", "Dora")
	assert.Contains(t, out, `"name": "dora"`, "PRECIS, as sign-up")
	assert.Contains(t, out, `"admin": true`)
	assert.NotContains(t, out, "dora-password-1")
	_, _, err = cliRun(t, env, "", "users", "add", "eve")
	assert.ErrorContains(t, err, "no password on stdin")
	_, _, err = cliRun(t, env, "short\n", "users", "add", "eve")
	assert.ErrorContains(t, err, "at least 12 characters")

	for _, args := range [][]string{{"clients"}, {"clients", "frobnicate"}, {"users", "rm"}, {"clients", "show", "a", "b"}, {"clients", "list", "-limit"}} {
		_, _, err := cliRun(t, env, "", args...)
		assert.ErrorContains(t, err, "usage:", "%v", args)
	}
}

// On PostgreSQL the commands share their changes with each other and
// with a running server; a server is in the e2e tests.
func TestManageCommandsOnPostgres(t *testing.T) {
	env := cliEnv(t)
	env["AUTHSERVER_STORAGE_DEFAULT"] = "postgres"
	env["AUTHSERVER_POSTGRES_DSN"] = faulttest.NewDatabase(t)

	out := mustCLI(t, env, "", "clients", "add", "-id", "cli-made", "-name", "Made by the CLI",
		"-grant", "authorization_code", "-grant", "refresh_token", "-redirect-uri", "http://127.0.0.1:8080/cb")
	assert.Contains(t, out, `"client_secret"`)
	for i := range 3 {
		mustCLI(t, env, "", "clients", "add", "-name", "Bulk", "-type", "public", "-grant", "authorization_code",
			"-redirect-uri", "https://app.example/cb", "-id", "bulk-"+string(rune('a'+i)))
	}
	out = mustCLI(t, env, "", "clients", "list", "-limit", "2")
	assert.Contains(t, out, "bulk-a")
	assert.Contains(t, out, "(2 of 4; next page: authserver clients list -cursor ")
	cursor := strings.TrimSuffix(strings.SplitAfter(strings.TrimSpace(out), "-cursor ")[1], ")")
	out = mustCLI(t, env, "", "clients", "list", "-limit", "2", "-cursor", cursor)
	assert.Contains(t, out, "bulk-c")
	assert.Contains(t, out, "cli-made")
	assert.Contains(t, out, "(2 of 4)")

	out = mustCLI(t, env, "", "clients", "show", "cli-made")
	assert.Contains(t, out, `"managed_by": "admin"`)
	assert.NotContains(t, out, "client_secret", "shown once, at its making")
	mustCLI(t, env, "", "clients", "rm", "cli-made")
	_, _, err := cliRun(t, env, "", "clients", "show", "cli-made")
	assert.ErrorContains(t, err, "no such client")
	_, _, err = cliRun(t, env, "", "clients", "add", "-id", "cli-made", "-name", "Again", "-type", "public")
	assert.ErrorContains(t, err, "existed and was deleted")

	out = mustCLI(t, env, "frank-password-1\n", "users", "add", "frank")
	var frank struct{ ID string }
	require.NoError(t, json.Unmarshal([]byte(out), &frank))
	out = mustCLI(t, env, "", "users", "list")
	assert.Contains(t, out, frank.ID)
	assert.Contains(t, out, "(1 of 1)")
	mustCLI(t, env, "frank-password-2\n", "users", "set-password", frank.ID)
	_, _, err = cliRun(t, env, "\n", "users", "set-password", frank.ID)
	assert.ErrorContains(t, err, "no password on stdin")
	mustCLI(t, env, "", "users", "rm", frank.ID)
	_, _, err = cliRun(t, env, "", "users", "rm", frank.ID)
	assert.ErrorContains(t, err, "no such user")
	assert.Contains(t, mustCLI(t, env, "", "users", "list"), "(0 of 0)")
}
