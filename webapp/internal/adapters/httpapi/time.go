package httpapi

import (
	"net/http"

	"go.uber.org/zap"

	"github.com/oauth2ref/pkg/zaplog"
	"github.com/oauth2ref/webapp/internal/domain"
)

// handleTime serves one kind of time: it logs the user in at the
// authorization server and answers with what the resource server said.
func handleTime(kind domain.TimeKind, times TimeFetcher, demo domain.Credentials, clientID string, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		zaplog.SetClientID(ctx, clientID)
		creds, err := credentials(r, demo)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		ans, err := times.FetchTime(ctx, creds, kind)
		if authenticated(err) {
			zaplog.SetUserID(ctx, creds.Username)
		}
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeAnswer(w, ans)
	})
}

// authenticated reports whether the authorization server accepted the
// user's credentials: the call succeeded, or it got as far as the resource
// server. Only then is the username put in the logs; a refused "username"
// may well be a password typed into the wrong field.
func authenticated(err error) bool {
	return err == nil || domain.ServiceOf(err) == domain.ResourceServer
}
