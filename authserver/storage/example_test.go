package storage_test

import (
	"context"
	"log"
	"net/http"
	"time"

	"github.com/oauth2ref/authserver"
	"github.com/oauth2ref/authserver/storage"
)

// Sessions and codes in Redis, everything else in PostgreSQL. (No Output:
// it needs both servers; the integration tests run the same calls.)
func ExampleOpen() {
	if err := serve(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func serve(ctx context.Context) error {
	cfg := storage.Defaults()
	cfg.Default = storage.Postgres
	cfg.Groups[storage.Sessions] = storage.Redis
	cfg.Groups[storage.Codes] = storage.Redis
	cfg.Postgres.DSN = "postgres://oauth2ref@127.0.0.1:5432/oauth2ref"
	cfg.Redis.URL = "redis://127.0.0.1:6379/0"

	set, err := storage.Open(ctx, cfg, storage.Env{})
	if err != nil {
		return err
	}
	defer set.Close() // after srv.Close: the server never closes what it was given

	srv, err := authserver.New(ctx, authserver.WithStores(set.Stores()))
	if err != nil {
		return err
	}
	defer srv.Close()
	hs := &http.Server{Addr: "127.0.0.1:8080", Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	return hs.ListenAndServe()
}
