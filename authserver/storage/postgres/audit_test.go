package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/authserver/storage/storagetest"
)

func TestAppendAuditIsIdempotent(t *testing.T) {
	s := newStore(t, storagetest.NewClock())
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	recs := []AuditRecord{
		{ID: [16]byte{1}, Event: domain.AuditEvent{Time: t0, Type: domain.AuditTokenIssued, ClientID: "a", Outcome: domain.OutcomeSuccess, Detail: "client_credentials"}},
		{ID: [16]byte{2}, Event: domain.AuditEvent{Time: t0.Add(time.Second), Type: domain.AuditTokenRefused, ClientID: "b", Outcome: domain.OutcomeFailure, Detail: "invalid_scope"}},
	}
	require.NoError(t, s.AppendAudit(ctx, recs))
	require.NoError(t, s.AppendAudit(ctx, nil))
	got, err := s.RecentAudit(ctx, 5)
	require.NoError(t, err)
	assert.Equal(t, []domain.AuditEvent{recs[1].Event, recs[0].Event}, got, "stored in order")

	// The same records again, with a new one between: only the new one is
	// stored.
	third := AuditRecord{ID: [16]byte{3}, Event: domain.AuditEvent{Time: t0, Type: domain.AuditLoginFailed, UserID: "u", Outcome: domain.OutcomeFailure}}
	require.NoError(t, s.AppendAudit(ctx, []AuditRecord{recs[0], third, recs[1]}))
	got, err = s.RecentAudit(ctx, 5)
	require.NoError(t, err)
	assert.Equal(t, []domain.AuditEvent{third.Event, recs[1].Event, recs[0].Event}, got)

	// Record gives each event an id of its own.
	require.NoError(t, s.Record(ctx, recs[0].Event))
	require.NoError(t, s.Record(ctx, recs[0].Event))
	var rows, ids int
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT event_id) FROM audit_log`).Scan(&rows, &ids))
	assert.Equal(t, 5, rows)
	assert.Equal(t, 5, ids)
}
