package jsonw

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "https://x.example/a?b=c", `q"uote`, `back\slash`, "new\nline", "\x00", "zoë", "東京", "a\xffb", "<b>&"} {
		want, _ := json.Marshal(s)
		assert.Equal(t, string(want), string(String(nil, s)), s)
		assert.Equal(t, string(want[1:len(want)-1]), string(Raw(nil, s)), s)
	}
}
