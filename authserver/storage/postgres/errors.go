package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/oauth2ref/authserver/internal/domain"
)

// mapErr turns a driver error into a domain error; it is the one place that
// knows pgx's errors. The cause stays wrapped, so a log shows it:
//
//   - no rows: domain.ErrNotFound;
//   - a unique violation: domain.ErrConflict;
//   - a database that is down, restarting, out of connections, too slow or
//     unreachable, and a closed pool: domain.ErrUnavailable;
//   - anything else is wrapped as it is.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return domain.ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == uniqueViolation:
			return fmt.Errorf("postgres: %w: %w", domain.ErrConflict, err)
		case unavailableCode(pgErr.Code), conflictCode(pgErr.Code):
			// A conflict still there after retryConflicts is load: the
			// request may be retried like any other that met an outage.
			return fmt.Errorf("postgres: %w: %w", domain.ErrUnavailable, err)
		}
		return fmt.Errorf("postgres: %w", err)
	}
	if unreachable(err) {
		return fmt.Errorf("postgres: %w: %w", domain.ErrUnavailable, err)
	}
	return fmt.Errorf("postgres: %w", err)
}

const uniqueViolation = "23505"

// conflictCode reports whether a SQLSTATE says the transaction lost a
// deadlock or serialization conflict and changed nothing.
func conflictCode(code string) bool {
	return code == "40001" || code == "40P01" // serialization_failure, deadlock_detected
}

// conflict reports whether err is such an abort.
func conflict(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && conflictCode(pgErr.Code)
}

// unavailableCode reports whether a SQLSTATE says the server cannot serve
// now, rather than that the statement is wrong.
func unavailableCode(code string) bool {
	switch code {
	case "53300", // too_many_connections
		"57014", // query_canceled: statement_timeout, or our cancel on timeout
		"57P01", // admin_shutdown
		"57P02", // crash_shutdown
		"57P03", // cannot_connect_now: starting up, shutting down, recovering
		"57P05", // idle_session_timeout
		"25006": // read_only_sql_transaction: a standby after a failover
		return true
	}
	return len(code) == 5 && code[:2] == "08" // connection_exception class
}

// unreachable reports whether err says the database could not be reached or
// answered too late.
func unreachable(err error) bool {
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) ||
		errors.As(err, &netErr) ||
		pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, puddle.ErrClosedPool) ||
		errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, net.ErrClosed) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) ||
		pgconn.SafeToRetry(err)
}
