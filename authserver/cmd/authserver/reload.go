package main

import (
	"context"

	"go.uber.org/zap"

	"github.com/oauth2ref/authserver"
)

// reloadFixtures is the authserver's own part of a reload: the fixture
// files, loaded again all or nothing (see authserver.ReloadFixtures). The
// log levels and the memory limit are service.ReloadStep's; every other
// changed setting waits for a restart.
func reloadFixtures(srv *authserver.Server) func(ctx context.Context, next Config) ([]zap.Field, error) {
	return func(ctx context.Context, next Config) ([]zap.Field, error) {
		fields := []zap.Field{zap.Strings("fixture_files", next.Fixtures)}
		if len(next.Fixtures) == 0 {
			return fields, nil
		}
		sum, err := srv.ReloadFixtures(ctx, next.Fixtures...)
		if err != nil {
			return nil, err
		}
		return append(fields, zap.Int("scopes_written", sum.ScopesWritten),
			zap.Strings("clients_added", sum.ClientsAdded), zap.Strings("clients_changed", sum.ClientsChanged),
			zap.Int("clients_unchanged", sum.ClientsUnchanged),
			zap.Int("users_written", sum.UsersWritten), zap.Int("users_unchanged", sum.UsersUnchanged)), nil
	}
}
