package app

import (
	"context"
	"errors"

	"github.com/oauth2ref/authserver/internal/domain"
)

// auditor stamps and records audit events. A failure to record never fails
// the request that caused the event: the AuditLog implementation reports
// its own failures (and the JSON log keeps the event).
type auditor struct {
	log AuditLog
	now Clock
}

func (a auditor) record(ctx context.Context, e domain.AuditEvent) {
	if a.log == nil {
		return
	}
	e.Time = a.now()
	_ = a.log.Record(ctx, e)
}

// outcome fills an event's outcome and detail from a use case's error: the
// protocol error code for a refusal ("throttled" for an attempt refused
// by the limits, "cancelled" when the caller went away), never its
// description (which may echo what the caller sent).
func outcome(e domain.AuditEvent, err error, success string) domain.AuditEvent {
	if err == nil {
		e.Outcome, e.Detail = domain.OutcomeSuccess, success
		return e
	}
	e.Outcome = domain.OutcomeFailure
	switch {
	case errors.Is(err, domain.ErrThrottled):
		e.Detail = "throttled" // refused before any secret was checked
		return e
	case errors.Is(err, context.Canceled):
		e.Detail = "cancelled" // the caller went away
		return e
	}
	if code := domain.CodeOf(err); code != "" {
		e.Detail = string(code)
	} else {
		e.Detail = "error"
	}
	return e
}
