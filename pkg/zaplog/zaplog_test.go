package zaplog

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewWritesJSONWithRequestFields(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, "info")
	require.NoError(t, err)

	f := &RequestFields{RequestID: "req-1"}
	ctx := WithFields(context.Background(), f)
	SetClientID(ctx, "client-a")
	SetUserID(ctx, "user-b")
	For(ctx, log).Info("hello")
	log.Debug("hidden below info")
	require.NoError(t, log.Sync())

	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	require.Len(t, lines, 1, "debug line must be filtered at info level")
	var entry map[string]any
	require.NoError(t, json.Unmarshal(lines[0], &entry))
	assert.Equal(t, "hello", entry["msg"])
	assert.Equal(t, "info", entry["level"])
	assert.Equal(t, "req-1", entry["request_id"])
	assert.Equal(t, "client-a", entry["client_id"])
	assert.Equal(t, "user-b", entry["user_id"])
	assert.NotEmpty(t, entry["time"])
}

func TestFieldsOutsideRequest(t *testing.T) {
	ctx := context.Background()
	SetClientID(ctx, "ignored") // must not panic without fields
	assert.Nil(t, Fields(ctx))

	ctx = WithFields(ctx, &RequestFields{RequestID: "r"})
	assert.Len(t, Fields(ctx), 1, "unknown client and user are left out")
}

func TestNewRejectsUnknownLevel(t *testing.T) {
	_, err := New(&bytes.Buffer{}, "loud")
	assert.ErrorContains(t, err, "loud")
}

func TestNewBufferedFlushesOnSync(t *testing.T) {
	var buf bytes.Buffer
	log, err := NewBuffered(&buf, "info")
	require.NoError(t, err)
	log.Info("held")
	assert.Empty(t, buf.String(), "buffered until a flush")
	require.NoError(t, log.Sync())
	assert.Contains(t, buf.String(), `"msg":"held"`)
}

func TestLevelsChangeWhileRunning(t *testing.T) {
	var buf bytes.Buffer
	log, levels, err := Config{Level: "info", AccessLevel: "debug"}.Open(&buf)
	require.NoError(t, err)
	assert.Equal(t, "info", levels.Log.Level().String())
	assert.Equal(t, "debug", levels.Access.Level().String())

	log.Debug("hidden")
	require.NoError(t, levels.Set(Config{Level: "debug", AccessLevel: "warn"}))
	log.Debug("shown")
	require.NoError(t, log.Sync())
	assert.NotContains(t, buf.String(), "hidden")
	assert.Contains(t, buf.String(), `"msg":"shown"`)
	assert.Equal(t, "warn", levels.Access.Level().String())

	err = levels.Set(Config{Level: "error", AccessLevel: "loud"})
	assert.ErrorContains(t, err, "loud")
	assert.Equal(t, "debug", levels.Log.Level().String(), "a bad level changes neither")
}
