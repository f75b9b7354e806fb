package redis

import (
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/pkg/redisoutage"
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
	case redisoutage.Is(err):
		return fmt.Errorf("redis: %w: %w", domain.ErrUnavailable, err)
	}
	return fmt.Errorf("redis: %w", err)
}
