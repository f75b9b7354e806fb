// Package app holds the webapp's use cases. For the curl flow: Login (get a
// token for a user by the password grant) and FetchTime (log in, then read
// the time with the token). For the browser: StartLogin, CompleteLogin, Home
// and Logout (the authorization code grant with PKCE, and a session that
// keeps the tokens). The outside services they need are declared in
// services.go and supplied by adapters; this package knows nothing of HTTP or
// OAuth libraries.
package app

// App is the webapp's use cases over the services they need.
type App struct {
	tokens TokenSource
	times  TimeReader
}

// New returns the use cases.
func New(tokens TokenSource, times TimeReader) *App {
	return &App{tokens: tokens, times: times}
}
