// Package httpclient builds the outbound HTTP client the services use to call
// each other. The standard library's default keeps only two idle connections
// per host, which under load means a new TCP connection for most calls; this
// one keeps enough for every concurrent caller, and bounds every call.
package httpclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// Option adjusts the client New builds.
type Option func(*http.Transport)

// WithRoots makes HTTPS calls trust the certificate authorities in pool;
// nil keeps the system's.
func WithRoots(pool *x509.CertPool) Option {
	return func(t *http.Transport) {
		if pool != nil {
			t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
	}
}

// New returns a client whose calls give up after timeout in all, and whose
// connection attempts give up sooner, so a down peer is reported fast.
// Over HTTPS it speaks HTTP/2 when the server offers it.
func New(timeout time.Duration, opts ...Option) *http.Client {
	dialTimeout := timeout
	if dialTimeout > 2*time.Second {
		dialTimeout = 2 * time.Second
	}
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: timeout,
		ForceAttemptHTTP2:     true,
	}
	for _, o := range opts {
		o(t)
	}
	return &http.Client{Transport: t, Timeout: timeout}
}

// TLSConfig is the "tls" part of an upstream's configuration.
type TLSConfig struct {
	// CAFile names PEM certificates of authorities to trust besides the
	// system's: a private CA that signed the upstream's certificate.
	CAFile string `json:"ca_file"`
}

// TLSSchema is the JSON Schema of TLSConfig.
const TLSSchema = `{
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "ca_file": {"type": "string"}
  }
}`

// Roots returns the system's certificate authorities plus those of
// CAFile, or nil (the system's alone) when CAFile is empty.
func (c TLSConfig) Roots() (*x509.CertPool, error) {
	if c.CAFile == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("tls.ca_file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(raw) {
		return nil, errors.New("tls.ca_file: " + c.CAFile + " holds no PEM certificate")
	}
	return pool, nil
}
