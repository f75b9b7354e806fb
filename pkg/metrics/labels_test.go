package metrics

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMethodLabel(t *testing.T) {
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"} {
		assert.Equal(t, m, methodLabel(m))
	}
	for _, m := range []string{"get", "PROPFIND", "", "GET ", "BREW"} {
		assert.Equal(t, "OTHER", methodLabel(m), m)
	}
}

func TestStatusLabel(t *testing.T) {
	assert.Equal(t, "200", statusLabel(200))
	assert.Equal(t, "599", statusLabel(599))
	for _, s := range []int{0, 99, 600, 799, -1} {
		assert.Equal(t, "other", statusLabel(s), s)
	}
}
