// Command resourceserver runs the OAuth 2.0 resource server: the time
// endpoints, each guarded by a bearer token introspected at the
// authorization server.
package main

import (
	"context"
	"os"

	"github.com/oauth2ref/pkg/service"
)

func main() {
	service.Main("resourceserver", func(ctx context.Context) error {
		return run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	})
}
