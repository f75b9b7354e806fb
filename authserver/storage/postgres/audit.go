package postgres

import (
	"context"
	"time"

	"github.com/oauth2ref/authserver/internal/domain"
)

// Audit: PostgreSQL keeps the durable audit trail. Each event carries a
// random id with a unique index on it, so storing an event again (a replay
// after an outage or a crash) changes nothing.

// AuditRecord is an audit event with the id that makes storing it
// idempotent.
type AuditRecord struct {
	ID    [16]byte
	Event domain.AuditEvent
}

// Record appends one event under a new random id.
func (s *Store) Record(ctx context.Context, e domain.AuditEvent) error {
	_, err := s.exec(ctx, `INSERT INTO audit_log (event_id, occurred_at, event_type, client_id, user_id, outcome, detail)
		VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6)`,
		e.Time, string(e.Type), e.ClientID, e.UserID, string(e.Outcome), e.Detail)
	return err
}

// AppendAudit stores records in one statement, in their order, and skips
// those whose id is stored already. It is how the audit committer writes
// a batch and replays its spool: one round trip per batch, and a replay
// that stops half way can simply run again.
func (s *Store) AppendAudit(ctx context.Context, recs []AuditRecord) error {
	if len(recs) == 0 {
		return nil
	}
	var (
		ids                                  = make([][16]byte, len(recs))
		times                                = make([]time.Time, len(recs))
		types, clients, users, outs, details = make([]string, len(recs)), make([]string, len(recs)),
			make([]string, len(recs)), make([]string, len(recs)), make([]string, len(recs))
	)
	for i, r := range recs {
		ids[i], times[i] = r.ID, r.Event.Time
		types[i], clients[i], users[i] = string(r.Event.Type), r.Event.ClientID, r.Event.UserID
		outs[i], details[i] = string(r.Event.Outcome), r.Event.Detail
	}
	_, err := s.exec(ctx, `INSERT INTO audit_log (event_id, occurred_at, event_type, client_id, user_id, outcome, detail)
		SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
		ON CONFLICT (event_id) DO NOTHING`,
		ids, times, types, clients, users, outs, details)
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
