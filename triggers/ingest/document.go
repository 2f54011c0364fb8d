package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Fields reads an event's full document, as the relay encodes it (MongoDB relaxed Extended JSON), for a
// transform. Each accessor returns the value the warehouse column takes, or nil when the field is absent
// or null: documents written by older code may lack newer fields, and that is not an error. A field of
// the wrong type is: the first one is kept and reported by Err, and the event stays a raw change only.
type Fields struct {
	doc  map[string]any
	err  error
	root *Fields // nested objects report their errors to the document's Fields
}

// ParseFields decodes a document's JSON.
func ParseFields(raw []byte) (*Fields, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var d map[string]any
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("parse document: %w", err)
	}
	return &Fields{doc: d}, nil
}

// Err is the first type error any accessor met, on the document or any object within it.
func (f *Fields) Err() error { return f.top().err }

func (f *Fields) top() *Fields {
	if f.root != nil {
		return f.root
	}
	return f
}

func (f *Fields) fail(k, want string) any {
	if t := f.top(); t.err == nil {
		t.err = fmt.Errorf("field %s: want %s, have %v", k, want, f.doc[k])
	}
	return nil
}

// String reads a string.
func (f *Fields) String(k string) any {
	switch v := f.doc[k].(type) {
	case nil:
		return nil
	case string:
		return v
	}
	return f.fail(k, "a string")
}

// Int reads an integer as int64 (Extended JSON's {"$numberLong": …} included).
func (f *Fields) Int(k string) any {
	switch v := f.doc[k].(type) {
	case nil:
		return nil
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n
		}
	case map[string]any:
		if s, ok := v["$numberLong"].(string); ok {
			if n, err := json.Number(s).Int64(); err == nil {
				return n
			}
		}
	}
	return f.fail(k, "an integer")
}

// Float reads a number as float64 (Extended JSON's {"$numberDouble": …}, {"$numberInt": …} and
// {"$numberLong": …} included).
func (f *Fields) Float(k string) any {
	switch v := f.doc[k].(type) {
	case nil:
		return nil
	case json.Number:
		if n, err := v.Float64(); err == nil {
			return n
		}
	case map[string]any:
		for _, key := range []string{"$numberDouble", "$numberInt", "$numberLong"} {
			if s, ok := v[key].(string); ok {
				if n, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(n) && !math.IsInf(n, 0) {
					return n
				}
			}
		}
	}
	return f.fail(k, "a number")
}

// Bool reads a boolean.
func (f *Fields) Bool(k string) any {
	switch v := f.doc[k].(type) {
	case nil:
		return nil
	case bool:
		return v
	}
	return f.fail(k, "a boolean")
}

// Time reads an Extended JSON date ({"$date": "…"} or {"$date": {"$numberLong": "…"}}) as UTC.
func (f *Fields) Time(k string) any {
	v := f.doc[k]
	if v == nil {
		return nil
	}
	if m, ok := v.(map[string]any); ok {
		switch d := m["$date"].(type) {
		case string:
			if t, err := time.Parse(time.RFC3339Nano, d); err == nil {
				return t.UTC()
			}
		case map[string]any:
			if s, ok := d["$numberLong"].(string); ok {
				if ms, err := json.Number(s).Int64(); err == nil {
					return time.UnixMilli(ms).UTC()
				}
			}
		}
	}
	return f.fail(k, "a date")
}

// Day reads a calendar day "YYYY-MM-DD" as midnight UTC of that day.
func (f *Fields) Day(k string) any {
	switch v := f.doc[k].(type) {
	case nil:
		return nil
	case string:
		if t, err := time.Parse(time.DateOnly, v); err == nil {
			return t
		}
	}
	return f.fail(k, "a day YYYY-MM-DD")
}

// JSON re-encodes any field (an array, an object) as JSON text.
func (f *Fields) JSON(k string) any {
	v := f.doc[k]
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return f.fail(k, "JSON")
	}
	return string(b)
}

// Objects returns the objects of the array in field k (none when absent); an element that is not an
// object is a type error.
func (f *Fields) Objects(k string) []*Fields {
	v := f.doc[k]
	if v == nil {
		return nil
	}
	arr, ok := v.([]any)
	if !ok {
		f.fail(k, "an array")
		return nil
	}
	out := make([]*Fields, 0, len(arr))
	for _, e := range arr {
		m, ok := e.(map[string]any)
		if !ok {
			f.fail(k, "an array of objects")
			return nil
		}
		out = append(out, &Fields{doc: m, root: f.top()})
	}
	return out
}

// Nested returns the fields of the object in field k (empty when absent).
func (f *Fields) Nested(k string) *Fields {
	m, ok := f.doc[k].(map[string]any)
	if !ok && f.doc[k] != nil {
		f.fail(k, "an object")
	}
	return &Fields{doc: m, root: f.top()}
}
