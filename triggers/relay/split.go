package relay

import (
	"fmt"

	"go.mongodb.org/mongo-driver/bson"
)

// fragments reassembles change events MongoDB 7.0+ split ($changeStreamSplitLargeEvent) because they
// exceeded 16 MB: fragment n of m carries some of the event's top-level fields and splitEvent {fragment,
// of}, each with its own resume token. Not safe for concurrent use (the stream reader's own).
type fragments struct {
	parts []bson.Raw
}

// add takes the stream's next change. It returns the whole change and true for a change that was not
// split, or once the last fragment of a split one arrived (with the last fragment's _id, whose position
// follows every fragment's); false while fragments are pending. A fragment out of order drops what was
// pending and is an error: that event cannot be rebuilt.
func (f *fragments) add(change bson.Raw) (bson.Raw, bool, error) {
	split, isSplit := change.Lookup("splitEvent").DocumentOK()
	if !isSplit {
		if len(f.parts) > 0 {
			f.parts = nil
			return change, true, fmt.Errorf("split change event ended after %d fragments, before its last", len(f.parts))
		}
		return change, true, nil
	}
	n, of := intValue(split.Lookup("fragment")), intValue(split.Lookup("of"))
	if n != len(f.parts)+1 || of < n {
		got := len(f.parts)
		f.parts = nil
		return nil, false, fmt.Errorf("split change event: fragment %d of %d after %d fragments", n, of, got)
	}
	f.parts = append(f.parts, change)
	if n < of {
		return nil, false, nil
	}
	var whole bson.D
	for _, p := range f.parts {
		elems, err := p.Elements()
		if err != nil {
			f.parts = nil
			return nil, false, fmt.Errorf("split change event: %w", err)
		}
		for _, e := range elems {
			if k := e.Key(); k != "_id" && k != "splitEvent" {
				whole = append(whole, bson.E{Key: k, Value: e.Value()})
			}
		}
	}
	whole = append(bson.D{{Key: "_id", Value: change.Lookup("_id")}}, whole...)
	f.parts = nil
	raw, err := bson.Marshal(whole)
	if err != nil {
		return nil, false, fmt.Errorf("split change event: %w", err)
	}
	return raw, true, nil
}

func intValue(v bson.RawValue) int {
	if i, ok := v.AsInt64OK(); ok {
		return int(i)
	}
	return 0
}
