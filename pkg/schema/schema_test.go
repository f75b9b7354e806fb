package schema

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const personSchema = `{
  "type": "object",
  "additionalProperties": false,
  "required": ["name"],
  "properties": {
    "name": {"type": "string", "minLength": 1},
    "age":  {"type": "integer", "minimum": 0},
    "tags": {"type": "array", "items": {"type": "string"}}
  }
}`

type person struct {
	Name string   `json:"name"`
	Age  int      `json:"age"`
	Tags []string `json:"tags"`
}

func TestDecode(t *testing.T) {
	s, err := Compile("person", []byte(personSchema))
	require.NoError(t, err)

	cases := []struct {
		name      string
		body      string
		wantField string
		wantMsg   string
	}{
		{name: "valid", body: `{"name":"ann","age":3,"tags":["x"]}`},
		{name: "missing required", body: `{"age":3}`, wantField: "", wantMsg: "name"},
		{name: "wrong type", body: `{"name":"ann","age":"three"}`, wantField: "/age", wantMsg: "integer"},
		{name: "below minimum", body: `{"name":"ann","age":-1}`, wantField: "/age", wantMsg: ">= 0"},
		{name: "unknown field", body: `{"name":"ann","x":1}`, wantField: "", wantMsg: "x"},
		{name: "nested", body: `{"name":"ann","tags":[1]}`, wantField: "/tags/0", wantMsg: "string"},
		{name: "not json", body: `{"name":`, wantField: "", wantMsg: "invalid JSON"},
		{name: "empty", body: ``, wantField: "", wantMsg: "empty"},
		{name: "trailing data", body: `{"name":"a"} {}`, wantField: "", wantMsg: "after the document"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p person
			err := s.DecodeJSON(strings.NewReader(tc.body), &p)
			if tc.wantMsg == "" {
				require.NoError(t, err)
				assert.Equal(t, person{Name: "ann", Age: 3, Tags: []string{"x"}}, p)
				return
			}
			var se *Error
			require.True(t, errors.As(err, &se), "want *schema.Error, got %v", err)
			require.NotEmpty(t, se.Fields)
			assert.Equal(t, tc.wantField, se.Fields[0].Field)
			assert.Contains(t, se.Error(), tc.wantMsg)
		})
	}
}

func TestFieldErrorCarriesScalarValue(t *testing.T) {
	s, err := Compile("person", []byte(personSchema))
	require.NoError(t, err)
	err = s.DecodeBytes([]byte(`{"name":"ann","age":-7}`), nil)
	var se *Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "-7", se.Fields[0].Value.(interface{ String() string }).String())
}

func TestCompileRejectsBrokenSchema(t *testing.T) {
	_, err := Compile("broken", []byte(`{"type": 12}`))
	assert.Error(t, err)
}
