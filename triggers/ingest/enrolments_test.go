package ingest_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/edugrid/edugrid/shared/events"
	"github.com/edugrid/edugrid/shared/warehouse"
	"github.com/edugrid/edugrid/triggers/ingest"
)

// An open enrolment stores an empty to, which becomes a null day; a closed one keeps its day.
func TestEnrolmentTransform(t *testing.T) {
	wh := &memWarehouse{}
	in := ingest.New(wh, nil, quiet)
	evs := []*events.Event{
		event(1, events.Insert, "enrolments", `{"student_id":"s","batch_id":"b","branch_id":"r","course_id":"c","from":"2026-01-05","to":"","status":"active"}`),
		event(2, events.Insert, "enrolments", `{"student_id":"s","batch_id":"b","branch_id":"r","course_id":"c","from":"2026-01-05","to":"2026-03-15","status":"withdrawn"}`),
		event(3, events.Insert, "enrolments", `{"student_id":"s","from":"January","status":"active"}`), // malformed day: raw change only
	}
	if err := in.Apply(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	ups := wh.upserts()
	if len(ups) != 2 {
		t.Fatalf("%d upserts, want 2: %+v", len(ups), ups)
	}
	jan5, mar15 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)
	if r := ups[0].Row; ups[0].Table != warehouse.Enrolments || len(r) != len(warehouse.Enrolments.Columns) ||
		r[5] != "s" || r[7] != "r" || r[9] != jan5 || r[10] != nil || r[11] != "active" {
		t.Fatalf("open enrolment row = %v", r)
	}
	if r := ups[1].Row; r[9] != jan5 || r[10] != mar15 || r[11] != "withdrawn" {
		t.Fatalf("closed enrolment row = %v", r)
	}
	if !slices.Contains(events.AnalysedCollections(), "enrolments") {
		t.Fatal("enrolments are not analysed")
	}
}
