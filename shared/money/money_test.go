package money

import (
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
)

func sum(t *testing.T, parts []int64) int64 {
	t.Helper()
	var s int64
	for _, p := range parts {
		if p < 0 {
			t.Fatalf("negative part in %v", parts)
		}
		s += p
	}
	return s
}

func TestSplit(t *testing.T) {
	cases := []struct {
		total int64
		n     int
		want  []int64
	}{
		{100000, 3, []int64{33334, 33333, 33333}}, // 1000.00 in three
		{1, 3, []int64{1, 0, 0}},                  // a single paisa
		{0, 2, []int64{0, 0}},
		{7, 7, []int64{1, 1, 1, 1, 1, 1, 1}},
		{math.MaxInt64, 2, []int64{math.MaxInt64/2 + 1, math.MaxInt64 / 2}},
	}
	for _, c := range cases {
		got, err := Split(c.total, c.n)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("Split(%d, %d) = %v, %v; want %v", c.total, c.n, got, err, c.want)
		}
	}
	if _, err := Split(-1, 2); err != ErrNegative {
		t.Errorf("negative total: %v", err)
	}
	if _, err := Split(10, 0); err != ErrNoParts {
		t.Errorf("zero parts: %v", err)
	}
}

func TestAllocate(t *testing.T) {
	cases := []struct {
		total   int64
		weights []int64
		want    []int64
	}{
		{100000, []int64{1, 1, 1}, []int64{33334, 33333, 33333}},
		{100, []int64{5000, 3000, 2000}, []int64{50, 30, 20}}, // percentages in basis points
		{1, []int64{3333, 3333, 3334}, []int64{0, 0, 1}},      // the unit goes to the largest share
		{10, []int64{1, 0, 1}, []int64{5, 0, 5}},
		{0, []int64{1, 2}, []int64{0, 0}},
		{math.MaxInt64, []int64{math.MaxInt64, math.MaxInt64}, []int64{math.MaxInt64/2 + 1, math.MaxInt64 / 2}},
	}
	for _, c := range cases {
		got, err := Allocate(c.total, c.weights)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("Allocate(%d, %v) = %v, %v; want %v", c.total, c.weights, got, err, c.want)
		}
	}
	for _, w := range [][]int64{nil, {0, 0}, {1, -1}} {
		if _, err := Allocate(10, w); err == nil {
			t.Errorf("Allocate(10, %v) accepted", w)
		}
	}
}

// Whatever the total and weights, the parts sum to the total and each is within one unit of its exact
// share.
func TestAllocateProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		total := r.Int64N(1 << 40)
		weights := make([]int64, 1+r.IntN(12))
		for i := range weights {
			weights[i] = r.Int64N(10_000)
		}
		weights[0]++ // never all zero
		got, err := Allocate(total, weights)
		if err != nil {
			t.Fatal(err)
		}
		if s := sum(t, got); s != total {
			t.Fatalf("Allocate(%d, %v) sums to %d", total, weights, s)
		}
		var ws int64
		for _, w := range weights {
			ws += w
		}
		for i, w := range weights {
			exact := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(total), big.NewInt(w)), big.NewInt(ws))
			diff := new(big.Rat).Sub(new(big.Rat).SetInt64(got[i]), exact)
			if diff.Abs(diff).Cmp(big.NewRat(1, 1)) >= 0 {
				t.Fatalf("part %d = %d, exact share %s", i, got[i], exact.FloatString(3))
			}
		}
	}
}

func TestPercentBP(t *testing.T) {
	cases := []struct{ amount, bp, want int64 }{
		{100000, 1000, 10000}, // 10% of 1000.00
		{100000, 10000, 100000},
		{1, 5000, 1}, // half a paisa rounds up
		{1, 4999, 0},
		{33333, 3333, 11110},
		{0, 2500, 0},
	}
	for _, c := range cases {
		if got, err := PercentBP(c.amount, c.bp); err != nil || got != c.want {
			t.Errorf("PercentBP(%d, %d) = %d, %v; want %d", c.amount, c.bp, got, err, c.want)
		}
	}
	for _, bad := range [][2]int64{{-1, 10}, {10, -1}, {10, 10001}} {
		if _, err := PercentBP(bad[0], bad[1]); err == nil {
			t.Errorf("PercentBP(%d, %d) accepted", bad[0], bad[1])
		}
	}
}

func TestFormat(t *testing.T) {
	cases := map[string]string{
		Format(123450, "INR"):        "INR 1234.50",
		Format(5, "INR"):             "INR 0.05",
		Format(500, "JPY"):           "JPY 500",
		Format(1234, "KWD"):          "KWD 1.234",
		Format(-307, "USD"):          "-USD 3.07",
		Format(math.MinInt64, "INR"): "-INR 92233720368547758.08",
	}
	for got, want := range cases {
		if got != want {
			t.Errorf("Format = %q, want %q", got, want)
		}
	}
}
