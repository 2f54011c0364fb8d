package attendance

import (
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
)

// BenchmarkSummaryRead reads a batch's sheets for a summary as the summaries did before (whole sheets,
// every mark's history decoded) and as they do now (each sheet's tally alone, by projection), side by
// side on the same data: 60 sessions of 30 students, a tenth of the marks changed twice.
// Run: go test -run '^$' -bench SummaryRead -count 5 ./functions/attendance
func BenchmarkSummaryRead(b *testing.B) {
	ctx, db := memoryDB(b, "summary-bench")
	at := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	var docs []any
	for s := range 60 {
		sh := Sheet{ID: fmt.Sprintf("ses-%03d", s), BatchID: "bat-1", BranchID: "brn-1", Date: at.AddDate(0, 0, s).Format(time.DateOnly), UpdatedAt: at}
		for st := range 30 {
			m := SheetMark{StudentID: fmt.Sprintf("stu-%03d", st), Status: Present, Remark: "on time", MarkedBy: "usr-teacher", MarkedAt: at}
			if st%10 == 0 {
				m.History = []PreviousMark{{Status: Absent, MarkedBy: "usr-teacher", MarkedAt: at}, {Status: Late, Remark: "bus", MarkedBy: "usr-teacher", MarkedAt: at}}
			}
			sh.Marks = append(sh.Marks, m)
		}
		docs = append(docs, sh)
	}
	if _, err := db.Collection(sheetsCollection).InsertMany(ctx, docs); err != nil {
		b.Fatal(err)
	}
	filter := bson.M{"batch_id": "bat-1", "date": bson.M{"$gte": "2026-06-01", "$lte": "2026-07-31"}}
	b.Run("whole-sheets", func(b *testing.B) {
		for b.Loop() {
			if shs, err := sheets(ctx, filter); err != nil || len(shs) != 60 {
				b.Fatalf("%d sheets, %v", len(shs), err)
			}
		}
	})
	b.Run("tallies", func(b *testing.B) {
		for b.Loop() {
			if ts, err := tallies(ctx, filter); err != nil || len(ts) != 60 {
				b.Fatalf("%d tallies, %v", len(ts), err)
			}
		}
	})
}
