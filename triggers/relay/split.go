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
// follows every fragment's); false while fragments are pending.
//
// Fragments that cannot make a whole event (one missing, out of order, or a change that is not a
// fragment coming before the last) are returned in dropped, with err saying why, so the caller can
// record the event's document for a backfill; that event is never published in pieces. A first fragment
// always starts a new event, so a gap costs only the event it broke, never the next one.
func (f *fragments) add(change bson.Raw) (whole bson.Raw, done bool, dropped []bson.Raw, err error) {
	split, isSplit := change.Lookup("splitEvent").DocumentOK()
	if !isSplit {
		if len(f.parts) > 0 {
			dropped, f.parts = f.parts, nil
			return change, true, dropped, fmt.Errorf("split change event ended after %d fragments, before its last", len(dropped))
		}
		return change, true, nil, nil
	}
	n, of := intValue(split.Lookup("fragment")), intValue(split.Lookup("of"))
	if n == 1 && len(f.parts) > 0 && of >= 1 {
		dropped, f.parts = f.parts, nil
		err = fmt.Errorf("split change event: a new event began after %d fragments, before the last", len(dropped))
	} else if n != len(f.parts)+1 || of < n {
		got := len(f.parts)
		dropped, f.parts = append(f.parts, change), nil
		return nil, false, dropped, fmt.Errorf("split change event: fragment %d of %d after %d fragments", n, of, got)
	}
	f.parts = append(f.parts, change)
	if n < of {
		return nil, false, dropped, err
	}
	var fields bson.D
	for _, p := range f.parts {
		elems, perr := p.Elements()
		if perr != nil {
			dropped, f.parts = append(dropped, f.parts...), nil
			return nil, false, dropped, fmt.Errorf("split change event: %w", perr)
		}
		for _, e := range elems {
			if k := e.Key(); k != "_id" && k != "splitEvent" {
				fields = append(fields, bson.E{Key: k, Value: e.Value()})
			}
		}
	}
	fields = append(bson.D{{Key: "_id", Value: change.Lookup("_id")}}, fields...)
	parts := f.parts
	f.parts = nil
	raw, merr := bson.Marshal(fields)
	if merr != nil {
		return nil, false, append(dropped, parts...), fmt.Errorf("split change event: %w", merr)
	}
	return raw, true, dropped, err
}

// lostDocument names what a set of dropped fragments changed, as far as they tell: the database and
// collection (ns) and the document's key, each from whichever fragment carried it; empty when none did.
func lostDocument(dropped []bson.Raw) (db, coll string, key any) {
	for _, p := range dropped {
		var c struct {
			NS *struct {
				DB   string `bson:"db"`
				Coll string `bson:"coll"`
			} `bson:"ns"`
			Key *struct {
				ID any `bson:"_id"`
			} `bson:"documentKey"`
		}
		if bson.Unmarshal(p, &c) != nil {
			continue
		}
		if c.NS != nil {
			db, coll = c.NS.DB, c.NS.Coll
		}
		if c.Key != nil {
			key = c.Key.ID
		}
	}
	return db, coll, key
}

func intValue(v bson.RawValue) int {
	if i, ok := v.AsInt64OK(); ok {
		return int(i)
	}
	return 0
}
