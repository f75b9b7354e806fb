package httpserver

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/oauth2ref/pkg/httpserver/servertest"
)

// activatedChild names the variable that makes the test binary, started
// again by TestServeOnAnInheritedSocket, play a socket-activated service.
const activatedChild = "HTTPSERVER_TEST_ACTIVATED_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(activatedChild) == "1" {
		os.Exit(serveInherited())
	}
	os.Exit(m.Run())
}

// serveInherited is the child process: it serves on the socket it was
// given until it is killed, and answers every request with its pid.
func serveInherited() int {
	ln, err := Inherited(os.Getenv)
	if err != nil || ln == nil {
		fmt.Fprintln(os.Stderr, "no inherited socket:", err)
		return 2
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, strconv.Itoa(os.Getpid()))
	})
	// An address nobody can listen on: only the inherited socket works.
	if err := Serve(context.Background(), DefaultConfig("192.0.2.1:1"), h, zap.NewNop(), nil, ln); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func TestServeOnAnInheritedSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	f, err := ln.(*net.TCPListener).File()
	require.NoError(t, err)

	var stderr servertest.Buffer
	cmd := exec.Command(os.Args[0], "-test.run=^$") //nolint:gosec // G702: the test binary itself, re-run as the child
	cmd.Env = []string{activatedChild + "=1", "LISTEN_FDS=1"}
	cmd.ExtraFiles = []*os.File{f} // fd 3
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	require.NoError(t, f.Close())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited //nolint:errcheck // the child was killed; only its exit is awaited
	})

	// The socket is open from the start: the request waits in its backlog
	// until the child accepts it, however long the child takes to start.
	type answer struct {
		body string
		err  error
	}
	answers := make(chan answer, 1)
	go func() {
		resp, err := (&http.Client{Timeout: time.Minute}).Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			answers <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		answers <- answer{string(b), err}
	}()
	select {
	case a := <-answers:
		require.NoError(t, a.err)
		assert.Equal(t, strconv.Itoa(cmd.Process.Pid), a.body, "the child served on the socket it inherited")
	case err := <-exited:
		exited <- err // for the cleanup
		t.Fatalf("the child exited: %v\n%s", err, stderr.String())
	}
}

func TestInheritedReadsTheProtocol(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{name: "no socket passed", env: map[string]string{}},
		{name: "none of them", env: map[string]string{"LISTEN_FDS": "0"}},
		{name: "meant for another process", env: map[string]string{"LISTEN_FDS": "1", "LISTEN_PID": strconv.Itoa(os.Getpid() + 1)}},
		{name: "two sockets", env: map[string]string{"LISTEN_FDS": "2"}, wantErr: "one socket"},
		{name: "not a number", env: map[string]string{"LISTEN_FDS": "three"}, wantErr: "not a number"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// None of these cases may touch fd 3: in this process it is not
			// a socket meant for us.
			ln, err := Inherited(func(k string) string { return tc.env[k] })
			assert.Nil(t, ln)
			if tc.wantErr == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tc.wantErr)
			}
		})
	}
}
