package precis

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUsername(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"alice", "alice"},
		{"Alice", "alice"},
		{"ALICE", "alice"},
		{"ａｌｉｃｅ", "alice"},          // fullwidth letters are width-mapped
		{"Jose\u0301", "jos\u00e9"}, // decomposed é is composed (NFC)
		{"user.name+tag@example.com", "user.name+tag@example.com"},
	} {
		got, err := Rules{}.Username(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
	for _, bad := range []string{"", "a b", "tab\there", "nul\x00", "\u00a0"} {
		_, err := Rules{}.Username(bad)
		assert.Error(t, err, "%q", bad)
	}
}

// Every printable ASCII password is its own prepared form, so hashes made
// before passwords were prepared still verify.
func TestASCIIPasswordsAreUnchanged(t *testing.T) {
	var all strings.Builder
	for c := byte(0x20); c < 0x7f; c++ {
		all.WriteByte(c)
	}
	for _, pw := range []string{all.String(), "alice-password", "correct horse battery staple", "  spaces  "} {
		got, err := Rules{}.Password(pw)
		require.NoError(t, err, "%q", pw)
		assert.Equal(t, pw, got)
	}
}

func TestPassword(t *testing.T) {
	got, err := Rules{}.Password("pass\u00a0word")
	require.NoError(t, err)
	assert.Equal(t, "pass word", got, "a non-breaking space is a space")
	got, err = Rules{}.Password("Jose\u0301")
	require.NoError(t, err)
	assert.Equal(t, "Jos\u00e9", got, "NFC, case kept")
	_, err = Rules{}.Password("bell\x07")
	assert.Error(t, err, "control characters are refused")
}
