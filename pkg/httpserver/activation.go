package httpserver

import (
	"fmt"
	"net"
	"os"
	"strconv"
)

// firstInheritedFD is where a service manager puts the sockets it passes
// (SD_LISTEN_FDS_START in sd_listen_fds(3)).
const firstInheritedFD = 3

// Inherited returns the listening socket a service manager opened for this
// process, by systemd's socket activation protocol (sd_listen_fds(3)):
// LISTEN_FDS=1 says the socket is fd 3, and LISTEN_PID, when set, must be
// this process's id, else the variables were meant for another process.
// It returns nil when no socket was passed, and an error when more than one
// was, since a service serves on one. getenv is the process's environment.
func Inherited(getenv func(string) string) (net.Listener, error) {
	fds := getenv("LISTEN_FDS")
	if fds == "" {
		return nil, nil
	}
	if pid := getenv("LISTEN_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return nil, nil
	}
	n, err := strconv.Atoi(fds)
	switch {
	case err != nil || n < 0:
		return nil, fmt.Errorf("LISTEN_FDS=%q is not a number of sockets", fds)
	case n == 0:
		return nil, nil
	case n > 1:
		return nil, fmt.Errorf("LISTEN_FDS=%d: a service serves on one socket", n)
	}
	f := os.NewFile(firstInheritedFD, "LISTEN_FDS socket")
	// FileListener works on a duplicate; closing f leaves fd 3 free and
	// keeps it from reaching any process this one starts.
	defer func() { _ = f.Close() }()
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("LISTEN_FDS socket (fd %d): %w", firstInheritedFD, err)
	}
	return ln, nil
}
