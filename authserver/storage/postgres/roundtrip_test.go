package postgres

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/authserver/storage/storagetest"
)

// filled returns a T with every field set to something other than its zero
// value, so that a field added to the domain and forgotten here fails the
// round trip below.
func filled[T any](t *testing.T) T {
	t.Helper()
	var v T
	fill(t, reflect.ValueOf(&v).Elem())
	return v
}

// fill sets every field of the struct rv, and of the structs in it.
func fill(t *testing.T, rv reflect.Value) {
	t.Helper()
	for i := 0; i < rv.NumField(); i++ {
		f, name := rv.Field(i), rv.Type().Field(i).Name
		switch {
		case f.Type() == reflect.TypeOf(time.Time{}):
			f.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 678000, time.UTC).Add(time.Duration(i) * time.Second)))
		case f.Type() == reflect.TypeOf(time.Duration(0)):
			f.SetInt(int64(time.Duration(i+1) * time.Second))
		case f.Kind() == reflect.String:
			f.SetString(name + "-value")
		case f.Kind() == reflect.Bool:
			f.SetBool(true)
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
			s := reflect.MakeSlice(f.Type(), 2, 2)
			s.Index(0).SetString("a-" + name)
			s.Index(1).SetString("b-" + name)
			f.Set(s)
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Uint8:
			f.SetBytes([]byte(name))
		case f.Kind() == reflect.Int:
			f.SetInt(int64(i + 7))
		case f.Kind() == reflect.Float64:
			f.SetFloat(float64(i) + 0.25)
		case f.Kind() == reflect.Struct:
			fill(t, f)
		default:
			t.Fatalf("filled: no value for %s %s", name, f.Type())
		}
	}
}

func TestEveryFieldRoundTrips(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, storagetest.NewClock())

	t.Run("client", func(t *testing.T) {
		c := filled[domain.Client](t)
		require.NoError(t, s.SaveClient(ctx, c))
		got, err := s.FindClient(ctx, c.ID)
		require.NoError(t, err)
		assert.Equal(t, c, got)
	})
	t.Run("user", func(t *testing.T) {
		u := filled[domain.User](t)
		require.NoError(t, s.SaveUser(ctx, u))
		got, err := s.FindUser(ctx, u.ID)
		require.NoError(t, err)
		assert.Equal(t, u, got)
	})
	t.Run("refresh token", func(t *testing.T) {
		rt := filled[domain.RefreshToken](t)
		require.NoError(t, s.CreateRefreshToken(ctx, rt))
		got, err := s.FindRefreshToken(ctx, rt.Hash)
		require.NoError(t, err)
		assert.Equal(t, rt, got)
	})
	t.Run("session", func(t *testing.T) {
		sess := filled[domain.Session](t)
		require.NoError(t, s.CreateSession(ctx, sess))
		got, err := s.FindSession(ctx, sess.Hash)
		require.NoError(t, err)
		assert.Equal(t, sess, got)
	})
	t.Run("code", func(t *testing.T) {
		c := filled[domain.AuthorizationCode](t)
		require.NoError(t, s.CreateCode(ctx, c))
		got, _, err := s.ClaimCode(ctx, c.Hash, "attempt", c.ExpiresAt)
		require.NoError(t, err)
		assert.Equal(t, c, got)
	})
	t.Run("consent", func(t *testing.T) {
		c := filled[domain.Consent](t)
		require.NoError(t, s.SaveConsent(ctx, c))
		got, err := s.FindConsent(ctx, c.UserID, c.ClientID)
		require.NoError(t, err)
		assert.Equal(t, c, got)
	})
	t.Run("audit event", func(t *testing.T) {
		e := filled[domain.AuditEvent](t)
		require.NoError(t, s.Record(ctx, e))
		got, err := s.RecentAudit(ctx, 1)
		require.NoError(t, err)
		assert.Equal(t, []domain.AuditEvent{e}, got)
	})
	t.Run("signing key", func(t *testing.T) {
		k := filled[domain.SigningKey](t)
		require.NoError(t, s.AddSigningKey(ctx, k))
		got, err := s.SigningKeys(ctx)
		require.NoError(t, err)
		assert.Equal(t, []domain.SigningKey{k}, got)
	})
}
