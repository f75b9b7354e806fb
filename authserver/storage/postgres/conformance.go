package postgres

import (
	"github.com/oauth2ref/authserver/internal/adapters/jwtkeys"
	"github.com/oauth2ref/authserver/internal/app"
)

// The capabilities the use cases declare, all of which a Store offers.
var (
	_ app.ClientFinder         = (*Store)(nil)
	_ app.UserFinder           = (*Store)(nil)
	_ app.UserStore            = (*Store)(nil)
	_ app.RefreshTokenStore    = (*Store)(nil)
	_ app.RevocationStore      = (*Store)(nil)
	_ app.SessionStore         = (*Store)(nil)
	_ app.CodeStore            = (*Store)(nil)
	_ app.ConsentStore         = (*Store)(nil)
	_ app.UserClientRevoker    = (*Store)(nil)
	_ app.UserRevoker          = (*Store)(nil)
	_ app.ClientRegistry       = (*Store)(nil)
	_ app.UserDirectory        = (*Store)(nil)
	_ app.ClientRevoker        = (*Store)(nil)
	_ app.ClientConsentDeleter = (*Store)(nil)
	_ app.AuditLog             = (*Store)(nil)
	_ jwtkeys.Store            = (*Store)(nil)
	_ app.Limiter              = (*Limiter)(nil)
)
