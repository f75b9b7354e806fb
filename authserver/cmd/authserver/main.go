// Command authserver runs the OAuth 2.0 authorization server.
package main

import (
	"context"
	"os"

	"github.com/oauth2ref/pkg/service"
)

func main() {
	service.Main("authserver", func(ctx context.Context) error {
		return run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	})
}
