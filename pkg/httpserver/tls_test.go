package httpserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/oauth2ref/pkg/schema"
	"github.com/oauth2ref/pkg/tlstest"
)

// serveTLS runs Serve with tc on a loopback socket until the test ends and
// returns the socket's address.
func serveTLS(t *testing.T, tc TLSConfig) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cfg := DefaultConfig(ln.Addr().String())
	cfg.TLS = tc
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, r.Proto) })
	go func() { done <- Serve(ctx, cfg, h, zap.NewNop(), nil, ln) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done)
	})
	return ln.Addr().String()
}

func tlsClient(c *tls.Config) *http.Client {
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: c, ForceAttemptHTTP2: true}}
}

func TestServeTLSSpeaksHTTP2(t *testing.T) {
	ca := tlstest.NewCA(t)
	cert, key := ca.Issue("127.0.0.1", "localhost")
	addr := serveTLS(t, TLSConfig{CertFile: cert, KeyFile: key})

	resp, err := tlsClient(ca.ClientConfig()).Get("https://" + addr + "/")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 2, resp.ProtoMajor, "HTTP/2 is negotiated by ALPN")
	assert.Equal(t, "HTTP/2.0", string(body))
	assert.GreaterOrEqual(t, resp.TLS.Version, uint16(tls.VersionTLS12))

	// An HTTP/1.1-only client still gets through.
	h1 := ca.ClientConfig()
	h1.NextProtos = []string{"http/1.1"}
	resp, err = (&http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: h1}}).Get("https://" + addr + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 1, resp.ProtoMajor)

	// TLS 1.1 is refused.
	old := ca.ClientConfig()
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	_, err = tlsClient(old).Get("https://" + addr + "/")
	assert.Error(t, err)
}

func TestServeDevCertificate(t *testing.T) {
	cert, fp, err := DevCertificate(time.Now())
	require.NoError(t, err)
	assert.Equal(t, Fingerprint(cert.Certificate[0]), fp)
	assert.Len(t, fp, 32*3-1)
	addr := serveTLS(t, TLSConfig{Certificate: cert})

	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	for _, name := range []string{"localhost", "127.0.0.1"} {
		c := &tls.Config{RootCAs: pool, ServerName: name, MinVersion: tls.VersionTLS12}
		resp, err := tlsClient(c).Get("https://" + addr + "/")
		require.NoError(t, err, "the certificate names %s", name)
		resp.Body.Close()
		assert.Equal(t, 2, resp.ProtoMajor)
	}
	_, err = tlsClient(&tls.Config{MinVersion: tls.VersionTLS12}).Get("https://" + addr + "/")
	assert.Error(t, err, "nothing trusts a dev certificate by default")
}

func TestServeTLSRefusesBadFiles(t *testing.T) {
	ca := tlstest.NewCA(t)
	cert, _ := ca.Issue("localhost")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cfg := DefaultConfig(ln.Addr().String())
	cfg.TLS = TLSConfig{CertFile: cert, KeyFile: cert + ".missing"}
	err = Serve(context.Background(), cfg, http.NotFoundHandler(), zap.NewNop(), nil, ln)
	assert.ErrorContains(t, err, "http.tls")
	_, err = net.DialTimeout("tcp", ln.Addr().String(), time.Second)
	assert.Error(t, err, "the listener is closed")
}

func TestTLSSchemaTakesBothFilesOrNeither(t *testing.T) {
	s, err := schema.Compile("tls.json", []byte(TLSSchema))
	require.NoError(t, err)
	for doc, ok := range map[string]bool{
		`{}`:                                  true,
		`{"cert_file": "", "key_file": ""}`:   true,
		`{"cert_file": "c", "key_file": "k"}`: true,
		`{"cert_file": "c"}`:                  false,
		`{"cert_file": "c", "key_file": ""}`:  false,
		`{"key_file": "k"}`:                   false,
		`{"ca_file": "k"}`:                    false,
	} {
		var v any
		err := s.DecodeBytes([]byte(doc), &v)
		assert.Equal(t, ok, err == nil, "%s: %v", doc, err)
		if err != nil {
			assert.True(t, strings.Contains(err.Error(), "file"), err.Error())
		}
	}
}
