// Package faulttest breaks the authserver's backends on purpose, for tests:
// a private redis-server that can be paused (a real stall), killed and
// restarted on the same data; a TCP proxy that cuts or stalls the way to a
// server; a PostgreSQL table held locked; a fresh PostgreSQL database.
// Nothing here touches the shared servers other tests use: faults happen
// on a private process, behind a proxy, or in a database of the test's own.
//
// Every helper cleans up when the test ends. A server the helper needs and
// cannot find (no redis-server binary, no PostgreSQL) skips the test with a
// one-line reason, or fails it under CI=true, where everything must run.
package faulttest

import (
	"os"
	"testing"
)

// Unavailable reports that something the test needs is missing: it skips
// the test, or fails it when CI=true.
func Unavailable(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf(format, args...)
	}
	tb.Skipf(format, args...)
}
