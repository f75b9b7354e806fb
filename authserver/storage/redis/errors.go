package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oauth2ref/authserver/internal/domain"
)

// mapErr turns a go-redis error into a domain error; it is the one place
// that knows the driver's errors. The cause stays wrapped, so a log shows it:
//
//   - redis.Nil (no such key): domain.ErrNotFound;
//   - a Redis that is down, unreachable, too slow, loading its data set, a
//     read-only replica, out of clients, or a closed client:
//     domain.ErrUnavailable;
//   - anything else is wrapped as it is.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, goredis.Nil):
		return domain.ErrNotFound
	case unavailable(err):
		return fmt.Errorf("redis: %w: %w", domain.ErrUnavailable, err)
	}
	return fmt.Errorf("redis: %w", err)
}

func unavailable(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) || // refused, reset, timeouts, DNS
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, goredis.ErrClosed) ||
		errors.Is(err, goredis.ErrPoolTimeout) ||
		errors.Is(err, goredis.ErrPoolExhausted) ||
		errors.Is(err, net.ErrClosed) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) ||
		goredis.IsLoadingError(err) ||
		goredis.IsReadOnlyError(err) ||
		goredis.IsMaxClientsError(err) ||
		goredis.IsMasterDownError(err) ||
		goredis.IsClusterDownError(err) ||
		goredis.IsTryAgainError(err) ||
		late(err)
}

// late reports a script's refusal to run after its caller's deadline: the
// caller timed out, so the outcome is the same as a timeout's.
func late(err error) bool {
	var re goredis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "LATE ")
}
