package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fence is one fenced code block of the README.
type fence struct {
	info string // "sh", "json", "text", ...
	body string
	line int
}

func readFences(t *testing.T, path string) []fence {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []fence
	var cur *fence
	var body []string
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			if cur == nil {
				cur = &fence{info: strings.TrimSpace(strings.TrimPrefix(line, "```")), line: n}
				body = nil
			} else {
				cur.body = strings.Join(body, "\n")
				out = append(out, *cur)
				cur = nil
			}
			continue
		}
		if cur != nil {
			body = append(body, line)
		}
	}
	require.NoError(t, sc.Err())
	return out
}

// example is a runnable sh block and the output block that follows it.
type example struct {
	cmd  fence
	want *fence
}

// TestReadmeExamples runs every `sh` block of README.md, in order, in one
// shell, against the real binaries, and checks each against the json or
// text block after it: the same keys (and the same values for the keys a
// reader acts on), or the same status line, headers and body lines.
func TestReadmeExamples(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is needed to run the README examples", tool)
			}
			t.Skipf("%s not installed: the README's curl examples cannot run here", tool)
		}
	}
	fences := readFences(t, filepath.Join(repoRoot, "README.md"))
	var examples []example
	for i, f := range fences {
		if f.info != "sh" {
			continue
		}
		ex := example{cmd: f}
		if i+1 < len(fences) && (fences[i+1].info == "json" || fences[i+1].info == "text") {
			ex.want = &fences[i+1]
		}
		examples = append(examples, ex)
	}
	require.NotEmpty(t, examples)

	// The README's 5 s tokens, as users get them: no lifetime cap here.
	s := startSystemWith(t, map[string]string{"AUTHSERVER_TOKENS_MAX_ACCESS_TTL": "1h"})
	rewrite := strings.NewReplacer("localhost:5001", s.auth.addr, "localhost:5002", s.rs.addr, "localhost:5003", s.web.addr,
		// Where ./scripts/run.sh keeps the authserver's data (admin-cli's
		// secret): the test's own data directory.
		"data/authserver/", envOf(s.auth, "AUTHSERVER_DATA_DIR")+"/")

	var script strings.Builder
	script.WriteString("set -e -o pipefail\n")
	for i, ex := range examples {
		script.WriteString(rewrite.Replace(ex.cmd.body))
		fmt.Fprintf(&script, "\nprintf '\\n@@END %d@@\\n'\n", i)
	}
	cmd := exec.Command("bash", "-c", script.String())
	cmd.Env = childEnv(nil)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the README's examples failed to run:\n%s", out)

	outputs := splitOutputs(string(out), len(examples))
	for i, ex := range examples {
		t.Run(fmt.Sprintf("README line %d", ex.cmd.line), func(t *testing.T) {
			got := strings.TrimSpace(outputs[i])
			if ex.want == nil {
				return
			}
			switch ex.want.info {
			case "json":
				compareJSON(t, ex.want.body, got)
			case "text":
				compareText(t, ex.want.body, got)
			}
		})
	}
}

func splitOutputs(out string, n int) []string {
	res := make([]string, n)
	rest := out
	for i := 0; i < n; i++ {
		marker := fmt.Sprintf("@@END %d@@", i)
		j := strings.Index(rest, marker)
		if j < 0 {
			break
		}
		res[i], rest = rest[:j], rest[j+len(marker):]
	}
	return res
}

// Values a reader acts on; the rest (tokens, times, ids) differ per run.
var stableKeys = map[string]bool{"error": true, "active": true, "token_type": true, "scope": true, "service": true, "kty": true, "alg": true, "use": true, "crv": true, "expires_in": true}

func compareJSON(t *testing.T, want, got string) {
	t.Helper()
	var w, g map[string]any
	require.NoError(t, json.Unmarshal([]byte(want), &w), "README example output is not JSON")
	require.NoError(t, json.Unmarshal([]byte(got), &g), "command printed %q", got)
	compareObjects(t, "", w, g)
}

func compareObjects(t *testing.T, path string, w, g map[string]any) {
	t.Helper()
	assert.Equal(t, keys(w), keys(g), "keys of %s", orRoot(path))
	for k, wv := range w {
		gv := g[k]
		switch wv := wv.(type) {
		case map[string]any:
			if gm, ok := gv.(map[string]any); ok {
				compareObjects(t, path+"."+k, wv, gm)
			}
		case []any:
			ga, ok := gv.([]any)
			if ok && len(wv) > 0 && len(ga) > 0 {
				if wm, ok := wv[0].(map[string]any); ok {
					if gm, ok := ga[0].(map[string]any); ok {
						compareObjects(t, path+"."+k+"[0]", wm, gm)
					}
				} else if k != "keys" {
					assert.ElementsMatch(t, wv, ga, "%s.%s", orRoot(path), k)
				}
			}
		default:
			if stableKeys[k] {
				assert.Equal(t, wv, gv, "%s.%s", orRoot(path), k)
			}
		}
	}
}

func orRoot(p string) string {
	if p == "" {
		return "the answer"
	}
	return p
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var headerLine = regexp.MustCompile(`^([A-Za-z-]+): (.*)$`)

func compareText(t *testing.T, want, got string) {
	t.Helper()
	gotLines := strings.Split(strings.ReplaceAll(got, "\r\n", "\n"), "\n")
	has := func(pred func(string) bool) bool {
		for _, l := range gotLines {
			if pred(l) {
				return true
			}
		}
		return false
	}
	for _, wl := range strings.Split(want, "\n") {
		wl = strings.TrimSpace(wl)
		switch {
		case wl == "":
		case strings.HasPrefix(wl, "HTTP/"):
			status := strings.Fields(wl)[1]
			assert.True(t, has(func(l string) bool { return strings.HasPrefix(l, "HTTP/") && strings.Fields(l)[1] == status }),
				"status %s not in %q", status, got)
		case headerLine.MatchString(wl):
			m := headerLine.FindStringSubmatch(wl)
			assert.True(t, has(func(l string) bool {
				g := headerLine.FindStringSubmatch(strings.TrimSpace(l))
				return g != nil && strings.EqualFold(g[1], m[1]) && g[2] == m[2]
			}), "header %q not in %q", wl, got)
		case strings.HasPrefix(wl, "http") && strings.Contains(wl, "?"):
			// A redirect: same place, same parameters, same state; the
			// code and the issuer's address differ per run.
			want, _ := url.Parse(wl)
			assert.True(t, has(func(l string) bool {
				g, err := url.Parse(strings.TrimSpace(l))
				if err != nil || g.Path != want.Path {
					return false
				}
				return assert.ObjectsAreEqual(queryKeys(want.Query()), queryKeys(g.Query())) &&
					g.Query().Get("state") == want.Query().Get("state")
			}), "no redirect like %q in %q", wl, got)
		default:
			assert.True(t, has(func(l string) bool { return strings.TrimSpace(l) == wl }), "line %q not in %q", wl, got)
		}
	}
}

func queryKeys(q url.Values) []string {
	out := make([]string, 0, len(q))
	for k := range q {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
