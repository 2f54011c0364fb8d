// Package events is the change-event schema shared by the relay, which publishes one event per change in
// a tenant database, and the ingest function, which turns events into warehouse rows.
//
// An event is JSON, versioned by its "v" field. Decode is strict: an unknown version, an unknown field, a
// missing key or an operation that does not fit its payload is refused, so a malformed message is caught
// at the edge and acknowledged as poison instead of being half-applied.
//
// Events are delivered at least once and in no particular order. Two facts make that harmless: the event
// ID is derived from the change stream's resume token, so a redelivered or re-published event has the ID
// it had the first time; and the cluster time (seconds, increment) with the position within it orders the
// versions of one document (Event.After), so a consumer keeps the newest version whatever arrives last.
package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// Version is the schema version Encode writes and Decode accepts.
const Version = 1

// Op is what happened to the document.
type Op string

// The operations. Snapshot is not a change-stream operation: a backfill emits one per existing document,
// carrying its full state, and a consumer treats it like Replace.
const (
	Insert   Op = "insert"
	Update   Op = "update"
	Replace  Op = "replace"
	Delete   Op = "delete"
	Snapshot Op = "snapshot"
)

// Valid reports whether o is one of the operations.
func (o Op) Valid() bool {
	switch o {
	case Insert, Update, Replace, Delete, Snapshot:
		return true
	}
	return false
}

// ClusterTime is when a change happened in its cluster's history: MongoDB's operation time. A higher one
// is newer; the writes of one transaction share one, which Event.Position then orders.
type ClusterTime struct {
	T uint32 `json:"t"` // seconds since the Unix epoch
	I uint32 `json:"i"` // increment within the second
}

// Seq packs the cluster time into one integer that sorts the same way, for warehouse columns.
func (c ClusterTime) Seq() int64 { return int64(c.T)<<32 | int64(c.I) }

// MaxPosition bounds a position's length: a resume token with a document key of MaxDocumentID bytes is
// well within it.
const MaxPosition = 4096

// PositionFromTimestamp returns the position of a resume token that holds only a cluster time (the
// embedded engine's): the form MongoDB's hex KeyString tokens start with (0x82, then the seconds and
// the increment big-endian), so both engines' positions compare alike.
func PositionFromTimestamp(t ClusterTime) string { return fmt.Sprintf("82%08X%08X", t.T, t.I) }

// After reports whether e is a newer version of its document than o: a later cluster time, or the same
// one and a later position. Versions of one document never share both (the same position is the same
// event), so of two distinct versions exactly one is After the other.
func (e *Event) After(o *Event) bool {
	if e.Time != o.Time {
		return e.Time.Seq() > o.Time.Seq()
	}
	return e.Position > o.Position
}

// Event is one change to one document of one tenant.
type Event struct {
	V int `json:"v"`
	// ID identifies the change: the SHA-256 of the resume token's bytes, hex (see IDFromToken). Consumers
	// deduplicate by it.
	ID         string      `json:"id"`
	Tenant     string      `json:"tenant"`
	Collection string      `json:"collection"`
	Op         Op          `json:"op"`
	DocumentID string      `json:"document_id"`
	Time       ClusterTime `json:"cluster_time"`
	// Position orders events of one cluster time: on MongoDB every write of a transaction shares its
	// commit's cluster time, and only the resume token tells them apart. It is the token's position
	// (PositionFromTimestamp or the token's hex _data, upper case), compared as a string and only
	// between events of one cluster time. A backfill's snapshot has none, so any change at its cluster
	// time wins over it.
	Position string `json:"position,omitempty"`
	// Document is the full document after the change (Extended JSON, relaxed); absent for deletes, and
	// for updates of a document deleted since.
	Document json.RawMessage `json:"document,omitempty"`
	// Updated and Removed are an update's changed fields (dotted paths), as the change stream reports them.
	Updated json.RawMessage `json:"updated,omitempty"`
	Removed []string        `json:"removed,omitempty"`
}

// IDFromToken derives an event ID from a change stream resume token's raw bytes. A token names one point
// in a cluster's history, so its hash identifies the change across re-publishes.
func IDFromToken(token []byte) string {
	sum := sha256.Sum256(token)
	return hex.EncodeToString(sum[:])
}

// SnapshotID derives the event ID of a backfill's snapshot of one document: unique per backfill run and
// document, and the same when the run is retried.
func SnapshotID(run, tenant, collection, documentID string) string {
	sum := sha256.Sum256([]byte("snapshot\x00" + run + "\x00" + tenant + "\x00" + collection + "\x00" + documentID))
	return hex.EncodeToString(sum[:])
}

// OrderingKey is the Pub/Sub ordering key of e: one per document, so ordering never caps throughput.
func (e *Event) OrderingKey() string { return e.Tenant + "/" + e.Collection + "/" + e.DocumentID }

var (
	idPattern         = regexp.MustCompile(`^[0-9a-f]{64}$`)
	positionPattern   = regexp.MustCompile(`^(?:[0-9A-F]{2})*$`)
	slugPattern       = regexp.MustCompile(`^[a-z][a-z0-9-]{2,39}$`)
	collectionPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
)

// MaxDocumentID bounds a document id's length; ids are ours (24 hex) or short natural keys.
const MaxDocumentID = 256

// Validate checks that e is a well-formed event of this version.
func (e Event) Validate() error {
	switch {
	case e.V != Version:
		return fmt.Errorf("event: version %d, want %d", e.V, Version)
	case !idPattern.MatchString(e.ID):
		return fmt.Errorf("event: id must be 64 hex digits")
	case !slugPattern.MatchString(e.Tenant):
		return fmt.Errorf("event %s: malformed tenant %q", e.ID, e.Tenant)
	case !collectionPattern.MatchString(e.Collection):
		return fmt.Errorf("event %s: malformed collection %q", e.ID, e.Collection)
	case !e.Op.Valid():
		return fmt.Errorf("event %s: unknown operation %q", e.ID, e.Op)
	case e.DocumentID == "" || len(e.DocumentID) > MaxDocumentID:
		return fmt.Errorf("event %s: document id must be 1 to %d bytes", e.ID, MaxDocumentID)
	case e.Time.T == 0:
		return fmt.Errorf("event %s: cluster time missing", e.ID)
	case len(e.Position) > MaxPosition || !positionPattern.MatchString(e.Position):
		return fmt.Errorf("event %s: position must be upper-case hex bytes, at most %d digits", e.ID, MaxPosition)
	case e.Op == Snapshot && e.Position != "":
		return fmt.Errorf("event %s: a snapshot has no position", e.ID)
	}
	hasDoc := len(e.Document) > 0
	switch e.Op {
	case Insert, Replace, Snapshot:
		if !hasDoc {
			return fmt.Errorf("event %s: %s without a document", e.ID, e.Op)
		}
	case Delete:
		if hasDoc || len(e.Updated) > 0 || len(e.Removed) > 0 {
			return fmt.Errorf("event %s: delete with a document or fields", e.ID)
		}
	}
	if e.Op != Update && (len(e.Updated) > 0 || len(e.Removed) > 0) {
		return fmt.Errorf("event %s: changed fields on a %s", e.ID, e.Op)
	}
	if hasDoc && !isObject(e.Document) {
		return fmt.Errorf("event %s: document is not a JSON object", e.ID)
	}
	if len(e.Updated) > 0 && !isObject(e.Updated) {
		return fmt.Errorf("event %s: updated fields are not a JSON object", e.ID)
	}
	return nil
}

func isObject(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) >= 2 && t[0] == '{' && json.Valid(t)
}

// Encode validates e and returns its JSON. It sets the version.
func Encode(e *Event) ([]byte, error) {
	e.V = Version
	if err := e.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	return b, nil
}

// Decode parses and validates one event. Unknown fields, trailing data and invalid events are errors;
// such a message will never decode, so consumers acknowledge it as poison rather than retry.
func Decode(data []byte) (*Event, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var e Event
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	// More would miss a stray '}' or ']' after the object; only the end of the data is the end.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("decode event: trailing data")
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return &e, nil
}

// TenantFromDatabase returns the tenant slug of a tenant database name (edu_<slug> with '-' stored as
// '_'), and false for any other database. Slugs never hold '_', so the mapping is exact.
func TenantFromDatabase(db string) (string, bool) {
	rest, ok := strings.CutPrefix(db, "edu_")
	if !ok {
		return "", false
	}
	slug := strings.ReplaceAll(rest, "_", "-")
	if !slugPattern.MatchString(slug) || strings.HasSuffix(slug, "-") {
		return "", false
	}
	return slug, true
}
