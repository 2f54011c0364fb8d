package fees_test

import (
	"testing"

	"github.com/edugrid/edugrid/functions/fees"
)

func sum(xs []fees.Slot) int64 {
	var s int64
	for _, x := range xs {
		s += x.Amount
	}
	return s
}

func TestMaterialiseAwkwardTotals(t *testing.T) {
	cases := []struct {
		name  string
		sc    fees.Schedule
		total int64
		join  string
		want  []int64
		dues  []string
	}{
		{"1000 in 3", fees.Schedule{Kind: fees.ScheduleCount, Count: 3}, 1000, "2026-01-01", []int64{334, 333, 333}, []string{"2026-01-01", "2026-02-01", "2026-03-01"}},
		{"0.01 in 3", fees.Schedule{Kind: fees.ScheduleCount, Count: 3}, 1, "2026-01-01", []int64{1, 0, 0}, nil},
		{"0.02 in 3", fees.Schedule{Kind: fees.ScheduleCount, Count: 3}, 2, "2026-01-01", []int64{1, 1, 0}, nil},
		{"zero (100% concession)", fees.Schedule{Kind: fees.ScheduleCount, Count: 4}, 0, "2026-01-01", []int64{0, 0, 0, 0}, nil},
		{"thirds by percentages", fees.Schedule{Kind: fees.SchedulePercentages, Percentages: []int64{3333, 3333, 3334}}, 100, "2026-01-01", []int64{33, 33, 34}, nil},
		{"odd paise by percentages", fees.Schedule{Kind: fees.SchedulePercentages, Percentages: []int64{2500, 2500, 5000}, IntervalMonths: 2}, 99_999, "2026-01-01",
			[]int64{25_000, 25_000, 49_999}, []string{"2026-01-01", "2026-03-01", "2026-05-01"}},
		{"explicit dates, equal", fees.Schedule{Kind: fees.ScheduleDates, Dates: []string{"2026-01-10", "2026-04-10", "2026-07-10"}}, 1_000_00, "2026-01-01",
			[]int64{33_334, 33_333, 33_333}, []string{"2026-01-10", "2026-04-10", "2026-07-10"}},
		{"month end clamps", fees.Schedule{Kind: fees.ScheduleCount, Count: 3}, 3, "2026-01-31", []int64{1, 1, 1}, []string{"2026-01-31", "2026-02-28", "2026-03-31"}},
		{"late join moves past dues to the join date", fees.Schedule{Kind: fees.ScheduleCount, Count: 3}, 900, "2026-02-15", []int64{300, 300, 300}, []string{"2026-02-15", "2026-02-15", "2026-03-01"}},
		{"max total", fees.Schedule{Kind: fees.ScheduleCount, Count: 7}, fees.MaxAmount, "2026-01-01", nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.sc.Validate("schedule"); err != nil {
				t.Fatalf("validate: %v", err)
			}
			start := "2026-01-01"
			if c.name == "month end clamps" {
				start = "2026-01-31"
			}
			got, err := fees.Materialise(c.sc, c.total, start, c.join)
			if err != nil {
				t.Fatal(err)
			}
			if s := sum(got); s != c.total {
				t.Fatalf("instalments sum to %d, want %d", s, c.total)
			}
			for i, w := range c.want {
				if got[i].Amount != w {
					t.Errorf("instalment %d = %d, want %d", i+1, got[i].Amount, w)
				}
			}
			for i, d := range c.dues {
				if got[i].Due != d {
					t.Errorf("instalment %d due %s, want %s", i+1, got[i].Due, d)
				}
			}
		})
	}
}

func TestMaterialiseSumsForManyTotals(t *testing.T) {
	scs := []fees.Schedule{
		{Kind: fees.ScheduleCount, Count: 7},
		{Kind: fees.SchedulePercentages, Percentages: []int64{1, 3333, 6666}},
		{Kind: fees.ScheduleDates, Dates: []string{"2026-01-01", "2026-02-01"}, Percentages: []int64{9999, 1}},
	}
	for _, sc := range scs {
		for total := int64(0); total < 2000; total += 7 {
			got, err := fees.Materialise(sc, total, "2026-01-01", "2026-01-01")
			if err != nil {
				t.Fatal(err)
			}
			if s := sum(got); s != total {
				t.Fatalf("%+v: %d split into parts summing to %d", sc, total, s)
			}
		}
	}
}

func TestProrate(t *testing.T) {
	cases := []struct {
		from string
		want int64
	}{
		{"2026-05-01", 3000}, {"2026-06-01", 3000}, {"2026-06-16", 1500}, {"2026-06-30", 100}, {"2026-07-01", 0},
	}
	for _, c := range cases {
		if got := fees.Prorate(3000, "2026-06-01", "2026-06-30", c.from); got != c.want {
			t.Errorf("Prorate from %s = %d, want %d", c.from, got, c.want)
		}
	}
}

func TestScheduleValidation(t *testing.T) {
	bad := []fees.Schedule{
		{Kind: "weekly"},
		{Kind: fees.ScheduleCount},
		{Kind: fees.ScheduleCount, Count: fees.MaxInstalments + 1},
		{Kind: fees.SchedulePercentages, Percentages: []int64{5000, 4000}},
		{Kind: fees.SchedulePercentages, Percentages: []int64{10_000, 0}},
		{Kind: fees.ScheduleDates, Dates: []string{"2026-02-01", "2026-01-01"}},
		{Kind: fees.ScheduleDates, Dates: []string{"2026-02-30"}},
		{Kind: fees.ScheduleDates, Dates: []string{"2026-01-01", "2026-02-01"}, Percentages: []int64{10_000}},
		{Kind: fees.ScheduleCount, Count: 2, IntervalMonths: 13},
	}
	for _, sc := range bad {
		if err := sc.Validate("schedule"); err == nil {
			t.Errorf("%+v: accepted", sc)
		}
	}
}
