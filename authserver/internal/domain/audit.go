package domain

import "time"

// AuditEvent is one security-relevant event: a token issued, refused or
// revoked, a login, a change to a client, an account or a grant. It names who
// and what, never a secret, a password or a token.
type AuditEvent struct {
	Time     time.Time
	Type     AuditType
	ClientID string
	UserID   string
	Outcome  AuditOutcome
	// Detail says more: the grant type, the error code, the changed field.
	Detail string
}

// AuditType names what happened.
type AuditType string

// The audited events, as they appear in the audit log's "event" field.
const (
	AuditTokenIssued    AuditType = "token.issued"
	AuditTokenRefused   AuditType = "token.refused"
	AuditTokenRevoked   AuditType = "token.revoked"
	AuditLoginSucceeded AuditType = "login.succeeded"
	AuditLoginFailed    AuditType = "login.failed"
	AuditConsentGiven   AuditType = "consent.given"
	AuditGrantRevoked   AuditType = "grant.revoked"
	AuditUserCreated    AuditType = "user.created"
	AuditSessionsEnded  AuditType = "sessions.ended"
	AuditClientCreated  AuditType = "client.created"
	AuditClientChanged  AuditType = "client.changed"
	AuditClientDeleted  AuditType = "client.deleted"
	AuditUserChanged    AuditType = "user.changed"
	AuditUserDeleted    AuditType = "user.deleted"
	AuditSessionStarted AuditType = "session.started"
	AuditSessionChanged AuditType = "session.changed"
)

// AuditOutcome is whether the action succeeded.
type AuditOutcome string

// The two outcomes of an audited action.
const (
	OutcomeSuccess AuditOutcome = "success"
	OutcomeFailure AuditOutcome = "failure"
)
