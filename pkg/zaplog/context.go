package zaplog

import (
	"context"

	"go.uber.org/zap"
)

type ctxKey struct{}

// RequestFields are the identifiers a request's log lines carry. The request-id
// middleware puts one in the context; handlers fill ClientID and UserID once they
// know them, and the access log, which runs last, reads them all.
//
// It is a pointer shared down the handler chain because a context only carries
// values downward: the access log wraps the handler that learns the client.
// A request is served on one goroutine, so it needs no lock.
type RequestFields struct {
	RequestID string
	ClientID  string
	UserID    string
}

// WithFields returns a context carrying f.
func WithFields(ctx context.Context, f *RequestFields) context.Context {
	return context.WithValue(ctx, ctxKey{}, f)
}

// FieldsFrom returns the request's fields, or nil outside a request.
func FieldsFrom(ctx context.Context) *RequestFields {
	f, _ := ctx.Value(ctxKey{}).(*RequestFields)
	return f
}

// SetClientID records the authenticated client of the request, if there is one.
func SetClientID(ctx context.Context, id string) {
	if f := FieldsFrom(ctx); f != nil {
		f.ClientID = id
	}
}

// SetUserID records the authenticated user of the request, if there is one.
func SetUserID(ctx context.Context, id string) {
	if f := FieldsFrom(ctx); f != nil {
		f.UserID = id
	}
}

// Fields returns the zap fields for the request in ctx, leaving out the ones
// not known yet.
func Fields(ctx context.Context) []zap.Field {
	f := FieldsFrom(ctx)
	if f == nil {
		return nil
	}
	out := make([]zap.Field, 0, 3)
	if f.RequestID != "" {
		out = append(out, zap.String("request_id", f.RequestID))
	}
	if f.ClientID != "" {
		out = append(out, zap.String("client_id", f.ClientID))
	}
	if f.UserID != "" {
		out = append(out, zap.String("user_id", f.UserID))
	}
	return out
}

// For returns log with the request's fields attached.
func For(ctx context.Context, log *zap.Logger) *zap.Logger {
	return log.With(Fields(ctx)...)
}
