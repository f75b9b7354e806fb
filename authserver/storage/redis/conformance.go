package redis

import "github.com/oauth2ref/authserver/internal/app"

// The capabilities the use cases declare that a Store offers.
var (
	_ app.CodeStore       = (*Store)(nil)
	_ app.SessionStore    = (*Store)(nil)
	_ app.RevocationStore = (*Store)(nil)
	_ app.Limiter         = (*Limiter)(nil)
)
