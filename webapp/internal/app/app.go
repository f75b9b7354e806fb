// Package app holds the webapp's use cases: Login (get a token for a user by
// the password grant) and FetchTime (log in, then read the time with the
// token). The outside services they need are declared in services.go and
// supplied by adapters; this package knows nothing of HTTP or OAuth libraries.
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
