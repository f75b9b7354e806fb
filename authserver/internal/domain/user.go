package domain

import "time"

// User is a resource owner with an account on this server.
type User struct {
	// ID is stable and opaque; it is the "sub" of the user's tokens, so a
	// username can change without breaking resource servers.
	ID           string
	Username     string
	PasswordHash string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}
