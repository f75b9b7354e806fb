package redis

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/oauth2ref/pkg/redisoutage"
)

// ErrNotDurable is returned by CheckDurable for a Redis that would lose
// acknowledged writes when it restarts.
var ErrNotDurable = errors.New("redis does not keep its data across a restart")

// Persistence is what CheckDurable learnt of how Redis keeps its data.
type Persistence struct {
	// AOF is INFO persistence's aof_enabled:1.
	AOF bool
	// Fsync is CONFIG GET appendfsync: always, everysec or no; empty when
	// Redis refused CONFIG (managed services often do).
	Fsync string
}

// CheckDurable checks that a write Redis acknowledged survives a restart,
// kill -9 included, but for at most the last second: the append-only file
// is on with appendfsync everysec or always. Snapshots alone do not count,
// since everything after the last one is lost. It fails with an error
// matching ErrNotDurable, or domain.ErrUnavailable when Redis does not
// answer. When CONFIG is refused, an AOF alone passes and Fsync is empty:
// the caller should say that appendfsync could not be checked.
func (s *Store) CheckDurable(ctx context.Context) (Persistence, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var p Persistence
	info, err := s.client.Info(ctx, "persistence").Result()
	if err != nil {
		return p, mapErr(err)
	}
	p.AOF = infoField(info, "aof_enabled") == "1"
	if !p.AOF {
		return p, fmt.Errorf("%w: the append-only file is off (aof_enabled:0)", ErrNotDurable)
	}
	cfg, err := s.client.ConfigGet(ctx, "appendfsync").Result()
	if err != nil {
		if redisoutage.Is(err) {
			return p, mapErr(err)
		}
		return p, nil // CONFIG refused: the AOF is all we can see
	}
	p.Fsync = cfg["appendfsync"]
	switch p.Fsync {
	case "always", "everysec":
		return p, nil
	case "":
		return p, nil // CONFIG answered without the value: as if refused
	}
	return p, fmt.Errorf("%w: appendfsync is %q, so the last writes before a crash may be lost for as long as the kernel keeps them", ErrNotDurable, p.Fsync)
}

// infoField is a field of an INFO reply ("name:value" lines), or "".
func infoField(info, name string) string {
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), name+":"); ok {
			return v
		}
	}
	return ""
}
