package memlimit

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/pkg/schema"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]int64{
		"": 0, "off": 0, "80MiB": 80 << 20, "1GiB": 1 << 30, "16777216": 16 << 20, "20000KiB": 20000 << 10, "33554432B": 32 << 20,
	} {
		got, err := Parse(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"80", "80MB", "-1MiB", "lots", "9999999999TiB", "1MiB"} {
		_, err := Parse(in)
		assert.Error(t, err, in)
	}
}

func TestSchemaMatchesParse(t *testing.T) {
	s, err := schema.Compile("runtime.json", []byte(ConfigSchema))
	require.NoError(t, err)
	for doc, ok := range map[string]bool{
		`{"memory_limit": "80MiB"}`: true, `{"memory_limit": "off"}`: true, `{"memory_limit": ""}`: true,
		`{"memory_limit": "80MB"}`: false, `{"memory_limit": "80 MiB"}`: false, `{"memory_limit": 80}`: false,
	} {
		var c Config
		assert.Equal(t, ok, s.DecodeBytes([]byte(doc), &c) == nil, doc)
	}
}

func TestApply(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	noEnv := func(string) string { return "" }

	a, err := Config{MemoryLimit: "80MiB"}.Apply(noEnv)
	require.NoError(t, err)
	assert.Equal(t, Applied{Limit: 80 << 20, Source: "config"}, a)
	assert.Equal(t, int64(80<<20), debug.SetMemoryLimit(-1))

	_, err = Config{MemoryLimit: "8"}.Apply(noEnv)
	assert.Error(t, err)
	assert.Equal(t, int64(80<<20), debug.SetMemoryLimit(-1), "an error changes nothing")

	env := func(k string) string {
		if k == "GOMEMLIMIT" {
			return "123MiB"
		}
		return ""
	}
	a, err = Config{MemoryLimit: "200MiB"}.Apply(env)
	require.NoError(t, err)
	assert.Equal(t, "GOMEMLIMIT", a.Source, "the environment wins")
	assert.Equal(t, int64(80<<20), debug.SetMemoryLimit(-1), "and the runtime keeps what it has")

	a, err = Config{MemoryLimit: "off"}.Apply(noEnv)
	require.NoError(t, err)
	assert.Equal(t, Applied{Source: "none"}, a)
	assert.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1), "a reload to none lifts the limit")
}
