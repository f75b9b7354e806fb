package httpserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"

	"go.uber.org/zap"
)

// TLSConfig turns HTTPS on: a certificate and its key in PEM files, or a
// certificate made in memory (the -dev-tls flag). Off when both files are
// empty and there is no Certificate.
type TLSConfig struct {
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`
	// Certificate is served instead of the files. Code sets it, never a
	// config file.
	Certificate *tls.Certificate `json:"-"`
}

// TLSSchema is the JSON Schema of TLSConfig: the two files go together.
const TLSSchema = `{
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "cert_file": {"type": "string"},
    "key_file": {"type": "string"}
  },
  "allOf": [
    {"if": {"properties": {"cert_file": {"minLength": 1}}, "required": ["cert_file"]}, "then": {"properties": {"key_file": {"minLength": 1}}, "required": ["key_file"]}},
    {"if": {"properties": {"key_file": {"minLength": 1}}, "required": ["key_file"]}, "then": {"properties": {"cert_file": {"minLength": 1}}, "required": ["cert_file"]}}
  ]
}`

// Enabled reports whether the server speaks HTTPS.
func (c TLSConfig) Enabled() bool {
	return c.Certificate != nil || c.CertFile != "" || c.KeyFile != ""
}

// UseDevCertificate makes the server speak HTTPS with a new DevCertificate
// (the -dev-tls flag); an error if certificate files are configured too.
func (c *TLSConfig) UseDevCertificate(now time.Time) error {
	if c.CertFile != "" || c.KeyFile != "" {
		return errors.New("-dev-tls and http.tls.cert_file/key_file are both set: choose one")
	}
	cert, _, err := DevCertificate(now)
	if err != nil {
		return fmt.Errorf("-dev-tls: %w", err)
	}
	c.Certificate = cert
	return nil
}

// logFields describe the certificate served, for the start-up log: whom
// it names, until when, and its fingerprint.
func (c TLSConfig) logFields(tc *tls.Config) []zap.Field {
	cert := tc.Certificates[0]
	fields := []zap.Field{zap.String("sha256_fingerprint", Fingerprint(cert.Certificate[0])), zap.Bool("dev_certificate", c.Certificate != nil)}
	if c.CertFile != "" {
		fields = append(fields, zap.String("cert_file", c.CertFile))
	}
	leaf := cert.Leaf
	if leaf == nil {
		leaf, _ = x509.ParseCertificate(cert.Certificate[0])
	}
	if leaf != nil {
		fields = append(fields, zap.Strings("names", append(append([]string{}, leaf.DNSNames...), ipStrings(leaf.IPAddresses)...)),
			zap.Time("not_after", leaf.NotAfter))
	}
	return fields
}

func ipStrings(ips []net.IP) []string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out
}

// serverConfig is the server's TLS configuration, nil when TLS is off:
// TLS 1.2 at least (RFC 9700 §2.6 and RFC 9325), Go's cipher suites, and
// HTTP/2, which net/http offers by ALPN on every TLS listener.
func (c TLSConfig) serverConfig() (*tls.Config, error) {
	if !c.Enabled() {
		return nil, nil
	}
	cert := c.Certificate
	if cert == nil {
		if c.CertFile == "" || c.KeyFile == "" {
			return nil, errors.New("http.tls: cert_file and key_file go together")
		}
		pair, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("http.tls: %w", err)
		}
		cert = &pair
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{*cert},
		NextProtos:   []string{"h2", "http/1.1"},
	}, nil
}

// DevCertificate makes a self-signed certificate for localhost, 127.0.0.1
// and ::1, valid for a year, with a new P-256 key that is never written
// anywhere; and its SHA-256 fingerprint in the colon-separated hex that
// browsers and `openssl x509 -fingerprint -sha256` show, to check it by.
// It is for trying HTTPS on one machine (-dev-tls): nothing trusts it.
func DevCertificate(now time.Time) (*tls.Certificate, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost (oauth2ref -dev-tls)"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, "", err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, "", err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, Fingerprint(der), nil
}

// Fingerprint is the SHA-256 of a DER certificate as colon-separated
// upper-case hex.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}
