// Package upstreamtest runs the webapp's upstreams for its tests: the real
// authorization server, embedded in-process (the authserver library), and
// a stand-in resource server that introspects every token at it, as the
// real one does. In front of each is a small HTTP proxy that records what
// passes and can be made to fail: answer 500 or 503, hang, cut the
// connection, or go down. Only tests import it.
package upstreamtest

import (
	"bytes"
	"context"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"
)

// Fault makes a proxy misbehave.
type Fault int

const (
	// Healthy passes every request on.
	Healthy Fault = iota
	// ServerError answers every request 500.
	ServerError
	// Unavailable answers every request 503 temporarily_unavailable.
	Unavailable
	// Hang answers nothing until the caller gives up, or for a minute:
	// far longer than the short timeout of a test about hanging, however
	// late that timeout fires on a loaded machine.
	Hang
	// Cut drops every connection as soon as a request arrives on it,
	// without an answer.
	Cut
)

// Exchange is a request that came through a proxy, and its answer.
type Exchange struct {
	Method string
	Path   string
	Query  url.Values
	// Form is a form body's parameters.
	Form url.Values
	// Status and Body are the upstream's answer; Status is 0 if the proxy
	// answered itself (a Fault) or the upstream did not.
	Status int
	Body   []byte
}

// Proxy is an HTTP proxy in front of an upstream. Close it to take the
// upstream down; it closes when the test ends.
type Proxy struct {
	*httptest.Server
	proxy *httputil.ReverseProxy

	mu    sync.Mutex
	fault Fault
	delay time.Duration
	seen  []*Exchange
}

// NewProxy starts a proxy to the server at target (a base URL).
func NewProxy(t testing.TB, target string) *Proxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("upstreamtest: proxy target: %v", err)
	}
	p := &Proxy{}
	p.proxy = &httputil.ReverseProxy{
		Rewrite:        func(r *httputil.ProxyRequest) { r.SetURL(u) },
		ModifyResponse: p.record,
	}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.Close)
	return p
}

// SetFault makes the proxy misbehave, or stop misbehaving.
func (p *Proxy) SetFault(f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault = f
}

// SetDelay holds each answer for d after the upstream gave it (and acted
// on the request), so that concurrent callers overlap.
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// Seen are the requests that came through, in the order they arrived.
func (p *Proxy) Seen() []Exchange {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Exchange, len(p.seen))
	for i, e := range p.seen {
		out[i] = *e
	}
	return out
}

type exchangeKey struct{}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	e := &Exchange{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query()}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
		body, _ := io.ReadAll(r.Body)
		e.Form, _ = url.ParseQuery(string(body))
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	p.mu.Lock()
	p.seen = append(p.seen, e)
	fault := p.fault
	p.mu.Unlock()

	switch fault {
	case ServerError:
		http.Error(w, "injected failure", http.StatusInternalServerError)
	case Unavailable:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":"temporarily_unavailable"}`))
	case Hang:
		// Read the body first: only then does the server watch the
		// connection, and see the caller give up.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
	case Cut:
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close()
		}
	default:
		p.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), exchangeKey{}, e)))
	}
}

// record keeps the upstream's answer, then holds it for the delay.
func (p *Proxy) record(resp *http.Response) error {
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	p.mu.Lock()
	if e, ok := resp.Request.Context().Value(exchangeKey{}).(*Exchange); ok {
		e.Status, e.Body = resp.StatusCode, body
	}
	delay := p.delay
	p.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-resp.Request.Context().Done():
		}
	}
	return nil
}
