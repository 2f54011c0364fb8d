// Command load drives edugrid with a realistic mix of requests from many institutions and reports
// throughput, latency percentiles per kind of request, and errors by status.
//
//	go run ./scripts/load                            # in-process stack, embedded engine in memory
//	go run ./scripts/load -engine file               # in-process stack, embedded engine in a directory under a temp dir
//	go run ./scripts/load -engine singlefile         # the same in the old single file rewritten on every commit
//	go run ./scripts/load -target http://127.0.0.1:8080 -admin-password …   # a stack already running
//
// Without -target it starts the local stack in this process on a loopback port (every API area, the
// change-data-capture pipeline unless -cdc=false). With -target it refuses any address that is not
// loopback: this is a load generator, and it must never be pointed at someone else's service.
//
// Setup (untimed) provisions -tenants institutions through the API, each with teachers, an accountant,
// batches with weekday sessions, -students students enrolled with a fee plan, and every past session
// marked once. Then -users virtual users (teachers and accountants spread over the institutions), started
// evenly over -ramp, each sign in once and send requests until -duration passes or -requests have been
// sent, back to back (closed loop), or with -rate on a fixed schedule that shares the rate among them
// (open loop; a request whose slot comes while the user still waits for the last one is sent late, and
// its latency counts from its slot, so a stack that falls behind shows it instead of slowing the load): mostly reads (student lists, dues, sessions, attendance summaries), attendance
// corrections, payments with an Idempotency-Key (a few sent twice, as a retrying client does) and a rare
// token refresh. The report counts every request from the first sign-in on.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/edugrid/edugrid/shared/authn"
	"github.com/edugrid/edugrid/shared/store"
)

// options are the command's flags.
type options struct {
	target        string
	engine        string
	cdc           bool
	tenants       int
	teachers      int
	students      int
	users         int
	rate          float64 // requests per second over all users after their sign-in; 0: each user sends back to back
	duration      time.Duration
	ramp          time.Duration
	requests      int64
	adminEmail    string
	adminPassword string
	password      string
	cpuProfile    string
	logFile       string
	seed          uint64
	// passwords overrides the in-process stack's Argon2id cost (the command's own test uses a cheap one).
	passwords *authn.PasswordParams
}

func main() {
	var o options
	flag.StringVar(&o.target, "target", "", "base URL of a running stack on loopback (default: start one in this process)")
	flag.StringVar(&o.engine, "engine", "memory", "in-process stack's embedded engine: memory, file (a directory under a temp dir, as the local stack), or singlefile (the old one-file store, to compare)")
	flag.BoolVar(&o.cdc, "cdc", true, "in-process stack runs the change-data-capture pipeline (relay, Pub/Sub emulator, ingest, DuckDB) as the local stack does")
	flag.IntVar(&o.tenants, "tenants", 10, "institutions to provision")
	flag.IntVar(&o.teachers, "teachers", 2, "teachers (and batches) per institution")
	flag.IntVar(&o.students, "students", 30, "students per institution")
	flag.IntVar(&o.users, "users", 32, "concurrent virtual users, spread over the institutions")
	flag.Float64Var(&o.rate, "rate", 0, "open loop: the users together send this many requests per second on a fixed schedule, latency counted from each request's scheduled time (default 0: closed loop, each user sends back to back)")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "longest the load runs")
	flag.DurationVar(&o.ramp, "ramp", 3*time.Second, "virtual users start evenly spread over this time (each signs in as it starts)")
	flag.Int64Var(&o.requests, "requests", 200_000, "most requests the load sends")
	flag.StringVar(&o.adminEmail, "admin-email", "admin@edugrid.local", "platform admin of the -target stack")
	flag.StringVar(&o.adminPassword, "admin-password", "edugrid-demo-1", "that admin's password")
	flag.StringVar(&o.password, "password", "load-test-password-1", "password of every account the load creates")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the timed run to this file")
	flag.StringVar(&o.logFile, "log", "", "in-process stack's log file (default: discarded)")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the request mix")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.target == "" {
		// The in-process stack is tuned as scripts/dev tunes the local stack.
		store.TuneGCForEmbedded(os.Getenv)
	}
	res, err := run(ctx, o, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "edugrid load:", err)
		os.Exit(1)
	}
	if res.Total.Errors > 0 {
		os.Exit(2)
	}
}

// run sets up, drives the load and prints the report, which it also returns.
func run(ctx context.Context, o options, out io.Writer) (result, error) {
	if o.tenants < 1 || o.teachers < 1 || o.students < o.teachers || o.users < 1 || o.duration <= 0 || o.requests < 1 || o.rate < 0 {
		return result{}, errors.New("-tenants, -teachers, -users, -duration and -requests must be positive, -rate not negative, and -students at least -teachers")
	}
	base := o.target
	if base == "" {
		var logw io.Writer = io.Discard
		if o.logFile != "" {
			f, err := os.Create(o.logFile)
			if err != nil {
				return result{}, err
			}
			defer f.Close()
			logw = f
		}
		st, err := startStack(ctx, o.engine, o.adminEmail, o.adminPassword, o.cdc, o.passwords, logw)
		if err != nil {
			return result{}, err
		}
		defer st.stop()
		base = st.base
	} else if err := loopbackOnly(ctx, base); err != nil {
		return result{}, err
	}
	base = strings.TrimRight(base, "/")
	transport := &http.Transport{MaxIdleConns: o.users + 8, MaxIdleConnsPerHost: o.users + 8, IdleConnTimeout: time.Minute}
	defer transport.CloseIdleConnections()
	hc := &http.Client{Transport: transport, Timeout: 30 * time.Second}

	fmt.Fprintf(out, "edugrid load: %s, %d institutions × (%d teachers, %d students), %d virtual users %s, at most %s or %d requests; GOMAXPROCS %d, GOGC %d\n",
		describe(o), o.tenants, o.teachers, o.students, o.users, pacing(o), o.duration, o.requests, runtime.GOMAXPROCS(0), gcPercent())
	setupStart := time.Now()
	insts, err := provision(ctx, &client{http: hc, base: base, addr: "10.0.0.1"}, setupOptions{
		tenants: o.tenants, teachers: o.teachers, students: o.students, password: o.password,
		adminEmail: o.adminEmail, adminPassword: o.adminPassword, runID: runID(), parallel: setupParallel(o),
	}, func(done int) {
		fmt.Fprintf(out, "setup: %d/%d institutions ready (%.1f s)\n", done, o.tenants, time.Since(setupStart).Seconds())
	})
	if err != nil {
		return result{}, fmt.Errorf("setup: %w", err)
	}

	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return result{}, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return result{}, err
		}
		defer pprof.StopCPUProfile()
	}

	rec := newRecorder()
	// Closed loop: the run lasts -duration from the first sign-in. Open loop: users sign in over -ramp,
	// then all keep one schedule for -duration, so the whole measured window runs at the full rate.
	sched := time.Now()
	if o.rate > 0 {
		sched = sched.Add(o.ramp)
	}
	b := &budget{deadline: sched.Add(o.duration)}
	b.left.Store(o.requests)
	runCtx, cancel := context.WithDeadline(ctx, b.deadline.Add(30*time.Second))
	defer cancel()
	now := time.Now().UTC()
	from, to := now.AddDate(0, 0, -30).Format(time.DateOnly), now.AddDate(0, 0, -1).Format(time.DateOnly)
	var wg sync.WaitGroup
	cpuBefore := processCPU()
	start := time.Now()
	progressDone, progressStopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(progressStopped)
		progress(out, b, o.requests, start, progressDone)
	}()
	for n := range o.users {
		inst := insts[n%len(insts)]
		// Alternate roles within an institution: teachers (over its teacher accounts) and its accountant.
		k := n / len(insts)
		teacher := -1
		if k%2 == 0 {
			teacher = (k / 2) % len(inst.teachers)
		}
		u := &user{n: n, inst: inst, teacher: teacher, rng: rand.New(rand.NewPCG(o.seed, uint64(n))), rec: newLocal(), from: from, to: to, pass: o.password,
			c: &client{http: hc, base: base, addr: fmt.Sprintf("10.1.%d.%d", n/250, 1+n%250)}}
		if o.rate > 0 {
			u.every = time.Duration(float64(time.Second) * float64(o.users) / o.rate)
			// Phases spread evenly, so the users' requests interleave instead of arriving together.
			u.first = sched.Add(u.every * time.Duration(n) / time.Duration(o.users))
		}
		delay := o.ramp * time.Duration(n) / time.Duration(o.users)
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-runCtx.Done():
				return
			case <-time.After(delay):
			}
			u.run(runCtx, b)
			rec.merge(u.rec)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if o.rate > 0 {
		elapsed = time.Since(sched) // the sign-ins before it are counted, but the rate is the schedule's
	}
	close(progressDone)
	<-progressStopped
	res := rec.result(elapsed)
	res.CPU = processCPU() - cpuBefore
	res.print(out)
	return res, nil
}

// progress prints a line every five seconds while the load runs.
func progress(out io.Writer, b *budget, total int64, start time.Time, done <-chan struct{}) {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			sent := total - max(b.left.Load(), 0)
			fmt.Fprintf(out, "load: %d requests in %.0f s (%.0f/s)\n", sent, time.Since(start).Seconds(), float64(sent)/time.Since(start).Seconds())
		}
	}
}

// gcPercent is the collector's current target (GOGC).
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func pacing(o options) string {
	if o.rate > 0 {
		return fmt.Sprintf("sending %.0f requests/s together (open loop: latency from each request's scheduled time)", o.rate)
	}
	return "sending back to back (closed loop)"
}

func describe(o options) string {
	if o.target != "" {
		return "target " + o.target
	}
	cdc := "with"
	if !o.cdc {
		cdc = "without"
	}
	return fmt.Sprintf("in-process stack, embedded engine in %s, %s the CDC pipeline", o.engine, cdc)
}

// runID makes this run's institution slugs unique, so a run against a stack that served earlier runs
// provisions new institutions.
func runID() string {
	const letters = "abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 5)
	for i := range b {
		b[i] = letters[rand.IntN(len(letters))]
	}
	return string(b)
}

// loopbackOnly refuses a target whose host is not a loopback address (a name must resolve to loopback
// addresses only).
func loopbackOnly(ctx context.Context, target string) error {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-target %q: want a URL such as http://127.0.0.1:8080", target)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			return fmt.Errorf("-target %s is not a loopback address; the load generator drives local stacks only", host)
		}
		return nil
	}
	ips, err := net.DefaultResolver.LookupIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("-target: resolve %s: %w", host, err)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("-target %s resolves to %s, which is not loopback; the load generator drives local stacks only", host, ip)
		}
	}
	return nil
}

// processCPU is the CPU time (user and system) this process has used: with the stack in process, the
// server, the pipeline and the load generator together.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// setupParallel is how many institutions are set up at once: one on the in-process single-file engine,
// where every commit rewrites the whole file and parallel provisioning only makes each request slower.
func setupParallel(o options) int {
	if o.target == "" && o.engine == "singlefile" {
		return 1
	}
	return 4
}
