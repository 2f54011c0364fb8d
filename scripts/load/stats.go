package main

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Kinds of request in the mix, in report order.
const (
	kindLogin   = "login"
	kindRefresh = "refresh"
	kindRead    = "read"
	kindMark    = "mark attendance"
	kindPay     = "payment"
)

var kindOrder = []string{kindLogin, kindRefresh, kindRead, kindMark, kindPay}

// recorder collects every timed request of the run. Each virtual user keeps its own samples and merges them
// at the end, so recording costs no lock on the hot path.
type recorder struct {
	mu      sync.Mutex
	samples map[string][]time.Duration
	// errors counts failed requests by kind and status ("transport" when no answer came).
	errors map[string]map[string]int
	// examples keeps the first answer of each failure, to make a failed run explainable.
	examples map[string]string
}

func newRecorder() *recorder {
	return &recorder{samples: map[string][]time.Duration{}, errors: map[string]map[string]int{}, examples: map[string]string{}}
}

// local is one virtual user's share of the recording.
type local struct {
	samples map[string][]time.Duration
	errors  map[string]map[string]int
	example map[string]string
}

func newLocal() *local {
	return &local{samples: map[string][]time.Duration{}, errors: map[string]map[string]int{}, example: map[string]string{}}
}

func (l *local) ok(kind string, d time.Duration) { l.samples[kind] = append(l.samples[kind], d) }

func (l *local) fail(kind, status, detail string, d time.Duration) {
	l.samples[kind] = append(l.samples[kind], d)
	if l.errors[kind] == nil {
		l.errors[kind] = map[string]int{}
	}
	l.errors[kind][status]++
	key := kind + " " + status
	if _, seen := l.example[key]; !seen {
		l.example[key] = detail
	}
}

func (r *recorder) merge(l *local) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, s := range l.samples {
		r.samples[k] = append(r.samples[k], s...)
	}
	for k, m := range l.errors {
		if r.errors[k] == nil {
			r.errors[k] = map[string]int{}
		}
		for st, n := range m {
			r.errors[k][st] += n
		}
	}
	for k, v := range l.example {
		if _, seen := r.examples[k]; !seen {
			r.examples[k] = v
		}
	}
}

// summary is the figures of one kind (or of all).
type summary struct {
	Kind               string
	Count, Errors      int
	P50, P90, P99, Max time.Duration
	PerSecond          float64
	ErrorsByStatus     map[string]int
}

func summarise(kind string, ds []time.Duration, errs map[string]int, elapsed time.Duration) summary {
	s := summary{Kind: kind, Count: len(ds), ErrorsByStatus: errs}
	for _, n := range errs {
		s.Errors += n
	}
	if len(ds) == 0 {
		return s
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	at := func(q float64) time.Duration { return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))] }
	s.P50, s.P90, s.P99, s.Max = at(0.50), at(0.90), at(0.99), sorted[len(sorted)-1]
	s.PerSecond = float64(len(ds)) / elapsed.Seconds()
	return s
}

// result is the whole run's outcome.
type result struct {
	Elapsed  time.Duration
	Kinds    []summary
	Total    summary
	Examples map[string]string
	// CPU is the process's CPU time during the run (zero when unknown).
	CPU time.Duration
}

func (r *recorder) result(elapsed time.Duration) result {
	r.mu.Lock()
	defer r.mu.Unlock()
	var res result
	res.Elapsed = elapsed
	var all []time.Duration
	allErrs := map[string]int{}
	for _, k := range kindOrder {
		ds := r.samples[k]
		if len(ds) == 0 {
			continue
		}
		res.Kinds = append(res.Kinds, summarise(k, ds, r.errors[k], elapsed))
		all = append(all, ds...)
		for st, n := range r.errors[k] {
			allErrs[st] += n
		}
	}
	res.Total = summarise("all", all, allErrs, elapsed)
	res.Examples = r.examples
	return res
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }

// print writes the report as a Markdown table, ready for BENCHMARKS.md.
func (res result) print(w io.Writer) {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%d requests in %.1f s: %.0f requests/s, %d errors\n", res.Total.Count, res.Elapsed.Seconds(), res.Total.PerSecond, res.Total.Errors)
	if res.CPU > 0 && res.Total.Count > 0 {
		fmt.Fprintf(&b, "process CPU %.1f s (%.2f cores busy): %.0f µs per request, %.0f requests per CPU-second\n",
			res.CPU.Seconds(), res.CPU.Seconds()/res.Elapsed.Seconds(), float64(res.CPU.Microseconds())/float64(res.Total.Count), float64(res.Total.Count)/res.CPU.Seconds())
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| kind | requests | per second | p50 ms | p90 ms | p99 ms | max ms | errors |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|---|---|")
	for _, s := range append(slices.Clone(res.Kinds), res.Total) {
		fmt.Fprintf(&b, "| %s | %d | %.0f | %s | %s | %s | %s | %s |\n", s.Kind, s.Count, s.PerSecond, ms(s.P50), ms(s.P90), ms(s.P99), ms(s.Max), errorList(s.ErrorsByStatus))
	}
	if len(res.Examples) > 0 {
		fmt.Fprintln(&b, "\nFirst answer of each failure:")
		keys := make([]string, 0, len(res.Examples))
		for k := range res.Examples {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "  %s: %s\n", k, res.Examples[k])
		}
	}
	_, _ = io.WriteString(w, b.String())
}

func errorList(m map[string]int) string {
	if len(m) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d × %s", m[k], k))
	}
	return strings.Join(parts, ", ")
}
