package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/oauth2ref/authserver/internal/domain"
)

// Audit: PostgreSQL keeps the durable audit trail, every event, in the
// order recorded.

// Record appends an event.
func (s *Store) Record(ctx context.Context, e domain.AuditEvent) error {
	_, err := s.exec(ctx, `INSERT INTO audit_log (occurred_at, event_type, client_id, user_id, outcome, detail)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		e.Time, string(e.Type), e.ClientID, e.UserID, string(e.Outcome), e.Detail)
	return err
}

// RecentAudit returns at most limit events, the last recorded first.
func (s *Store) RecentAudit(ctx context.Context, limit int) ([]domain.AuditEvent, error) {
	if limit <= 0 {
		return []domain.AuditEvent{}, nil
	}
	return queryAll(ctx, s, func(r row) (domain.AuditEvent, error) {
		var (
			e            domain.AuditEvent
			typ, outcome string
		)
		if err := r.Scan(&e.Time, &typ, &e.ClientID, &e.UserID, &outcome, &e.Detail); err != nil {
			return domain.AuditEvent{}, err
		}
		e.Time = utc(e.Time)
		e.Type, e.Outcome = domain.AuditType(typ), domain.AuditOutcome(outcome)
		return e, nil
	}, `SELECT occurred_at, event_type, client_id, user_id, outcome, detail FROM audit_log ORDER BY id DESC LIMIT $1`, limit)
}

// RecordMany appends events in one COPY: how the audit batcher writes, so
// that auditing every token issued costs the database one statement per
// batch, not one per token.
func (s *Store) RecordMany(ctx context.Context, events []domain.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows := make([][]any, len(events))
	for i, e := range events {
		rows[i] = []any{e.Time, string(e.Type), e.ClientID, e.UserID, string(e.Outcome), e.Detail}
	}
	_, err := s.pool.CopyFrom(ctx, pgx.Identifier{"audit_log"},
		[]string{"occurred_at", "event_type", "client_id", "user_id", "outcome", "detail"}, pgx.CopyFromRows(rows))
	return mapErr(err)
}
