package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/pkg/httpserver"
	"github.com/oauth2ref/pkg/httpserver/servertest"
	"github.com/oauth2ref/pkg/service"
	"github.com/oauth2ref/pkg/service/servicetest"
)

// TestRunDevTLS: -dev-tls serves HTTPS and HTTP/2 with a certificate made
// at start, whose fingerprint the log gives to check it by.
func TestRunDevTLS(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout servertest.Buffer
	env := fakeEnv(map[string]string{
		"CONFIG_DIR": "../../../configs", "APP_ENV": "test", "AUTHSERVER_DATA_DIR": t.TempDir(),
		"AUTHSERVER_ISSUER": "https://localhost:5001",
	})
	ln := servicetest.Listen(t)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"authserver", "-dev-tls"}, env, strings.NewReader(""), &stdout, io.Discard, service.WithListener(ln))
	}()
	servicetest.WaitListening(t, &stdout, ln.Addr().String(), done)

	var fingerprint string
	sc := bufio.NewScanner(strings.NewReader(stdout.String()))
	for sc.Scan() {
		var line struct {
			Msg            string
			Fingerprint    string `json:"sha256_fingerprint"`
			DevCertificate bool   `json:"dev_certificate"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "serving HTTPS" {
			assert.True(t, line.DevCertificate)
			fingerprint = line.Fingerprint
		}
	}
	require.NotEmpty(t, fingerprint, "the log names the certificate:\n%s", stdout.String())

	// Nothing trusts the certificate, so the client pins it by the logged
	// fingerprint, as a person would check it in the browser.
	pinned := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, //nolint:gosec // G402: verified below, by fingerprint
		VerifyConnection: func(cs tls.ConnectionState) error {
			if httpserver.Fingerprint(cs.PeerCertificates[0].Raw) != fingerprint {
				return errors.New("not the logged certificate")
			}
			return nil
		},
	}
	c := &http.Client{Timeout: servicetest.Bound, Transport: &http.Transport{TLSClientConfig: pinned, ForceAttemptHTTP2: true}}
	resp, err := c.Get("https://" + ln.Addr().String() + "/.well-known/oauth-authorization-server")
	require.NoError(t, err)
	var meta struct{ Issuer string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&meta))
	resp.Body.Close()
	assert.Equal(t, 2, resp.ProtoMajor, "HTTP/2")
	assert.Equal(t, "https://localhost:5001", meta.Issuer)

	_, err = (&http.Client{Timeout: servicetest.Bound}).Get("https://" + ln.Addr().String() + "/healthz")
	assert.Error(t, err, "an unpinned client does not trust it")

	cancel()
	require.NoError(t, <-done)
	assert.NotContains(t, stdout.String(), "the issuer is http", "an https issuer on an https server")
}
