package relay

import (
	"testing"

	"go.mongodb.org/mongo-driver/bson"
)

// A split change event is rebuilt from its fragments before it is published; fragments out of order are
// an error, never a change published in pieces.
func TestFragmentsReassemble(t *testing.T) {
	raw := func(v bson.D) bson.Raw {
		t.Helper()
		b, err := bson.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	frag := func(n, of int, fields ...bson.E) bson.Raw {
		return raw(append(bson.D{{Key: "_id", Value: bson.D{{Key: "_data", Value: "82" + string(rune('0'+n))}}},
			{Key: "splitEvent", Value: bson.D{{Key: "fragment", Value: int32(n)}, {Key: "of", Value: int32(of)}}}}, fields...))
	}
	whole := bson.D{{Key: "operationType", Value: "update"}, {Key: "ns", Value: bson.D{{Key: "db", Value: "edu_acme"}, {Key: "coll", Value: "users"}}},
		{Key: "fullDocument", Value: bson.D{{Key: "name", Value: "Ann"}}}, {Key: "updateDescription", Value: bson.D{{Key: "updatedFields", Value: bson.D{{Key: "name", Value: "Ann"}}}}}}
	for _, c := range []struct {
		name     string
		changes  []bson.Raw
		wantDone []bool
		wantErr  bool
	}{
		{"not split", []bson.Raw{raw(append(bson.D{{Key: "_id", Value: "t"}}, whole...))}, []bool{true}, false},
		{"three fragments", []bson.Raw{frag(1, 3, whole[0], whole[1]), frag(2, 3, whole[2]), frag(3, 3, whole[3])}, []bool{false, false, true}, false},
		{"a fragment missing", []bson.Raw{frag(1, 3, whole[0], whole[1]), frag(3, 3, whole[3])}, []bool{false, false}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var f fragments
			var got bson.Raw
			var err error
			for i, ch := range c.changes {
				var done bool
				var e error
				got, done, e = f.add(ch)
				if e != nil {
					err = e
				}
				if done != c.wantDone[i] {
					t.Fatalf("change %d: done %v, want %v", i, done, c.wantDone[i])
				}
			}
			if (err != nil) != c.wantErr {
				t.Fatalf("error %v, want error %v", err, c.wantErr)
			}
			if c.wantErr {
				return
			}
			if _, split := got.Lookup("splitEvent").DocumentOK(); split {
				t.Fatalf("reassembled change keeps splitEvent: %s", got)
			}
			for _, e := range whole {
				if got.Lookup(e.Key).Validate() != nil {
					t.Fatalf("reassembled change lacks %s: %s", e.Key, got)
				}
			}
			if name := got.Lookup("fullDocument", "name").StringValue(); name != "Ann" {
				t.Fatalf("fullDocument.name = %q in %s", name, got)
			}
		})
	}
}
