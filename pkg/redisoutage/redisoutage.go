// Package redisoutage tells a Redis that is not there from a Redis that
// answered: both services keep data in Redis, and both turn the first kind
// into a fast 503 and treat the second as a bug.
package redisoutage

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	goredis "github.com/redis/go-redis/v9"
)

// gone are the errors of a Redis that cannot be reached or did not answer
// in time, and of a client already closed.
var gone = []error{
	context.DeadlineExceeded,
	goredis.ErrClosed, goredis.ErrPoolTimeout, goredis.ErrPoolExhausted,
	net.ErrClosed, io.EOF, io.ErrUnexpectedEOF,
	syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE,
}

// busy are the replies of a Redis that is there but cannot serve now.
var busy = []func(error) bool{
	goredis.IsLoadingError, goredis.IsReadOnlyError, goredis.IsMaxClientsError,
	goredis.IsMasterDownError, goredis.IsClusterDownError, goredis.IsTryAgainError,
	late,
}

// Is reports whether err says Redis is down, unreachable, too slow,
// loading its data set, a read-only replica, out of clients, or that the
// client is closed: an outage to wait out, not a wrong request.
func Is(err error) bool {
	var netErr net.Error
	if errors.As(err, &netErr) { // refused, reset, timeouts, DNS
		return true
	}
	for _, g := range gone {
		if errors.Is(err, g) {
			return true
		}
	}
	for _, b := range busy {
		if b(err) {
			return true
		}
	}
	return false
}

// late reports a script's refusal to run after its caller's deadline (the
// services' scripts answer "LATE ..." then): the caller timed out, so the
// outcome is a timeout's.
func late(err error) bool {
	var re goredis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "LATE ")
}
