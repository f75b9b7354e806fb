package redis

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
}
