package prnum

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/apperr"
)

// allRoles lists every valid role code, so tests that range over roles notice a new one.
var allRoles = []Role{Owner, BranchAdmin, Teacher, Accountant, Counsellor, Guardian, Student}

// mustNew is New for inputs the test knows are valid.
func mustNew(t *testing.T, tenant int, role Role, year, seq int) PRN {
	t.Helper()
	p, err := New(tenant, role, year, seq)
	if err != nil {
		t.Fatalf("New(%d, %d, %d, %d): %v", tenant, role, year, seq, err)
	}
	return p
}

// withCheck appends the correct check digit to a 13-digit body, so rejection tests reach the part checks
// that Parse only runs after the check digit passes.
func withCheck(t *testing.T, body string) string {
	t.Helper()
	c, err := CheckDigit(body)
	if err != nil {
		t.Fatalf("CheckDigit(%q): %v", body, err)
	}
	return body + string('0'+c)
}

// wantInvalid fails unless err is an *apperr.Error with code Invalid whose message contains msg.
func wantInvalid(t *testing.T, err error, msg string) {
	t.Helper()
	e := apperr.As(err)
	if e == nil {
		t.Fatalf("error %v is not an *apperr.Error", err)
	}
	if e.Code != apperr.Invalid {
		t.Fatalf("code = %q, want %q (error %v)", e.Code, apperr.Invalid, err)
	}
	if !strings.Contains(e.Message, msg) {
		t.Fatalf("message %q does not contain %q", e.Message, msg)
	}
}

// The table must be a totally anti-symmetric quasigroup with zero diagonal; that is what every detection
// guarantee below rests on, so a mistyped table entry should fail here first.
func TestDammTableProperties(t *testing.T) {
	for i := 0; i < 10; i++ {
		if dammTable[i][i] != 0 {
			t.Errorf("diagonal [%d][%d] = %d, want 0", i, i, dammTable[i][i])
		}
		var row, col [10]bool
		for j := 0; j < 10; j++ {
			row[dammTable[i][j]] = true
			col[dammTable[j][i]] = true
		}
		for v := 0; v < 10; v++ {
			if !row[v] || !col[v] {
				t.Errorf("row or column %d is not a permutation of 0..9", i)
			}
		}
	}
	for c := 0; c < 10; c++ {
		for x := 0; x < 10; x++ {
			for y := 0; y < 10; y++ {
				if x != y && dammTable[dammTable[c][x]][y] == dammTable[dammTable[c][y]][x] {
					t.Errorf("not anti-symmetric at c=%d x=%d y=%d", c, x, y)
				}
			}
		}
	}
}

func TestCheckDigit(t *testing.T) {
	tests := []struct {
		digits string
		want   byte
	}{
		{"572", 4}, // the worked example in Damm's description
		{"5724", 0},
		{"0", 0},
		{"1", 3},
		{"9", 2},
		{"12", 5},
		{"123", 4},
		{"0001926000123", 4}, // the ID card example 0001-9-26-000123-4
		{"00019260001234", 0},
	}
	for _, tt := range tests {
		got, err := CheckDigit(tt.digits)
		if err != nil {
			t.Errorf("CheckDigit(%q): %v", tt.digits, err)
			continue
		}
		if got != tt.want {
			t.Errorf("CheckDigit(%q) = %d, want %d", tt.digits, got, tt.want)
		}
	}
}

func TestCheckDigitAppendedFoldsToZero(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		b := make([]byte, 1+r.IntN(30))
		for j := range b {
			b[j] = byte('0' + r.IntN(10))
		}
		c, err := CheckDigit(string(b))
		if err != nil {
			t.Fatalf("CheckDigit(%q): %v", b, err)
		}
		if c > 9 {
			t.Fatalf("CheckDigit(%q) = %d, not a digit value", b, c)
		}
		full := string(b) + string('0'+c)
		if z, _ := CheckDigit(full); z != 0 {
			t.Fatalf("CheckDigit(%q) = %d, want 0 once the check digit is appended", full, z)
		}
	}
}

func TestCheckDigitRejects(t *testing.T) {
	for _, in := range []string{"", "57a", "5-72", " 572", "５７２", "\x00"} {
		_, err := CheckDigit(in)
		wantInvalid(t, err, "digits")
	}
}

func TestRoleValid(t *testing.T) {
	for r := Role(-1); r <= 11; r++ {
		want := false
		for _, v := range allRoles {
			want = want || r == v
		}
		if got := r.Valid(); got != want {
			t.Errorf("Role(%d).Valid() = %v, want %v", r, got, want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	type parts struct {
		tenant int
		role   Role
		year   int
		seq    int
	}
	tests := []parts{
		{1, Student, 2026, 1},
		{1, Student, 2026, 123},
		{9999, Owner, 2099, 999999},
		{1, Owner, 0, 1},
		{42, Teacher, 99, 500000},
		{1000, Guardian, 2000, 10},
		{1234, Accountant, 1999, 654321},
		{9998, Counsellor, 9999, 999998},
		{10, BranchAdmin, 1000, 2},
	}
	for _, r := range allRoles {
		for _, tenant := range []int{1, 2, 99, 100, 9999} {
			tests = append(tests, parts{tenant, r, 2026, 1}, parts{tenant, r, 2027, 999999})
		}
	}
	for _, tt := range tests {
		p := mustNew(t, tt.tenant, tt.role, tt.year, tt.seq)
		for _, s := range []string{p.String(), p.Display()} {
			got, err := Parse(s)
			if err != nil {
				t.Errorf("Parse(%q) from %+v: %v", s, tt, err)
				continue
			}
			if got != p {
				t.Errorf("Parse(%q) = %q, want %q", s, got, p)
			}
			if got.Tenant() != tt.tenant || got.Role() != tt.role || got.Year() != tt.year%100 || got.Seq() != tt.seq {
				t.Errorf("Parse(%q) parts = %d/%d/%d/%d, want %+v (year %d)",
					s, got.Tenant(), got.Role(), got.Year(), got.Seq(), tt, tt.year%100)
			}
		}
		if len(p.String()) != length {
			t.Errorf("String() = %q, want %d digits", p, length)
		}
	}
}

func TestFormatting(t *testing.T) {
	p := mustNew(t, 1, Student, 2026, 123)
	if got, want := p.String(), "00019260001234"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := p.Display(), "0001-9-26-000123-4"; got != want {
		t.Errorf("Display() = %q, want %q", got, want)
	}
	if mustNew(t, 1, Student, 26, 123) != p {
		t.Error("year 26 and year 2026 give different PRNs")
	}
}

func TestParseAcceptsHumanInput(t *testing.T) {
	want := PRN("00019260001234")
	for _, in := range []string{
		"00019260001234",
		"0001-9-26-000123-4",
		"0001 9 26 000123 4",
		" 0001-9-26-000123-4 ",
		"0001 - 9 - 26 - 000123 - 4",
		"--00019260001234--",
		"0-0-0-1-9-2-6-0-0-0-1-2-3-4",
	} {
		got, err := Parse(in)
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		if got != want {
			t.Errorf("Parse(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name              string
		tenant, year, seq int
		role              Role
		field             string
	}{
		{"tenant 0", 0, 2026, 1, Student, "tenant"},
		{"tenant negative", -1, 2026, 1, Student, "tenant"},
		{"tenant 10000", 10000, 2026, 1, Student, "tenant"},
		{"role 0", 1, 2026, 1, 0, "role"},
		{"role 6", 1, 2026, 1, 6, "role"},
		{"role 7", 1, 2026, 1, 7, "role"},
		{"role 10", 1, 2026, 1, 10, "role"},
		{"role negative", 1, 2026, 1, -9, "role"},
		{"year negative", 1, -1, 1, Student, "year"},
		{"year 100", 1, 100, 1, Student, "year"},
		{"year 999", 1, 999, 1, Student, "year"},
		{"year 10000", 1, 10000, 1, Student, "year"},
		{"seq 0", 1, 2026, 0, Student, "seq"},
		{"seq negative", 1, 2026, -1, Student, "seq"},
		{"seq 1000000", 1, 2026, 1000000, Student, "seq"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(tt.tenant, tt.role, tt.year, tt.seq)
			if err == nil {
				t.Fatalf("New = %q, want an error", p)
			}
			wantInvalid(t, err, tt.field)
			if _, ok := apperr.As(err).Fields[tt.field]; !ok {
				t.Errorf("Fields = %v, want key %q", apperr.As(err).Fields, tt.field)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	const (
		format = "must be 14 digits"
		check  = "check digit does not match: mistyped PRN?"
		tenant = "tenant number 0000"
		role   = "is not a role"
		seq    = "sequence number 000000"
	)
	tests := []struct {
		name string
		in   string
		msg  string
	}{
		{"empty", "", format},
		{"only separators", " - - ", format},
		{"too short", "0001926000123", format},
		{"too long", "000192600012340", format},
		{"letter", "0001926000123a", format},
		{"letter O for zero", "O0019260001234", format},
		{"underscore", "0001_9_26_000123_4", format},
		{"dot", "0001.9.26.000123.4", format},
		{"tab", "0001\t9260001234", format},
		{"full-width digits", "０００１９２６０００１２３４", format},
		{"over the length bound", strings.Repeat("-", 60) + "00019260001234", format},
		{"check digit", "00019260001235", check},
		{"check digit of a typo", "00019260001324", check},
		{"tenant 0000", withCheck(t, "0000926000123"), tenant},
		{"role 0", withCheck(t, "0001026000123"), "role code 0 " + role},
		{"role 6", withCheck(t, "0001626000123"), "role code 6 " + role},
		{"role 7", withCheck(t, "0001726000123"), "role code 7 " + role},
		{"seq 000000", withCheck(t, "0001926000000"), seq},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want an error", tt.in, p)
			}
			if p != "" {
				t.Errorf("Parse(%q) returned %q alongside its error", tt.in, p)
			}
			wantInvalid(t, err, tt.msg)
		})
	}
}

// samplePRNs are valid PRNs with varied digits, for the error-detection tests.
func samplePRNs(t *testing.T) []PRN {
	t.Helper()
	return []PRN{
		mustNew(t, 1, Student, 2026, 123),
		mustNew(t, 9999, Owner, 2099, 999999),
		mustNew(t, 1234, Guardian, 2056, 789012),
		mustNew(t, 8070, Teacher, 2011, 10203),
		mustNew(t, 5, Counsellor, 2000, 1),
	}
}

func TestParseDetectsEverySingleDigitError(t *testing.T) {
	for _, p := range samplePRNs(t) {
		for i := 0; i < length; i++ {
			for d := byte('0'); d <= '9'; d++ {
				if p[i] == d {
					continue
				}
				b := []byte(p)
				b[i] = d
				_, err := Parse(string(b))
				if err == nil {
					t.Fatalf("Parse accepted %s, a substitution at %d in %s", b, i, p)
				}
				wantInvalid(t, err, "check digit")
			}
		}
	}
}

func TestParseDetectsEveryAdjacentTransposition(t *testing.T) {
	for _, p := range samplePRNs(t) {
		swaps := 0
		for i := 0; i+1 < length; i++ {
			if p[i] == p[i+1] {
				continue
			}
			b := []byte(p)
			b[i], b[i+1] = b[i+1], b[i]
			swaps++
			_, err := Parse(string(b))
			if err == nil {
				t.Fatalf("Parse accepted %s, a transposition at %d in %s", b, i, p)
			}
			wantInvalid(t, err, "check digit")
		}
		if swaps == 0 {
			t.Fatalf("%s has no distinct adjacent digits to swap", p)
		}
	}
}

func TestAccessorsOnMalformedPRN(t *testing.T) {
	for _, p := range []PRN{"", "123", "0001926000123x", "000192600012345", "０００１"} {
		if p.Tenant() != 0 || p.Role() != 0 || p.Year() != 0 || p.Seq() != 0 {
			t.Errorf("%q: parts = %d/%d/%d/%d, want zeros", p, p.Tenant(), p.Role(), p.Year(), p.Seq())
		}
		if p.Display() != string(p) {
			t.Errorf("%q.Display() = %q, want it unchanged", p, p.Display())
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"00019260001234",
		"0001-9-26-000123-4",
		" 9999 1 99 999999 9 ",
		"99991999999990",
		"00019260001235",
		"0000926000123",
		"",
		"-",
		"abc",
		"0001_9_26_000123_4",
		"０００１９２６０００１２３４",
		strings.Repeat("9", 100),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			if e := apperr.As(err); e == nil || e.Code != apperr.Invalid {
				t.Fatalf("Parse(%q) error %v is not an Invalid *apperr.Error", s, err)
			}
			return
		}
		again, err := Parse(p.String())
		if err != nil || again != p {
			t.Fatalf("Parse(%q) = %q, but Parse of that = %q, %v", s, p, again, err)
		}
		built, err := New(p.Tenant(), p.Role(), p.Year(), p.Seq())
		if err != nil || built != p {
			t.Fatalf("Parse(%q) = %q, but New from its parts = %q, %v", s, p, built, err)
		}
		if d, err := Parse(p.Display()); err != nil || d != p {
			t.Fatalf("Parse(%q) = %q, but Parse of its Display = %q, %v", s, p, d, err)
		}
	})
}

// newDB opens an empty in-memory engine for one test.
func newDB(t *testing.T) lungo.IDatabase {
	t.Helper()
	client, engine, err := lungo.Open(context.Background(), lungo.Options{Store: lungo.NewMemoryStore()})
	if err != nil {
		t.Fatalf("open embedded engine: %v", err)
	}
	t.Cleanup(engine.Close)
	return client.Database("edu_test")
}

// mustAllocate is Allocate for calls the test expects to succeed.
func mustAllocate(t *testing.T, db lungo.IDatabase, tenant int, role Role, year int) PRN {
	t.Helper()
	p, err := Allocate(context.Background(), db, tenant, role, year)
	if err != nil {
		t.Fatalf("Allocate(%d, %d, %d): %v", tenant, role, year, err)
	}
	return p
}

// setCounter stores seq in the counter document for (role, year), as an operator fixing data would.
func setCounter(t *testing.T, db lungo.IDatabase, role Role, year int, seq int64) {
	t.Helper()
	_, err := db.Collection("counters").UpdateOne(context.Background(),
		bson.M{"_id": fmt.Sprintf("prn:%d:%02d", role, year%100)},
		bson.M{"$set": bson.M{"seq": seq}},
		options.Update().SetUpsert(true))
	if err != nil {
		t.Fatalf("set counter: %v", err)
	}
}

func TestAllocateSequential(t *testing.T) {
	db := newDB(t)
	for want := 1; want <= 5; want++ {
		p := mustAllocate(t, db, 7, Student, 2026)
		if p.Tenant() != 7 || p.Role() != Student || p.Year() != 26 || p.Seq() != want {
			t.Fatalf("allocation %d = %s, want tenant 7 role 9 year 26 seq %d", want, p.Display(), want)
		}
		if _, err := Parse(p.String()); err != nil {
			t.Fatalf("allocated %s does not parse: %v", p, err)
		}
	}
	var doc bson.M
	err := db.Collection("counters").FindOne(context.Background(), bson.M{"_id": "prn:9:26"}).Decode(&doc)
	if err != nil {
		t.Fatalf("read counter: %v", err)
	}
	if doc["seq"] != int64(5) {
		t.Errorf("counter seq = %#v, want int64(5)", doc["seq"])
	}
}

func TestAllocateSeparateSequences(t *testing.T) {
	db := newDB(t)
	steps := []struct {
		role    Role
		year    int
		wantSeq int
	}{
		{Student, 2026, 1},
		{Student, 2026, 2},
		{Teacher, 2026, 1},
		{Student, 2027, 1},
		{Student, 26, 3}, // two- and four-digit forms of one year share a counter
		{Teacher, 2026, 2},
		{Student, 2126, 4}, // and so do years a century apart, since only YY is in the PRN
		{Guardian, 2027, 1},
		{Student, 2027, 2},
	}
	for i, s := range steps {
		p := mustAllocate(t, db, 3, s.role, s.year)
		if p.Role() != s.role || p.Year() != s.year%100 || p.Seq() != s.wantSeq {
			t.Errorf("step %d: Allocate(role %d, year %d) = %s, want seq %d", i, s.role, s.year, p.Display(), s.wantSeq)
		}
	}
}

func TestAllocateConcurrent(t *testing.T) {
	db := newDB(t)
	const workers, each = 20, 10
	var (
		mu   sync.Mutex
		got  = map[PRN]bool{}
		wg   sync.WaitGroup
		errs = make(chan error, workers*each)
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				p, err := Allocate(context.Background(), db, 12, Student, 2026)
				if err != nil {
					errs <- err
					continue
				}
				mu.Lock()
				if got[p] {
					errs <- fmt.Errorf("PRN %s allocated twice", p)
				}
				got[p] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(got) != workers*each {
		t.Fatalf("got %d distinct PRNs, want %d", len(got), workers*each)
	}
	seen := make([]bool, workers*each+1)
	for p := range got {
		if p.Seq() < 1 || p.Seq() > workers*each {
			t.Fatalf("seq %d outside 1..%d", p.Seq(), workers*each)
		}
		seen[p.Seq()] = true
	}
	for s := 1; s <= workers*each; s++ {
		if !seen[s] {
			t.Errorf("seq %d was never allocated", s)
		}
	}
}

func TestAllocateExhausted(t *testing.T) {
	db := newDB(t)
	setCounter(t, db, Student, 2026, 999998)
	if p := mustAllocate(t, db, 1, Student, 2026); p.Seq() != 999999 {
		t.Fatalf("last allocation = %s, want seq 999999", p.Display())
	}
	for i := 0; i < 2; i++ {
		p, err := Allocate(context.Background(), db, 1, Student, 2026)
		if err == nil {
			t.Fatalf("Allocate past 999999 = %s, want an error", p)
		}
		if code := apperr.CodeOf(err); code != apperr.Conflict {
			t.Fatalf("Allocate past 999999: code %q (%v), want %q", code, err, apperr.Conflict)
		}
	}
	// The exhaustion is per (role, year): the next year starts afresh.
	if p := mustAllocate(t, db, 1, Student, 2027); p.Seq() != 1 {
		t.Errorf("next year's first allocation = %s, want seq 1", p.Display())
	}
}

func TestAllocateExhaustedAtPreset(t *testing.T) {
	db := newDB(t)
	setCounter(t, db, Teacher, 2030, 999999)
	_, err := Allocate(context.Background(), db, 1, Teacher, 2030)
	if code := apperr.CodeOf(err); code != apperr.Conflict {
		t.Fatalf("code %q (%v), want %q", code, err, apperr.Conflict)
	}
}

func TestAllocateRejectsBadPartsWithoutCounting(t *testing.T) {
	db := newDB(t)
	tests := []struct {
		name   string
		tenant int
		role   Role
		year   int
		field  string
	}{
		{"tenant 0", 0, Student, 2026, "tenant"},
		{"tenant 10000", 10000, Student, 2026, "tenant"},
		{"role 6", 1, 6, 2026, "role"},
		{"year 100", 1, Student, 100, "year"},
	}
	for _, tt := range tests {
		_, err := Allocate(context.Background(), db, tt.tenant, tt.role, tt.year)
		wantInvalid(t, err, tt.field)
	}
	n, err := db.Collection("counters").CountDocuments(context.Background(), bson.M{})
	if err != nil {
		t.Fatalf("count counters: %v", err)
	}
	if n != 0 {
		t.Errorf("rejected calls created %d counter documents, want 0", n)
	}
}

func TestAllocateCorruptCounter(t *testing.T) {
	db := newDB(t)
	setCounter(t, db, Student, 2026, -5)
	_, err := Allocate(context.Background(), db, 1, Student, 2026)
	if err == nil {
		t.Fatal("Allocate with a negative counter succeeded")
	}
	if apperr.As(err) != nil {
		t.Errorf("error %v is an *apperr.Error; a corrupt counter is an internal failure", err)
	}
	if !strings.HasPrefix(err.Error(), "allocate PRN role 9 year 26: ") {
		t.Errorf("error %q lacks the operation prefix", err)
	}
}

// A counter holding a non-number is a database-level failure, and must come back wrapped with the
// operation and still unwrappable to the cause.
func TestAllocateWrapsDatabaseErrors(t *testing.T) {
	db := newDB(t)
	_, err := db.Collection("counters").InsertOne(context.Background(), bson.M{"_id": "prn:9:26", "seq": "x"})
	if err != nil {
		t.Fatalf("insert: %v", err)
	}
	_, err = Allocate(context.Background(), db, 1, Student, 2026)
	if err == nil {
		t.Fatal("Allocate on a non-numeric counter succeeded")
	}
	if !strings.HasPrefix(err.Error(), "allocate PRN role 9 year 26: ") {
		t.Errorf("error %q lacks the operation prefix", err)
	}
	if errors.Unwrap(err) == nil {
		t.Errorf("error %q does not wrap its cause", err)
	}
}
