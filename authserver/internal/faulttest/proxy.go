package faulttest

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy is a TCP proxy on a loopback port in front of a server, so that a
// test can break the way to a shared server (PostgreSQL, say) without
// touching the server: Cut is a server that is down, Pause one that hangs.
type Proxy struct {
	target string
	ln     net.Listener

	mu      sync.Mutex
	cut     bool
	closed  bool
	resumed chan struct{} // non-nil while paused; closed by Resume
	links   map[*link]struct{}
}

// link is one client connection and its connection to the target.
type link struct {
	client, server net.Conn
	once           sync.Once
	done           chan struct{}
}

func (l *link) close() {
	l.once.Do(func() {
		close(l.done)
		_ = l.client.Close()
		_ = l.server.Close()
	})
}

// NewProxy listens on 127.0.0.1:0 and forwards every connection to target
// (host:port). It closes when the test ends.
func NewProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("faulttest: proxy: %v", err)
	}
	p := &Proxy{target: target, ln: ln, links: map[*link]struct{}{}}
	tb.Cleanup(p.close)
	go p.accept()
	return p
}

// Addr is the proxy's host:port, to put in a DSN or URL instead of the
// target's.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut drops every connection and refuses new ones (each is reset as soon
// as it is accepted), until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	p.dropLinks()
}

// Restore accepts and forwards connections again after Cut.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

// Pause stops moving bytes either way, keeping every connection open and
// accepting new ones: to a client the server has stalled. Bytes sent
// meanwhile are delivered on Resume.
func (p *Proxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resumed == nil {
		p.resumed = make(chan struct{})
	}
}

// Resume moves bytes again after Pause.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resumed != nil {
		close(p.resumed)
		p.resumed = nil
	}
}

func (p *Proxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.dropLinks()
	if p.resumed != nil {
		close(p.resumed)
		p.resumed = nil
	}
}

// dropLinks closes every link; p.mu is held.
func (p *Proxy) dropLinks() {
	for l := range p.links {
		l.close()
	}
	clear(p.links)
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		refuse := p.cut || p.closed
		p.mu.Unlock()
		if refuse {
			reset(c)
			continue
		}
		go p.serve(c)
	}
}

// reset closes c with a TCP RST, the nearest an open listener gets to a
// refused connection.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

func (p *Proxy) serve(c net.Conn) {
	d := net.Dialer{Timeout: 5 * time.Second}
	s, err := d.DialContext(context.Background(), "tcp", p.target)
	if err != nil {
		reset(c)
		return
	}
	l := &link{client: c, server: s, done: make(chan struct{})}
	p.mu.Lock()
	if p.cut || p.closed {
		p.mu.Unlock()
		reset(c)
		_ = s.Close()
		return
	}
	p.links[l] = struct{}{}
	p.mu.Unlock()
	go p.pipe(l, s, c)
	p.pipe(l, c, s)
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
}

// pipe copies from src to dst, holding each chunk while the proxy is
// paused, until either side closes; then it closes the link.
func (p *Proxy) pipe(l *link, dst, src net.Conn) {
	defer l.close()
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.waitResumed(l) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// waitResumed blocks while the proxy is paused; false if the link was
// closed meanwhile.
func (p *Proxy) waitResumed(l *link) bool {
	p.mu.Lock()
	ch := p.resumed
	p.mu.Unlock()
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	case <-l.done:
		return false
	}
}
