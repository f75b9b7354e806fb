// Package httpclient builds the outbound HTTP client the services use to call
// each other. The standard library's default keeps only two idle connections
// per host, which under load means a new TCP connection for most calls; this
// one keeps enough for every concurrent caller, and bounds every call.
package httpclient

import (
	"net"
	"net/http"
	"time"
)

// New returns a client whose calls give up after timeout in all, and whose
// connection attempts give up sooner, so a down peer is reported fast.
func New(timeout time.Duration) *http.Client {
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
	return &http.Client{Transport: t, Timeout: timeout}
}
