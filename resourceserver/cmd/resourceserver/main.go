// Command resourceserver runs the OAuth 2.0 resource server: the time
// endpoints, each guarded by a bearer token introspected at the
// authorization server.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "resourceserver:", err)
		os.Exit(1)
	}
}
