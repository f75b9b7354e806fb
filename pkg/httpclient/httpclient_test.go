package httpclient

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/pkg/tlstest"
)

func TestCAFileIsTrusted(t *testing.T) {
	ca := tlstest.NewCA(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(r.Proto))
	}))
	srv.EnableHTTP2 = true
	cert, key := ca.Issue("127.0.0.1")
	pair, err := loadPair(cert, key)
	require.NoError(t, err)
	srv.TLS = pair
	srv.StartTLS()
	defer srv.Close()

	_, err = New(time.Minute).Get(srv.URL)
	assert.Error(t, err, "the system does not trust the test CA")

	roots, err := TLSConfig{CAFile: ca.File}.Roots()
	require.NoError(t, err)
	resp, err := New(time.Minute, WithRoots(roots)).Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 2, resp.ProtoMajor, "HTTP/2 over TLS")

	roots, err = TLSConfig{}.Roots()
	assert.NoError(t, err)
	assert.Nil(t, roots, "no file: the system's roots")

	_, err = TLSConfig{CAFile: filepath.Join(t.TempDir(), "none.pem")}.Roots()
	assert.ErrorContains(t, err, "tls.ca_file")
	junk := filepath.Join(t.TempDir(), "junk.pem")
	require.NoError(t, os.WriteFile(junk, []byte("not a certificate"), 0o600))
	_, err = TLSConfig{CAFile: junk}.Roots()
	assert.ErrorContains(t, err, "no PEM certificate")
}

func loadPair(cert, key string) (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}
