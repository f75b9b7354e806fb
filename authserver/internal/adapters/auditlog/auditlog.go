// Package auditlog writes audit events to where they are kept: the JSON log
// (one line per event, for memory storage), or a database through a
// Committer, which stores each event durably before the request that caused
// it is answered.
package auditlog

import (
	"context"

	"go.uber.org/zap"

	"github.com/oauth2ref/authserver/internal/domain"
)

// Log writes each event as one JSON log line with msg "audit". It is as
// durable as the logger it writes to, no more: the authserver command's
// audit logger is buffered and flushed every second, so a crash loses up to
// a second of lines.
type Log struct {
	log *zap.Logger
}

// NewLog returns a Log writing to log.
func NewLog(log *zap.Logger) *Log { return &Log{log: log.WithOptions(zap.WithCaller(false))} }

// Record writes e as one log line at info level; it never fails.
func (l *Log) Record(_ context.Context, e domain.AuditEvent) error {
	l.write(e)
	return nil
}

func (l *Log) write(e domain.AuditEvent, extra ...zap.Field) {
	l.log.Info("audit", append([]zap.Field{
		zap.Time("at", e.Time),
		zap.String("event", string(e.Type)),
		zap.String("client_id", e.ClientID),
		zap.String("user_id", e.UserID),
		zap.String("outcome", string(e.Outcome)),
		zap.String("detail", e.Detail),
	}, extra...)...)
}

// sync pushes buffered lines to the log's output.
func (l *Log) sync() { _ = l.log.Sync() }
