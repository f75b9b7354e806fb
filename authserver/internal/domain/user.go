package domain

import "time"

// User is a resource owner with an account on this server.
type User struct {
	// ID is stable and opaque; it is the "sub" of the user's tokens, so a
	// username can change without breaking resource servers.
	ID           string
	Username     string
	PasswordHash string
	// Admin lets the user, signed in, use the admin API (/api/admin):
	// manage every client and user.
	Admin bool
	// Disabled keeps the user from signing in by any door; disabling
	// also ends everything the user holds (see app.Admin.UpdateUser).
	Disabled  bool
	CreatedAt time.Time
	UpdatedAt time.Time
}
