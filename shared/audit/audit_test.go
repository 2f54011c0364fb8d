package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/store"
)

// base has sub-millisecond digits and a non-UTC zone on purpose: Append must normalise both before hashing
// or nothing would verify after the round trip.
var base = time.Date(2025, 3, 1, 8, 0, 0, 123456789, time.FixedZone("IST", 5*3600+1800))

func newDB(t *testing.T) lungo.IDatabase {
	t.Helper()
	ctx := context.Background()
	client, engine, err := lungo.Open(ctx, lungo.Options{Store: lungo.NewMemoryStore()})
	if err != nil {
		t.Fatalf("open engine: %v", err)
	}
	t.Cleanup(engine.Close)
	db := client.Database("edu_test")
	if err := EnsureIndexes(ctx, db); err != nil {
		t.Fatalf("EnsureIndexes: %v", err)
	}
	return db
}

func record(i int) Record {
	return Record{
		Actor:     Actor{ID: fmt.Sprintf("user-%d", i%3), Role: "bursar"},
		Action:    "fees.payment.refund",
		Target:    Target{Kind: "fee_payment", ID: fmt.Sprintf("pay-%d", i%4)},
		Details:   map[string]any{"amount": i * 100, "reason": "duplicate charge"},
		RequestID: fmt.Sprintf("req-%d", i),
		At:        base.Add(time.Duration(i) * time.Second),
	}
}

func appendN(t *testing.T, db lungo.IDatabase, n int) []Entry {
	t.Helper()
	entries := make([]Entry, 0, n)
	for i := range n {
		e, err := Append(context.Background(), db, record(i))
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		entries = append(entries, e)
	}
	return entries
}

func verify(t *testing.T, db lungo.IDatabase) Report {
	t.Helper()
	rep, err := Verify(context.Background(), db)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return rep
}

func wantIntact(t *testing.T, db lungo.IDatabase, n int64) {
	t.Helper()
	rep := verify(t, db)
	if want := (Report{Entries: n, OK: true}); rep != want {
		t.Fatalf("Verify = %+v, want %+v", rep, want)
	}
}

func countEntries(t *testing.T, db lungo.IDatabase) int64 {
	t.Helper()
	n, err := db.Collection(Collection).CountDocuments(context.Background(), bson.D{})
	if err != nil {
		t.Fatalf("count: %v", err)
	}
	return n
}

func sameEntry(t *testing.T, got, want Entry) {
	t.Helper()
	if !got.At.Equal(want.At) {
		t.Errorf("seq %d: At = %v, want %v", want.Seq, got.At, want.At)
	}
	got.At, want.At = time.Time{}, time.Time{}
	if got != want {
		t.Errorf("entry = %+v, want %+v", got, want)
	}
}

func TestAppendThenVerify(t *testing.T) {
	for _, n := range []int{0, 1, 2, 25} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			db := newDB(t)
			entries := appendN(t, db, n)
			for i, e := range entries {
				if e.Seq != int64(i+1) {
					t.Fatalf("entry %d has Seq %d", i, e.Seq)
				}
				wantPrev := GenesisHash
				if i > 0 {
					wantPrev = entries[i-1].Hash
				}
				if e.PrevHash != wantPrev {
					t.Fatalf("entry %d: PrevHash = %s, want %s", e.Seq, e.PrevHash, wantPrev)
				}
				if e.Hash != e.ComputeHash() || len(e.Hash) != 64 {
					t.Fatalf("entry %d: bad hash %q", e.Seq, e.Hash)
				}
				if e.At.Location() != time.UTC || e.At.Nanosecond()%int(time.Millisecond) != 0 {
					t.Fatalf("entry %d: At %v is not UTC milliseconds", e.Seq, e.At)
				}
			}
			wantIntact(t, db, int64(n))
		})
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	const n = 5
	coll := func(db lungo.IDatabase) lungo.ICollection { return db.Collection(Collection) }
	set := func(seq int64, field string, value any) func(*testing.T, lungo.IDatabase, []Entry) {
		return func(t *testing.T, db lungo.IDatabase, _ []Entry) {
			t.Helper()
			res, err := coll(db).UpdateOne(context.Background(), bson.M{"_id": seq}, bson.M{"$set": bson.M{field: value}})
			if err != nil || res.ModifiedCount != 1 {
				t.Fatalf("tamper %s of %d: %v (modified %d)", field, seq, err, res.ModifiedCount)
			}
		}
	}
	del := func(seq int64) func(*testing.T, lungo.IDatabase, []Entry) {
		return func(t *testing.T, db lungo.IDatabase, _ []Entry) {
			t.Helper()
			res, err := coll(db).DeleteOne(context.Background(), bson.M{"_id": seq})
			if err != nil || res.DeletedCount != 1 {
				t.Fatalf("delete %d: %v", seq, err)
			}
		}
	}

	tests := []struct {
		name        string
		tamper      func(*testing.T, lungo.IDatabase, []Entry)
		wantEntries int64
		wantBad     int64
		wantProblem string
	}{
		{"details", set(3, "details", `{"amount":1,"reason":"duplicate charge"}`), n, 3, "hash"},
		{"action", set(2, "action", "fees.payment.create"), n, 2, "hash"},
		{"at", set(4, "at", base.Add(time.Hour)), n, 4, "hash"},
		{"actor", set(1, "actor.id", "someone-else"), n, 1, "hash"},
		{"last entry", set(n, "request_id", "req-x"), n, n, "hash"},
		{"delete middle", del(3), n - 1, 3, "missing"},
		{"delete first", del(1), n - 1, 1, "missing"},
		{"prev_hash", set(3, "prev_hash", strings.Repeat("ab", 32)), n, 3, "hash"},
		{
			// A tamperer who also recomputes the entry's own hash is caught by the next entry's link.
			name: "details with recomputed hash",
			tamper: func(t *testing.T, db lungo.IDatabase, entries []Entry) {
				t.Helper()
				e := entries[2]
				e.Details = `{"amount":0}`
				set(3, "details", e.Details)(t, db, entries)
				set(3, "hash", e.ComputeHash())(t, db, entries)
			},
			wantEntries: n, wantBad: 4, wantProblem: "link",
		},
		{
			name: "swapped content",
			tamper: func(t *testing.T, db lungo.IDatabase, entries []Entry) {
				t.Helper()
				set(2, "request_id", entries[2].RequestID)(t, db, entries)
				set(3, "request_id", entries[1].RequestID)(t, db, entries)
			},
			wantEntries: n, wantBad: 2, wantProblem: "hash",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newDB(t)
			entries := appendN(t, db, n)
			wantIntact(t, db, n)

			tt.tamper(t, db, entries)

			rep := verify(t, db)
			if rep.OK || rep.FirstBad != tt.wantBad || rep.Entries != tt.wantEntries {
				t.Fatalf("Verify = %+v, want OK=false FirstBad=%d Entries=%d", rep, tt.wantBad, tt.wantEntries)
			}
			if !strings.Contains(rep.Problem, tt.wantProblem) {
				t.Errorf("Problem = %q, want it to mention %q", rep.Problem, tt.wantProblem)
			}
		})
	}
}

func TestConcurrentAppends(t *testing.T) {
	const workers, perWorker = 20, 5
	db := newDB(t)
	ctx := context.Background()

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seqs = map[int64]bool{}
		errs []error
	)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				e, err := Append(ctx, db, record(w*perWorker+i))
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else if seqs[e.Seq] {
					errs = append(errs, fmt.Errorf("seq %d returned twice", e.Seq))
				} else {
					seqs[e.Seq] = true
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	const total = workers * perWorker
	for seq := int64(1); seq <= total; seq++ {
		if !seqs[seq] {
			t.Fatalf("no append returned seq %d", seq)
		}
	}
	if got := countEntries(t, db); got != total {
		t.Fatalf("log has %d entries, want %d", got, total)
	}
	wantIntact(t, db, total)
}

func TestAppendJoinsTransaction(t *testing.T) {
	errRollback := errors.New("rollback")
	tests := []struct {
		name      string
		fnErr     error
		wantCount int64
	}{
		{"commit", nil, 3},
		{"abort", errRollback, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newDB(t)
			ctx := context.Background()
			before := appendN(t, db, 1)

			var inTx []Entry
			err := store.Tx(ctx, db, func(ctx context.Context) error {
				if !inSession(ctx) {
					t.Error("the context from store.Tx is not recognised as a session")
				}
				for i := range 2 {
					e, err := Append(ctx, db, record(10+i))
					if err != nil {
						return err
					}
					inTx = append(inTx, e)
				}
				return tt.fnErr
			})
			if !errors.Is(err, tt.fnErr) || (tt.fnErr == nil) != (err == nil) {
				t.Fatalf("Tx error = %v, want %v", err, tt.fnErr)
			}
			// The second append in the transaction must have seen the first one's uncommitted insert.
			if len(inTx) != 2 || inTx[0].Seq != 2 || inTx[1].Seq != 3 || inTx[1].PrevHash != inTx[0].Hash ||
				inTx[0].PrevHash != before[0].Hash {
				t.Fatalf("entries appended in the transaction are not chained: %+v", inTx)
			}
			if got := countEntries(t, db); got != tt.wantCount {
				t.Fatalf("log has %d entries after the transaction, want %d", got, tt.wantCount)
			}
			wantIntact(t, db, tt.wantCount)

			// An aborted transaction must leave its sequence numbers free for the next append.
			e, err := Append(ctx, db, record(20))
			if err != nil {
				t.Fatal(err)
			}
			if e.Seq != tt.wantCount+1 {
				t.Fatalf("next append got seq %d, want %d", e.Seq, tt.wantCount+1)
			}
			wantIntact(t, db, tt.wantCount+1)
		})
	}
}

func TestAppendValidation(t *testing.T) {
	tests := []struct {
		name      string
		mutate    func(*Record)
		wantField string
	}{
		{"no action", func(r *Record) { r.Action = "" }, "action"},
		{"blank action", func(r *Record) { r.Action = "  " }, "action"},
		{"no actor", func(r *Record) { r.Actor.ID = "" }, "actor.id"},
		{"zero at", func(r *Record) { r.At = time.Time{} }, "at"},
		{"invalid utf-8", func(r *Record) { r.Target.ID = "pay-\xff" }, "target.id"},
		{"unknown kind", func(r *Record) { r.Target.Kind = "invoice" }, "target.kind"},
		{"no kind", func(r *Record) { r.Target.Kind = "" }, "target.kind"},
		{"unencodable details", func(r *Record) { r.Details = map[string]any{"f": func() {}} }, "details"},
		{"NaN details", func(r *Record) { r.Details = math.NaN() }, "details"},
		{"huge details", func(r *Record) { r.Details = strings.Repeat("x", MaxDetailsBytes) }, "details"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newDB(t)
			r := record(1)
			tt.mutate(&r)
			_, err := Append(context.Background(), db, r)
			ae := apperr.As(err)
			if ae == nil || ae.Code != apperr.Invalid {
				t.Fatalf("Append error = %v, want an apperr Invalid", err)
			}
			if _, ok := ae.Fields[tt.wantField]; !ok {
				t.Errorf("Fields = %v, want %q", ae.Fields, tt.wantField)
			}
			if got := countEntries(t, db); got != 0 {
				t.Fatalf("an invalid record was stored (%d entries)", got)
			}
		})
	}
}

func TestDetailsRoundTrip(t *testing.T) {
	type fee struct {
		Amount int64   `json:"amount"`
		Rate   float64 `json:"rate"`
	}
	tests := []struct {
		name    string
		details any
		// sorted: decoding into maps and encoding again gives the same bytes, which holds for maps (encoding/json
		// sorts their keys) but not for structs, whose fields keep declaration order.
		sorted bool
	}{
		{"nil", nil, true},
		{"nested maps and numbers", map[string]any{
			"z_last":  1,
			"a_first": map[string]any{"big": int64(1)<<53 + 1, "neg": -42, "frac": 0.1, "exp": 1e21},
			"list":    []any{3, "two", map[string]any{"y": true, "x": nil}},
			"text":    "<b>Grade</b> & \"ünïcödé\" ✓",
		}, true},
		{"struct", struct {
			Before fee `json:"before"`
			After  fee `json:"after"`
		}{fee{150000, 0.18}, fee{120000, 0.05}}, false},
		{"typed map", map[string]int64{"b": math.MaxInt64, "a": math.MinInt64}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newDB(t)
			r := record(7)
			r.Details = tt.details
			got, err := Append(context.Background(), db, r)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(tt.details)
			if got.Details != string(want) {
				t.Fatalf("Details = %s, want %s", got.Details, want)
			}
			listed, err := List(context.Background(), db, r.Target, 0, 10)
			if err != nil || len(listed) != 1 {
				t.Fatalf("List = %v, %v", listed, err)
			}
			sameEntry(t, listed[0], got)
			wantIntact(t, db, 1)

			if !tt.sorted {
				return
			}
			// Decoding and re-encoding yields the stored bytes: they are canonical, not just deterministic.
			var v any
			dec := json.NewDecoder(strings.NewReader(listed[0].Details))
			dec.UseNumber()
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			again, _ := json.Marshal(v)
			if string(again) != listed[0].Details {
				t.Errorf("re-encoded details = %s, want %s", again, listed[0].Details)
			}
		})
	}

	t.Run("DecodeDetails", func(t *testing.T) {
		db := newDB(t)
		r := record(1)
		r.Details = map[string]fee{"old": {1, 0.5}, "new": {2, 0.25}}
		e, err := Append(context.Background(), db, r)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]fee
		if err := e.DecodeDetails(&got); err != nil {
			t.Fatal(err)
		}
		if got["old"] != (fee{1, 0.5}) || got["new"] != (fee{2, 0.25}) {
			t.Errorf("DecodeDetails = %+v", got)
		}
	})
}

func TestList(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	all := appendN(t, db, 30) // record(i) targets pay-(i%4)

	target := Target{Kind: "fee_payment", ID: "pay-1"}
	var want []Entry
	for _, e := range all {
		if e.Target == target {
			want = append(want, e)
		}
	}

	tests := []struct {
		name     string
		afterSeq int64
		limit    int
		want     []Entry
	}{
		{"all", 0, 0, want},
		{"limit", 0, 3, want[:3]},
		{"after", want[2].Seq, 3, want[3:6]},
		{"after last", want[len(want)-1].Seq, 10, nil},
		{"negative after", -5, 1000, want},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := List(ctx, db, target, tt.afterSeq, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil || len(got) != len(tt.want) {
				t.Fatalf("List returned %d entries (nil=%v), want %d", len(got), got == nil, len(tt.want))
			}
			for i := range got {
				sameEntry(t, got[i], tt.want[i])
			}
		})
	}

	t.Run("other target", func(t *testing.T) {
		got, err := List(ctx, db, Target{Kind: "fee_refund", ID: "pay-1"}, 0, 10)
		if err != nil || len(got) != 0 {
			t.Fatalf("List = %v, %v; want nothing", got, err)
		}
	})

	t.Run("invalid target", func(t *testing.T) {
		for _, target := range []Target{{ID: "pay-1"}, {Kind: "fee_payment"}, {Kind: "invoice", ID: "pay-1"}} {
			if _, err := List(ctx, db, target, 0, 10); apperr.CodeOf(err) != apperr.Invalid {
				t.Errorf("List(%+v) error = %v, want apperr Invalid", target, err)
			}
		}
	})
}

func TestViewServesDetailsAsAnObject(t *testing.T) {
	tests := []struct{ stored, want string }{
		{`{"b":1,"a":[2.50,"x"]}`, `{"b":1,"a":[2.50,"x"]}`}, // the recorded bytes, which the hash covers
		{`null`, `{"value":null}`},
		{`[1,2]`, `{"value":[1,2]}`},
		{`not json`, `{"value":"not json"}`},
	}
	for _, tt := range tests {
		v := Entry{Seq: 3, Details: tt.stored}.View()
		if string(v.Details) != tt.want || v.Seq != 3 {
			t.Errorf("View of details %s = %s, want %s", tt.stored, v.Details, tt.want)
		}
		if !json.Valid(v.Details) {
			t.Errorf("View of details %s is not JSON: %s", tt.stored, v.Details)
		}
	}
}

func TestTargetKindsAreKnown(t *testing.T) {
	kinds := TargetKinds()
	if !slices.IsSorted(kinds) || len(slices.Compact(slices.Clone(kinds))) != len(kinds) {
		t.Errorf("TargetKinds() = %v, want sorted and distinct", kinds)
	}
	for _, k := range append(kinds[:0:0], "fee_payment", "user", "exam_test") {
		if !KnownKind(k) {
			t.Errorf("KnownKind(%q) = false", k)
		}
	}
	for _, k := range []string{"", "invoice", "User", "user "} {
		if KnownKind(k) {
			t.Errorf("KnownKind(%q) = true", k)
		}
	}
}

func TestListCapsLimit(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	for i := range MaxListLimit + 5 {
		r := record(i)
		r.Target = Target{Kind: "student", ID: "s-1"}
		if _, err := Append(ctx, db, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, limit := range []int{0, -1, MaxListLimit + 1, 1 << 30} {
		got, err := List(ctx, db, Target{Kind: "student", ID: "s-1"}, 0, limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != MaxListLimit {
			t.Errorf("limit %d: got %d entries, want %d", limit, len(got), MaxListLimit)
		}
	}
}

func TestEnsureIndexesIsIdempotent(t *testing.T) {
	db := newDB(t) // already ran once
	if err := EnsureIndexes(context.Background(), db); err != nil {
		t.Fatalf("second EnsureIndexes: %v", err)
	}
}

// A lost race must read as a Conflict to the HTTP layer while the database error stays reachable for
// store.IsDuplicateKey and for the driver's transient-transaction retry.
func TestConflictErrorKeepsCause(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	coll := db.Collection("dup")
	if _, err := coll.InsertOne(ctx, bson.M{"_id": 1}); err != nil {
		t.Fatal(err)
	}
	_, dupErr := coll.InsertOne(ctx, bson.M{"_id": 1})
	if !store.IsDuplicateKey(dupErr) {
		t.Fatalf("expected a duplicate-key error, got %v", dupErr)
	}

	err := conflict(fmt.Errorf("audit: insert entry 1: %w", dupErr))
	if got := apperr.CodeOf(err); got != apperr.Conflict {
		t.Errorf("CodeOf = %q, want %q", got, apperr.Conflict)
	}
	if !store.IsDuplicateKey(err) {
		t.Error("store.IsDuplicateKey does not see through the conflict error")
	}
	if !errors.Is(err, dupErr) {
		t.Error("errors.Is does not reach the database error")
	}
	if ae := apperr.As(err); ae == nil || strings.Contains(ae.Message, "duplicate") {
		t.Errorf("the user-facing message leaks the database error: %v", ae)
	}
}

func TestPauseStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := pause(ctx, maxAttempts); !errors.Is(err, context.Canceled) {
		t.Fatalf("pause on a cancelled context = %v, want context.Canceled", err)
	}
}
