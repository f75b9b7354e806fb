package httpserver

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/oauth2ref/pkg/httpserver/servertest"
	"github.com/oauth2ref/pkg/metrics"
	"github.com/oauth2ref/pkg/zaplog"
)

func TestMetricsBehindAToken(t *testing.T) {
	log, err := zaplog.New(&bytes.Buffer{}, "error")
	require.NoError(t, err)
	token := "scrape-token-0123456789"
	r := NewRouter(Stack{Log: log, MaxBodyBytes: 16, Metrics: metrics.New(), MetricsAccess: MetricsConfig{Token: token}})
	for name, c := range map[string]struct {
		auth []string
		want int
	}{
		"no token":        {nil, 401},
		"wrong token":     {[]string{"Bearer scrape-token-0123456780"}, 401},
		"a prefix of it":  {[]string{"Bearer scrape-token"}, 401},
		"basic scheme":    {[]string{"Basic " + token}, 401},
		"two headers":     {[]string{"Bearer " + token, "Bearer " + token}, 401},
		"the token":       {[]string{"Bearer " + token}, 200},
		"scheme any case": {[]string{"bearer " + token}, 200},
	} {
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			for _, a := range c.auth {
				req.Header.Add("Authorization", a)
			}
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			assert.Equal(t, c.want, rec.Code)
			if c.want == 401 {
				assert.Equal(t, `Bearer realm="metrics"`, rec.Header().Get("WWW-Authenticate"))
				assert.NotContains(t, rec.Body.String(), "go_goroutines")
			} else {
				assert.Contains(t, rec.Body.String(), "go_goroutines")
			}
		})
	}
}

func TestMetricsOnTheirOwnListener(t *testing.T) {
	var logs servertest.Buffer
	log, err := zaplog.New(&logs, "info")
	require.NoError(t, err)
	m := metrics.New()
	mc := MetricsConfig{Addr: "127.0.0.1:0", Token: "scrape-token-0123456789"}
	r := NewRouter(Stack{Log: log, MaxBodyBytes: 16, Health: NewHealth(), Metrics: m, MetricsAccess: mc})
	public := httptest.NewServer(r)
	defer public.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeAll(ctx, MetricsServer(DefaultConfig(""), mc, m, log, ln)) }()

	get := func(url, token string) (int, string) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, _ := get(public.URL+"/healthz", "")
	require.Equal(t, 200, status)
	status, _ = get(public.URL+"/metrics", mc.Token)
	assert.Equal(t, 404, status, "not on the public router")

	private := "http://" + ln.Addr().String()
	status, body := get(private+"/metrics", mc.Token)
	assert.Equal(t, 200, status)
	assert.Contains(t, body, `http_requests_total{code="200",method="GET",route="/healthz"} 1`)
	status, _ = get(private+"/metrics", "")
	assert.Equal(t, 401, status, "the token is still asked for")
	status, _ = get(private+"/healthz", mc.Token)
	assert.Equal(t, 404, status, "nothing else is served there")

	cancel()
	require.NoError(t, <-done)
	assert.Contains(t, logs.String(), `"msg":"metrics listening"`)
	assert.NotContains(t, logs.String(), `"msg":"listening"`, "the main listener's line is left to the main listener")
}

func TestMetricsServerIsNilOnThePublicRouter(t *testing.T) {
	assert.Nil(t, MetricsServer(DefaultConfig(""), MetricsConfig{}, metrics.New(), zap.NewNop(), nil))
}

func TestServeAllStopsTheOthersWhenOneFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	taken := MetricsServer(DefaultConfig(""), MetricsConfig{Addr: ln.Addr().String()}, metrics.New(), zap.NewNop(), nil)
	stopped := make(chan struct{})
	err = ServeAll(context.Background(), func(ctx context.Context) error {
		<-ctx.Done()
		close(stopped)
		return nil
	}, taken, nil)
	assert.ErrorContains(t, err, "listen", "the metrics address is taken")
	<-stopped
}
