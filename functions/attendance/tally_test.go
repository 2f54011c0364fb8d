package attendance

import (
	"maps"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
)

// Every stored sheet carries a tally of its marks' current statuses, in student id order.
func TestSheetIsStoredWithItsTally(t *testing.T) {
	sh := Sheet{ID: "ses-1", BatchID: "bat-1", Date: "2026-06-01", Marks: []SheetMark{
		{StudentID: "stu-b", Status: Absent, History: []PreviousMark{{Status: Present}}},
		{StudentID: "stu-a", Status: Late},
	}}
	raw, err := bson.Marshal(sh)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Marks []SheetMark `bson:"marks"`
		Tally bson.D      `bson:"tally"`
	}
	if err := bson.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	want := bson.D{{Key: "stu-a", Value: "late"}, {Key: "stu-b", Value: "absent"}}
	if len(doc.Tally) != 2 || doc.Tally[0] != want[0] || doc.Tally[1] != want[1] {
		t.Fatalf("tally = %v, want %v", doc.Tally, want)
	}
	if len(doc.Marks) != 2 || len(doc.Marks[0].History) != 1 {
		t.Fatalf("marks = %+v, want both with their history", doc.Marks)
	}
	var back Sheet
	if err := bson.Unmarshal(raw, &back); err != nil || back.ID != "ses-1" || len(back.Marks) != 2 {
		t.Fatalf("sheet read back = %+v, %v", back, err)
	}
}

// tallies reads a sheet stored before sheets carried a tally from its marks, beside tallied ones.
func TestTalliesOfSheetsWithoutATally(t *testing.T) {
	ctx, db := memoryDB(t, "tally-test")
	at := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	tallied := Sheet{ID: "ses-1", BatchID: "bat-1", Date: "2026-06-01", UpdatedAt: at, Marks: []SheetMark{
		{StudentID: "stu-a", Status: Present}, {StudentID: "stu-b", Status: Absent}}}
	legacy := bson.M{"_id": "ses-2", "batch_id": "bat-1", "date": "2026-06-02", "updated_at": at, "marks": bson.A{
		bson.M{"student_id": "stu-a", "status": "late", "history": bson.A{bson.M{"status": "absent"}}},
		bson.M{"student_id": "stu-b", "status": "excused"}}}
	if _, err := db.Collection(sheetsCollection).InsertMany(ctx, []any{tallied, legacy}); err != nil {
		t.Fatal(err)
	}
	ts, err := tallies(ctx, bson.M{"batch_id": "bat-1"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]Status{}
	for _, tl := range ts {
		got[tl.ID] = tl.Tally
	}
	want := map[string]map[string]Status{
		"ses-1": {"stu-a": Present, "stu-b": Absent},
		"ses-2": {"stu-a": Late, "stu-b": Excused},
	}
	if len(got) != 2 || !maps.Equal(got["ses-1"], want["ses-1"]) || !maps.Equal(got["ses-2"], want["ses-2"]) {
		t.Fatalf("tallies = %v, want %v", got, want)
	}
}
