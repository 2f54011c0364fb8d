package events_test

import (
	"strings"
	"testing"

	"github.com/edugrid/edugrid/shared/events"
)

func valid() *events.Event {
	return &events.Event{
		ID: events.IDFromToken([]byte("token")), Tenant: "acme-co", Collection: "attendance_marks", Op: events.Update,
		DocumentID: "m1", Time: events.ClusterTime{T: 1780000000, I: 3},
		Document: []byte(`{"_id":"m1","status":"present"}`), Updated: []byte(`{"status":"present"}`), Removed: []string{"remark"},
	}
}

func TestRoundTrip(t *testing.T) {
	e := valid()
	b, err := events.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := events.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.V != events.Version || got.ID != e.ID || got.Tenant != "acme-co" || got.Op != events.Update || got.Time != e.Time ||
		string(got.Document) != string(e.Document) || string(got.Updated) != string(e.Updated) || got.Removed[0] != "remark" {
		t.Fatalf("round trip = %+v", got)
	}
	if !strings.Contains(string(b), `"cluster_time":{"t":1780000000,"i":3}`) {
		t.Fatalf("wire form = %s", b)
	}
}

func TestDecodeRefuses(t *testing.T) {
	good, _ := events.Encode(valid())
	for name, mutate := range map[string]func(e *events.Event){
		"short id":          func(e *events.Event) { e.ID = "abc" },
		"bad tenant":        func(e *events.Event) { e.Tenant = "Acme" },
		"bad collection":    func(e *events.Event) { e.Collection = "a.b" },
		"unknown op":        func(e *events.Event) { e.Op = "drop" },
		"no document id":    func(e *events.Event) { e.DocumentID = "" },
		"no cluster time":   func(e *events.Event) { e.Time = events.ClusterTime{} },
		"insert no doc":     func(e *events.Event) { e.Op, e.Document, e.Updated, e.Removed = events.Insert, nil, nil, nil },
		"delete with doc":   func(e *events.Event) { e.Op, e.Updated, e.Removed = events.Delete, nil, nil },
		"fields on replace": func(e *events.Event) { e.Op = events.Replace },
		"doc not object":    func(e *events.Event) { e.Document = []byte(`[1]`) },
		"lower-case pos":    func(e *events.Event) { e.Position = "82ab" },
		"odd position":      func(e *events.Event) { e.Position = "82A" },
		"long position":     func(e *events.Event) { e.Position = strings.Repeat("AB", events.MaxPosition/2+1) },
		"snapshot position": func(e *events.Event) { e.Op, e.Updated, e.Removed, e.Position = events.Snapshot, nil, nil, "82" },
	} {
		e := valid()
		mutate(e)
		if _, err := events.Encode(e); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
	for name, raw := range map[string]string{
		"unknown field": strings.Replace(string(good), `"v":1`, `"v":1,"extra":true`, 1),
		"old version":   strings.Replace(string(good), `"v":1`, `"v":0`, 1),
		"trailing data": string(good) + "{}",
		"not json":      "nope",
	} {
		if _, err := events.Decode([]byte(raw)); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

func TestIDsAndKeys(t *testing.T) {
	a, b := events.IDFromToken([]byte{1, 2}), events.IDFromToken([]byte{1, 3})
	if a == b || len(a) != 64 || a != events.IDFromToken([]byte{1, 2}) {
		t.Fatalf("ids %s %s", a, b)
	}
	if events.SnapshotID("run", "acme", "users", "u1") == events.SnapshotID("run", "acme", "users", "u2") {
		t.Fatal("snapshot ids collide")
	}
	if k := valid().OrderingKey(); k != "acme-co/attendance_marks/m1" {
		t.Fatalf("ordering key %q", k)
	}
	if (events.ClusterTime{T: 2, I: 0}).Seq() <= (events.ClusterTime{T: 1, I: 99}).Seq() {
		t.Fatal("Seq does not order by seconds first")
	}
	for db, want := range map[string]string{"edu_acme": "acme", "edu_acme_co": "acme-co", "edugrid_platform": "", "edu_": "", "edu_Ab": "", "admin": ""} {
		got, ok := events.TenantFromDatabase(db)
		if got != want || ok != (want != "") {
			t.Errorf("TenantFromDatabase(%q) = %q, %v", db, got, ok)
		}
	}
}

// Versions of one document are ordered by cluster time, then by position: the writes of one MongoDB
// transaction share a cluster time and differ only in position, and a snapshot (no position) loses to
// every change of its cluster time.
func TestAfter(t *testing.T) {
	at := func(sec, inc uint32, pos string) *events.Event {
		return &events.Event{Time: events.ClusterTime{T: sec, I: inc}, Position: pos}
	}
	for _, c := range []struct {
		name       string
		newer, old *events.Event
	}{
		{"later second", at(2, 0, ""), at(1, 9, "FF")},
		{"later increment", at(1, 2, "00"), at(1, 1, "FF")},
		{"same time, later position", at(1, 1, "8200000001000000012B0204"), at(1, 1, "8200000001000000012B0202")},
		{"same time, a change beats the snapshot", at(1, 1, events.PositionFromTimestamp(events.ClusterTime{T: 1, I: 1})), at(1, 1, "")},
	} {
		if !c.newer.After(c.old) || c.old.After(c.newer) {
			t.Errorf("%s: After does not put the newer version first", c.name)
		}
	}
	if got := events.PositionFromTimestamp(events.ClusterTime{T: 0x6a1b2c3d, I: 7}); got != "826A1B2C3D00000007" {
		t.Errorf("PositionFromTimestamp = %s, want MongoDB's KeyString timestamp prefix", got)
	}
	e := valid()
	e.Position = "826A1B2C3D00000007"
	b, err := events.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := events.Decode(b); err != nil || got.Position != e.Position {
		t.Fatalf("position round trip = %+v, %v", got, err)
	}
}
