// Command webapp runs the demo clients. The curl flow: each call to
// /current_time or /epoch_time gets a fresh token from the authorization
// server by the password grant and reads the time from the resource server.
// The browser demo (/, /login, /callback, /logout): the user signs in at the
// authorization server (authorization code grant with PKCE) and the home
// page reads their times with the tokens kept in a server-side session.
package main

import (
	"context"
	"os"

	"github.com/oauth2ref/pkg/service"
)

func main() {
	service.Main("webapp", func(ctx context.Context) error {
		return run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	})
}
