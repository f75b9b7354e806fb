// Command report turns the JSON lines scripts/bench.sh collects (one per
// scenario) into a Markdown table on stdout and one JSON document (-out). It
// exits 1 if any scenario had a non-2xx answer, a socket error, a timeout or
// a bad answer (an introspection that was not active).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"
)

// line is one line of bench.sh's results file.
type line struct {
	Kind        string  `json:"kind"` // wrk, memory or rss
	Scenario    string  `json:"scenario"`
	Server      string  `json:"server"`
	URL         string  `json:"url,omitempty"`
	Threads     int     `json:"threads,omitempty"`
	Connections int     `json:"connections,omitempty"`
	Duration    string  `json:"duration,omitempty"`
	Timeout     string  `json:"timeout,omitempty"`
	Note        string  `json:"note,omitempty"`
	RSSBeforeKB int64   `json:"rss_before_kb,omitempty"`
	RSSAfterKB  int64   `json:"rss_after_kb,omitempty"`
	RSSKB       int64   `json:"rss_kb,omitempty"`
	Distinct    int64   `json:"distinct_tokens,omitempty"`
	Warmup      int64   `json:"warmup_requests,omitempty"`
	Baseline    string  `json:"baseline,omitempty"` // scenario to compare rps with
	CPU         *cpu    `json:"cpu,omitempty"`
	HeapBefore  *heap   `json:"heap_before,omitempty"`
	HeapAfter   *heap   `json:"heap_after,omitempty"`
	Wrk         *wrkOut `json:"wrk,omitempty"`
	Mint        *mint   `json:"mint,omitempty"`
}

// heap is the authserver's Go heap from its /metrics.
type heap struct {
	AllocBytes  float64 `json:"heap_alloc_bytes"`
	NextGCBytes float64 `json:"next_gc_bytes"`
	GOGC        float64 `json:"gogc"`
}

// liveMB estimates the live heap at the last GC: the runtime sets the next
// goal to about live * (1 + GOGC/100).
func (h *heap) liveMB() float64 {
	if h == nil || h.GOGC <= 0 {
		return 0
	}
	return h.NextGCBytes / (1 + h.GOGC/100) / (1 << 20)
}

func (h *heap) allocMB() float64 {
	if h == nil {
		return 0
	}
	return h.AllocBytes / (1 << 20)
}

// cpu is what bench.sh measured around the measured run, in clock ticks.
type cpu struct {
	ClkTck      float64          `json:"clk_tck"`
	CPUs        int              `json:"cpus"`
	Servers     map[string]int64 `json:"servers"`      // each started process
	MachineBusy int64            `json:"machine_busy"` // all CPUs, /proc/stat
	WrkSeconds  float64          `json:"wrk_seconds"`  // wrk's user+system time
}

// wrkOut is what bench.lua's done() prints; times in microseconds.
type wrkOut struct {
	Requests      int64   `json:"requests"`
	DurationUS    float64 `json:"duration_us"`
	Bytes         int64   `json:"bytes"`
	P50US         float64 `json:"p50_us"`
	P90US         float64 `json:"p90_us"`
	P99US         float64 `json:"p99_us"`
	MeanUS        float64 `json:"mean_us"`
	MaxUS         float64 `json:"max_us"`
	StatusErrors  int64   `json:"status_errors"` // wrk counts status >= 400
	Timeouts      int64   `json:"timeouts"`
	ConnectErrors int64   `json:"connect_errors"`
	ReadErrors    int64   `json:"read_errors"`
	WriteErrors   int64   `json:"write_errors"`
	BadResponses  int64   `json:"bad_responses"`
	Checked       bool    `json:"checked"`
}

type mint struct {
	Mode      string  `json:"mode"`
	Requests  int64   `json:"requests"`
	OK        int64   `json:"ok"`
	Non2xx    int64   `json:"non2xx"`
	Errors    int64   `json:"errors"`
	FirstErr  string  `json:"first_error,omitempty"`
	Seconds   float64 `json:"seconds"`
	RPS       float64 `json:"rps"`
	Password  int64   `json:"password_grants,omitempty"`
	Rotations int64   `json:"rotations,omitempty"`
	RSS       *struct {
		BeforeKB int64 `json:"before_kb"`
		PeakKB   int64 `json:"peak_kb"`
		HWMKB    int64 `json:"hwm_kb"`
		AfterKB  int64 `json:"after_kb"`
	} `json:"rss,omitempty"`
}

// Scenario is one row of the output JSON.
type Scenario struct {
	Name        string   `json:"scenario"`
	Server      string   `json:"server"`
	URL         string   `json:"url"`
	Wrk         string   `json:"wrk"`
	RPS         float64  `json:"rps"`
	Requests    int64    `json:"requests"`
	P50MS       float64  `json:"p50_ms"`
	P90MS       float64  `json:"p90_ms"`
	P99MS       float64  `json:"p99_ms"`
	MeanMS      float64  `json:"mean_ms"`
	MaxMS       float64  `json:"max_ms"`
	Non2xx      int64    `json:"non2xx"`
	Errors      errCount `json:"errors"`
	RSSBeforeMB float64  `json:"rss_before_mb"`
	RSSAfterMB  float64  `json:"rss_after_mb"`
	Baseline    string   `json:"baseline,omitempty"`
	Ratio       *float64 `json:"ratio_to_baseline,omitempty"`
	// CPURatio is this scenario's server CPU per request over the baseline's.
	CPURatio *float64 `json:"cpu_per_request_ratio_to_baseline,omitempty"`
	Note     string   `json:"note,omitempty"`
	Distinct int64    `json:"distinct_tokens,omitempty"`
	// CPU time of the measured run: per request, summed over every server
	// process (the one under test and those it calls), and how many cores
	// the servers, wrk and everything else on the machine used on average.
	CPUPerRequestUS float64            `json:"server_cpu_us_per_request"`
	ServerCPUMS     map[string]float64 `json:"server_cpu_ms"`
	ServerCores     float64            `json:"server_cores"`
	WrkCores        float64            `json:"wrk_cores"`
	OtherCores      float64            `json:"other_cores"`
}

type errCount struct {
	Connect  int64 `json:"connect"`
	Read     int64 `json:"read"`
	Write    int64 `json:"write"`
	Timeout  int64 `json:"timeout"`
	Inactive int64 `json:"bad_answers"` // 2xx without the expected body
}

func (e errCount) total() int64 { return e.Connect + e.Read + e.Write + e.Timeout + e.Inactive }

func (e errCount) String() string {
	if e.total() == 0 {
		return "0"
	}
	var parts []string
	for _, p := range []struct {
		n    int64
		what string
	}{{e.Connect, "connect"}, {e.Read, "read"}, {e.Write, "write"}, {e.Timeout, "timeout"}, {e.Inactive, "bad answer"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	return fmt.Sprintf("%d (%s)", e.total(), strings.Join(parts, ", "))
}

// Memory is one phase of the memory scenario in the output JSON.
type Memory struct {
	Name     string  `json:"scenario"`
	Note     string  `json:"note"`
	Requests int64   `json:"requests"`
	Non2xx   int64   `json:"non2xx"`
	Errors   int64   `json:"errors"`
	FirstErr string  `json:"first_error,omitempty"`
	Seconds  float64 `json:"seconds"`
	RPS      float64 `json:"rps"`
	BeforeMB float64 `json:"rss_before_mb"`
	PeakMB   float64 `json:"rss_peak_mb"`
	HWMMB    float64 `json:"vmhwm_mb"`
	AfterMB  float64 `json:"rss_after_mb"`
	// Go heap from /metrics: allocated (live + not yet collected) and the
	// live heap at the last GC (estimated from the next GC goal).
	HeapAllocAfterMB float64 `json:"heap_alloc_after_mb"`
	LiveBeforeMB     float64 `json:"live_heap_before_mb"`
	LiveAfterMB      float64 `json:"live_heap_after_mb"`
}

// Output is the document written to -out.
type Output struct {
	GeneratedAt string     `json:"generated_at"`
	Storage     string     `json:"storage"`
	Host        host       `json:"host"`
	Scenarios   []Scenario `json:"scenarios,omitempty"`
	Memory      []Memory   `json:"memory,omitempty"`
	IdleRSS     []idleRSS  `json:"idle_rss,omitempty"`
	Notes       []string   `json:"notes,omitempty"`
	Failed      []string   `json:"failed"`
}

type host struct {
	CPUs   int    `json:"cpus"`
	GOOS   string `json:"goos"`
	GOARCH string `json:"goarch"`
}

type idleRSS struct {
	Name        string  `json:"scenario"`
	MB          float64 `json:"rss_mb"`
	HeapAllocMB float64 `json:"heap_alloc_mb"`
	LiveMB      float64 `json:"live_heap_mb"`
}

func main() {
	in := flag.String("in", "", "results file, one JSON object a line")
	out := flag.String("out", "", "write the JSON document here")
	storage := flag.String("storage", "memory", "storage backend, for the record")
	order := flag.String("order", "", "comma-separated scenario names: the table's row order (others follow)")
	flag.Parse()

	lines, err := read(*in)
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(2)
	}
	doc := build(lines, *storage)
	sortScenarios(doc.Scenarios, strings.Split(*order, ","))
	if err := render(os.Stdout, doc); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(2)
	}
	if *out != "" {
		raw, _ := json.MarshalIndent(doc, "", "  ")
		//nolint:gosec // G306: benchmark results, for anyone to read
		if err := os.WriteFile(*out, append(raw, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(2)
		}
	}
	if len(doc.Failed) > 0 {
		os.Exit(1)
	}
}

func read(path string) ([]line, error) {
	f, err := os.Open(path) //nolint:gosec // G304: the file named by -in
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // opened for reading: a close error loses nothing
	var out []line
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		out = append(out, l)
	}
	return out, sc.Err()
}

func mb(kb int64) float64 { return float64(kb) / 1024 }

func build(lines []line, storage string) Output {
	doc := Output{
		GeneratedAt: time.Now().UTC().Format(time.RFC3339),
		Storage:     storage,
		Host:        host{CPUs: runtime.NumCPU(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH},
		Failed:      []string{},
	}
	rps := map[string]float64{}
	for _, l := range lines {
		switch l.Kind {
		case "wrk":
			w := l.Wrk
			s := Scenario{
				Name: l.Scenario, Server: l.Server, URL: l.URL,
				Wrk:      fmt.Sprintf("-t%d -c%d -d%s --timeout %s", l.Threads, l.Connections, l.Duration, l.Timeout),
				Requests: w.Requests,
				P50MS:    w.P50US / 1000, P90MS: w.P90US / 1000, P99MS: w.P99US / 1000,
				MeanMS: w.MeanUS / 1000, MaxMS: w.MaxUS / 1000,
				Non2xx: w.StatusErrors,
				Errors: errCount{Connect: w.ConnectErrors, Read: w.ReadErrors, Write: w.WriteErrors,
					Timeout: w.Timeouts, Inactive: w.BadResponses},
				RSSBeforeMB: mb(l.RSSBeforeKB), RSSAfterMB: mb(l.RSSAfterKB),
				Baseline: l.Baseline, Note: l.Note, Distinct: l.Distinct,
			}
			if w.DurationUS > 0 {
				s.RPS = float64(w.Requests) / (w.DurationUS / 1e6)
			}
			if c := l.CPU; c != nil && c.ClkTck > 0 && w.DurationUS > 0 {
				secs := w.DurationUS / 1e6
				s.ServerCPUMS = map[string]float64{}
				var total float64
				for name, ticks := range c.Servers {
					s.ServerCPUMS[name] = float64(ticks) / c.ClkTck * 1000
					total += float64(ticks) / c.ClkTck
				}
				if w.Requests > 0 {
					s.CPUPerRequestUS = total * 1e6 / float64(w.Requests)
				}
				s.ServerCores = total / secs
				s.WrkCores = c.WrkSeconds / secs
				s.OtherCores = max(0, (float64(c.MachineBusy)/c.ClkTck-total-c.WrkSeconds)/secs)
			}
			if l.Distinct == 1 {
				s.Note += fmt.Sprintf(" The same token for all %d requests (%d warm-up + %d measured).", l.Warmup+w.Requests, l.Warmup, w.Requests)
			} else if l.Distinct > 1 {
				used := l.Warmup + w.Requests
				s.Note += fmt.Sprintf(" %d distinct tokens for %d requests (%d warm-up + %d measured; the measured run starts past the warm-up's tokens)",
					l.Distinct, used, l.Warmup, w.Requests)
				if used > l.Distinct {
					s.Note += fmt.Sprintf("; the list wrapped, so each token was used about %.1f times, %d requests apart", float64(used)/float64(l.Distinct), l.Distinct)
				} else {
					s.Note += "; no token was used twice"
				}
				s.Note += "."
			}
			rps[s.Name] = s.RPS
			if s.Non2xx > 0 || s.Errors.total() > 0 {
				doc.Failed = append(doc.Failed, fmt.Sprintf("%s: %d non-2xx, errors %s", s.Name, s.Non2xx, s.Errors))
			}
			doc.Scenarios = append(doc.Scenarios, s)
		case "memory":
			m := l.Mint
			row := Memory{Name: l.Scenario, Note: l.Note, Requests: m.Requests, Non2xx: m.Non2xx, Errors: m.Errors,
				FirstErr: m.FirstErr, Seconds: m.Seconds, RPS: m.RPS,
				HeapAllocAfterMB: l.HeapAfter.allocMB(), LiveBeforeMB: l.HeapBefore.liveMB(), LiveAfterMB: l.HeapAfter.liveMB()}
			if m.RSS != nil {
				row.BeforeMB, row.PeakMB, row.HWMMB, row.AfterMB = mb(m.RSS.BeforeKB), mb(m.RSS.PeakKB), mb(m.RSS.HWMKB), mb(m.RSS.AfterKB)
			}
			if m.Non2xx > 0 || m.Errors > 0 {
				doc.Failed = append(doc.Failed, fmt.Sprintf("%s: %d non-2xx, %d errors (first: %s)", l.Scenario, m.Non2xx, m.Errors, m.FirstErr))
			}
			doc.Memory = append(doc.Memory, row)
		case "rss":
			doc.IdleRSS = append(doc.IdleRSS, idleRSS{Name: l.Scenario, MB: mb(l.RSSKB),
				HeapAllocMB: l.HeapAfter.allocMB(), LiveMB: l.HeapAfter.liveMB()})
		case "note":
			doc.Notes = append(doc.Notes, l.Note)
		}
	}
	cpuPerReq := map[string]float64{}
	for _, s := range doc.Scenarios {
		cpuPerReq[s.Name] = s.CPUPerRequestUS
	}
	for i, s := range doc.Scenarios {
		if base, ok := rps[s.Baseline]; ok && base > 0 {
			r := s.RPS / base
			doc.Scenarios[i].Ratio = &r
		}
		if base := cpuPerReq[s.Baseline]; base > 0 && s.CPUPerRequestUS > 0 {
			r := s.CPUPerRequestUS / base
			doc.Scenarios[i].CPURatio = &r
		}
	}
	return doc
}

// sortScenarios puts the scenarios in the given order, the others after
// them in the order they ran.
func sortScenarios(ss []Scenario, order []string) {
	rank := map[string]int{}
	for i, name := range order {
		rank[name] = i + 1
	}
	key := func(s Scenario) int {
		if r, ok := rank[s.Name]; ok {
			return r
		}
		return len(order) + 1
	}
	sort.SliceStable(ss, func(i, j int) bool { return key(ss[i]) < key(ss[j]) })
}

// render writes doc as Markdown tables to out. It builds the text in memory
// first, so that one write, checked, reports whether out took it.
func render(out io.Writer, doc Output) error {
	w := &strings.Builder{}
	if len(doc.Scenarios) > 0 {
		fmt.Fprintf(w, "\n### Throughput (storage: %s, %d CPUs, wrk on the same machine, keep-alive, loopback)\n\n", doc.Storage, doc.Host.CPUs)
		fmt.Fprintln(w, "| scenario | rps | p50 ms | p99 ms | non-2xx | errors | RSS before→after MB | ratio to baseline | server CPU µs/req | cores: servers / wrk / other | wrk |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---|---|---|---:|---|---|")
		for _, s := range doc.Scenarios {
			ratio := "—"
			if s.Ratio != nil {
				ratio = fmt.Sprintf("%.2f (vs %s)", *s.Ratio, s.Baseline)
				if s.CPURatio != nil {
					ratio += fmt.Sprintf("; CPU/req ×%.2f", *s.CPURatio)
				}
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %d | %s | %.1f→%.1f | %s | %s | %.2f / %.2f / %.2f | %s |\n",
				s.Name, thousands(s.RPS), ms(s.P50MS), ms(s.P99MS), s.Non2xx, s.Errors, s.RSSBeforeMB, s.RSSAfterMB,
				ratio, thousands(s.CPUPerRequestUS), s.ServerCores, s.WrkCores, s.OtherCores, s.Wrk)
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, "- server CPU µs/req: user+system time of every server process started (the one under test and those it calls) over the measured run, per request. Cores: average over the run of the servers, wrk, and everything else on the machine (%d CPUs); \"other\" above ~0.1 means outside load skewed the run.\n", doc.Host.CPUs)
		fmt.Fprintln(w, "- non-2xx is wrk's count (status >= 400); errors are socket connect/read/write errors, timeouts, and for introspection 2xx answers without \"active\":true.")
		for _, s := range doc.Scenarios {
			if s.Note != "" {
				fmt.Fprintf(w, "- %s: %s\n", s.Name, s.Note)
			}
		}
	}
	if len(doc.Memory) > 0 {
		fmt.Fprintf(w, "\n### Memory (authserver, storage: %s)\n\n", doc.Storage)
		fmt.Fprintln(w, "| phase | requests | rps | non-2xx | errors | RSS before MB | RSS peak MB | VmHWM MB | RSS after MB | Go live heap before→after MB | Go heap alloc after MB |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
		for _, m := range doc.Memory {
			fmt.Fprintf(w, "| %s | %s | %s | %d | %d | %.1f | %.1f | %.1f | %.1f | %.1f→%.1f | %.1f |\n",
				m.Name, thousands(float64(m.Requests)), thousands(m.RPS), m.Non2xx, m.Errors, m.BeforeMB, m.PeakMB, m.HWMMB, m.AfterMB,
				m.LiveBeforeMB, m.LiveAfterMB, m.HeapAllocAfterMB)
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w, "- RSS peak: highest VmRSS sampled every 50 ms; VmHWM: the kernel's peak since the process started. Go live heap: what the last GC found reachable (next GC goal / (1 + GOGC/100), from /metrics); RSS above it is garbage or freed memory the runtime has not returned to the OS yet.")
		for _, m := range doc.Memory {
			fmt.Fprintf(w, "- %s: %s\n", m.Name, m.Note)
		}
		for _, r := range doc.IdleRSS {
			fmt.Fprintf(w, "- %s: RSS %.1f MB, Go live heap %.1f MB, heap alloc %.1f MB\n", r.Name, r.MB, r.LiveMB, r.HeapAllocMB)
		}
	}
	for _, n := range doc.Notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
	if len(doc.Failed) > 0 {
		fmt.Fprintln(w, "\nFAILED:")
		for _, f := range doc.Failed {
			fmt.Fprintln(w, "  -", f)
		}
	}
	_, err := io.WriteString(out, w.String())
	return err
}

func ms(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func thousands(v float64) string {
	if v < 100 && v != float64(int64(v)) {
		return fmt.Sprintf("%.1f", v)
	}
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
