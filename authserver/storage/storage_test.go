package storage_test

import (
	"context"
	"strings"
	"testing"

	"github.com/oauth2ref/authserver/storage"
)

func TestValidate(t *testing.T) {
	withGroups := func(default_ storage.Backend, groups map[storage.Group]storage.Backend, dsn, url string) storage.Config {
		c := storage.Defaults()
		c.Default, c.Groups = default_, groups
		c.Postgres.DSN, c.Redis.URL = dsn, url
		return c
	}
	cases := []struct {
		name string
		cfg  storage.Config
		want string // "" for valid
	}{
		{"zero value is all memory", storage.Config{}, ""},
		{"defaults", storage.Defaults(), ""},
		{"postgres with redis sessions", withGroups(storage.Postgres, map[storage.Group]storage.Backend{storage.Sessions: storage.Redis}, "postgres://x", "redis://x"), ""},
		{"redis as default", withGroups(storage.Redis, nil, "", "redis://x"), "default backend"},
		{"users in redis", withGroups(storage.Memory, map[storage.Group]storage.Backend{storage.Users: storage.Redis}, "", "redis://x"), "cannot live in redis"},
		{"unknown group", withGroups(storage.Memory, map[storage.Group]storage.Backend{"tokens": storage.Memory}, "", ""), "unknown data group"},
		{"unknown backend", withGroups(storage.Memory, map[storage.Group]storage.Backend{storage.Codes: "mysql"}, "", ""), "unknown backend"},
		{"postgres without DSN", withGroups(storage.Postgres, nil, "", ""), "Postgres.DSN is empty"},
		{"redis without URL", withGroups(storage.Memory, map[storage.Group]storage.Backend{storage.Codes: storage.Redis}, "", ""), "Redis.URL is empty"},
		{"durable clients need a cache TTL", storage.Config{Default: storage.Postgres, Postgres: storage.PostgresConfig{DSN: "postgres://x"}}, "ClientCacheTTL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate: %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Validate: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// Open refuses an invalid placement before it connects to anything.
func TestOpenValidatesFirst(t *testing.T) {
	cfg := storage.Defaults()
	cfg.Groups[storage.Users] = storage.Redis
	cfg.Redis.URL = "redis://192.0.2.1:6379/0" // TEST-NET: would hang if dialled
	if _, err := storage.Open(context.Background(), cfg, storage.Env{}); err == nil || !strings.Contains(err.Error(), "cannot live in redis") {
		t.Fatalf("Open: %v, want the placement refused", err)
	}
}

// With every group in memory, Open makes memory stores and needs nothing.
func TestOpenMemory(t *testing.T) {
	set, err := storage.Open(context.Background(), storage.Defaults(), storage.Env{})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	st := set.Stores()
	if st.Clients == nil || st.Users == nil || st.Sessions == nil || st.Codes == nil || st.Rates == nil {
		t.Fatalf("memory set leaves groups unplaced: %+v", st)
	}
	if st.Keys != nil || st.Audit != nil {
		t.Fatalf("keys and audit in memory should be left to the server (key file, JSON log): %+v", st)
	}
}
