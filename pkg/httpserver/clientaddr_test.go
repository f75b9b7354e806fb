package httpserver

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

func TestClientAddr(t *testing.T) {
	tp, err := ParseTrustedProxies([]string{"10.0.0.0/8", "::1", "192.168.1.7"})
	require.NoError(t, err)
	cases := []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"untrusted peer: headers ignored", "203.0.113.9:4000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"trusted peer, no header", "10.1.2.3:4000", nil, "10.1.2.3"},
		{"trusted peer names the client", "10.1.2.3:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"a spoofed entry left of the real one is skipped", "10.1.2.3:4000", []string{"6.6.6.6, 198.51.100.1"}, "198.51.100.1"},
		{"a chain of trusted proxies", "10.1.2.3:4000", []string{"198.51.100.1, 192.168.1.7", "10.9.9.9"}, "198.51.100.1"},
		{"IPv6 loopback proxy", "[::1]:4000", []string{"2001:db8::5"}, "2001:db8::5"},
		{"garbage stops the walk", "10.1.2.3:4000", []string{"198.51.100.1, not-an-ip"}, "10.1.2.3"},
		{"IPv4-mapped peer", "[::ffff:10.1.2.3]:4000", []string{"198.51.100.1"}, "198.51.100.1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			assert.Equal(t, tc.want, tp.ClientAddr(r).String())
		})
	}
	t.Run("no trusted proxies: always the peer", func(t *testing.T) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "10.1.2.3:1"
		r.Header.Set("X-Forwarded-For", "1.2.3.4")
		assert.Equal(t, "10.1.2.3", TrustedProxies(nil).ClientAddr(r).String())
	})
	t.Run("a flood of hops is read only so far", func(t *testing.T) {
		all, err := ParseTrustedProxies([]string{"0.0.0.0/0"})
		require.NoError(t, err)
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "10.1.2.3:1"
		r.Header.Set("X-Forwarded-For", strings.Repeat("10.0.0.1, ", 10000)+"10.0.0.2")
		assert.True(t, all.ClientAddr(r).IsValid())
	})
}

func TestParseTrustedProxiesRefusesGarbage(t *testing.T) {
	_, err := ParseTrustedProxies([]string{"10.0.0.0/33"})
	assert.Error(t, err)
	_, err = ParseTrustedProxies([]string{"example.com"})
	assert.Error(t, err)
}

func TestSourceKey(t *testing.T) {
	assert.Equal(t, "198.51.100.1", SourceKey(netip.MustParseAddr("198.51.100.1")))
	assert.Equal(t, "2001:db8:1:2::/64", SourceKey(netip.MustParseAddr("2001:db8:1:2:aaaa::1")))
	assert.Equal(t, SourceKey(netip.MustParseAddr("2001:db8:1:2::1")), SourceKey(netip.MustParseAddr("2001:db8:1:2:ffff::9")),
		"one /64, one source")
	assert.Equal(t, "unknown", SourceKey(netip.Addr{}))
	assert.Equal(t, "source:2001:db8:1:2::/64", string(AppendSourceKey([]byte("source:"), netip.MustParseAddr("2001:db8:1:2::7"))))
}

func TestRecordClientAddr(t *testing.T) {
	tp, err := ParseTrustedProxies([]string{"10.0.0.0/8"})
	require.NoError(t, err)
	var got netip.Addr
	var ok bool
	for _, record := range []bool{false, true} {
		r := NewRouter(Stack{Log: zap.NewNop(), MaxBodyBytes: 1024, RecordClientAddr: record, TrustedProxies: tp})
		r.Get("/", func(_ http.ResponseWriter, r *http.Request) { got, ok = ClientAddrFrom(r.Context()) })
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = "10.1.2.3:4000"
		req.Header.Set("X-Forwarded-For", "198.51.100.1")
		r.ServeHTTP(httptest.NewRecorder(), req)
		if !record {
			assert.False(t, ok, "not recorded unless asked")
			continue
		}
		require.True(t, ok)
		assert.Equal(t, "198.51.100.1", got.String())
	}
}
