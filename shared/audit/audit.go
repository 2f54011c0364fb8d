// Package audit is edugrid's append-only, per-tenant audit log. Every entry carries the SHA-256 hash of its
// own content and of the entry before it, so editing, reordering or deleting an entry in the database breaks
// the chain, and Verify finds the first place where it breaks.
//
// The chain makes tampering evident, not impossible: someone who can write the collection can rewrite an
// entry and every hash after it, or drop entries from the end. Detecting that needs the head hash kept
// somewhere else (a report, another system); the log itself cannot vouch for its own tail.
//
// Entries live in the collection "audit_log" of the tenant database the caller passes in. Their _id is the
// sequence number, starting at 1; the unique _id is what makes two appends that read the same head collide
// instead of forking the chain.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/store"
)

// Collection is the name of the audit log collection in each tenant database.
const Collection = "audit_log"

// GenesisHash is the prev_hash of entry 1.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// MaxListLimit caps how many entries one List call returns: above the API's largest page, which reads one
// entry more to learn whether another page follows.
const MaxListLimit = 500

// MaxDetailsBytes caps the JSON encoding of Record.Details. An audit entry names what changed and who did
// it; bulk data belongs in the area's own collections, and MongoDB refuses documents over 16 MiB anyway.
const MaxDetailsBytes = 64 << 10

const (
	// maxAttempts bounds how often Append re-reads the head after losing the race for a sequence number.
	maxAttempts = 20
	// baseBackoff and maxBackoff bound the random pause between attempts (see pause).
	baseBackoff = 2 * time.Millisecond
	maxBackoff  = 64 * time.Millisecond
	// hashDomain is hashed first, so that a change to the hash layout can never verify against old entries
	// by accident; a new layout gets a new domain.
	hashDomain = "edugrid.audit.v1"
)

// Actor is who did the audited action.
type Actor struct {
	ID   string `bson:"id" json:"id"`
	Role string `bson:"role" json:"role" example:"owner"`
}

// TargetKinds returns every kind of object the log names as a target, in alphabetical order. Append and
// List refuse any other kind; an area that audits a new kind of object adds it here.
func TargetKinds() []string {
	return []string{
		"batch", "branch", "course", "enrolment", "escalation_rules", "exam_test", "fee_assignment", "fee_instalment",
		"fee_payment", "fee_plan", "fee_refund", "fee_waiver", "grading_scale", "guardian", "lead",
		"learning_lesson", "learning_module", "payment_gateway_account", "payment_request", "payment_review",
		"session", "student", "tenant", "user",
	}
}

// KnownKind reports whether kind is one of TargetKinds.
func KnownKind(kind string) bool { return slices.Contains(TargetKinds(), kind) }

// Target is what the audited action was done to. Kind is one of TargetKinds.
type Target struct {
	Kind string `bson:"kind" json:"kind"`
	ID   string `bson:"id" json:"id"`
}

// Record is what a caller asks Append to log.
type Record struct {
	Actor  Actor
	Action string // dotted, area first, e.g. "fees.payment.refund"; required
	Target Target
	// Details is encoded with encoding/json (map keys sorted), so it must be JSON-encodable and at most
	// MaxDetailsBytes once encoded. nil is stored as "null".
	Details   any
	RequestID string
	// At is when the action happened, normally the caller's clock.Now(); required. It is stored in UTC and
	// truncated to milliseconds, the precision MongoDB keeps.
	At time.Time
}

// Entry is one stored audit log entry.
type Entry struct {
	Seq    int64     `bson:"_id" json:"seq"`
	At     time.Time `bson:"at" json:"at"`
	Actor  Actor     `bson:"actor" json:"actor"`
	Action string    `bson:"action" json:"action"`
	Target Target    `bson:"target" json:"target"`
	// Details is the JSON encoding of Record.Details. It is kept as a string rather than a BSON document
	// because BSON would not give back the same bytes (number types, key order), and the hash covers them.
	Details   string `bson:"details" json:"details"`
	RequestID string `bson:"request_id" json:"request_id"`
	PrevHash  string `bson:"prev_hash" json:"prev_hash"`
	Hash      string `bson:"hash" json:"hash"`
}

// View is an entry as the API serves it: the same fields, with Details as the JSON object it was recorded
// as (the very bytes the hash covers) rather than that object's encoding in a string.
type View struct {
	Seq       int64           `json:"seq"`
	At        time.Time       `json:"at"`
	Actor     Actor           `json:"actor"`
	Action    string          `json:"action"`
	Target    Target          `json:"target"`
	Details   json.RawMessage `json:"details"`
	RequestID string          `json:"request_id"`
	PrevHash  string          `json:"prev_hash"`
	Hash      string          `json:"hash"`
}

// View returns e as the API serves it. Every area records an object; details recorded as anything else
// (null, a list, a number) are served as {"value": …}.
func (e Entry) View() View {
	v := View{Seq: e.Seq, At: e.At, Actor: e.Actor, Action: e.Action, Target: e.Target,
		RequestID: e.RequestID, PrevHash: e.PrevHash, Hash: e.Hash}
	raw := []byte(strings.TrimSpace(e.Details))
	switch {
	case !json.Valid(raw):
		// Not JSON, which Append never writes: shown as the text it is.
		quoted, _ := json.Marshal(e.Details)
		v.Details = append(append([]byte(`{"value":`), quoted...), '}')
	case raw[0] == '{':
		v.Details = raw
	default:
		v.Details = append(append([]byte(`{"value":`), raw...), '}')
	}
	return v
}

// DecodeDetails unmarshals e.Details into v with encoding/json.
func (e Entry) DecodeDetails(v any) error {
	return json.Unmarshal([]byte(e.Details), v)
}

// ComputeHash returns the hex SHA-256 of e's content and e.PrevHash; e.Hash itself is not covered. The
// encoding length-prefixes every field, so no two different entries encode to the same bytes.
func (e Entry) ComputeHash() string {
	h := sha256.New()
	writeField(h, hashDomain)
	writeField(h, strconv.FormatInt(e.Seq, 10))
	writeField(h, e.At.UTC().Format(time.RFC3339Nano))
	writeField(h, e.Actor.ID)
	writeField(h, e.Actor.Role)
	writeField(h, e.Action)
	writeField(h, e.Target.Kind)
	writeField(h, e.Target.ID)
	writeField(h, e.Details)
	writeField(h, e.RequestID)
	writeField(h, e.PrevHash)
	return hex.EncodeToString(h.Sum(nil))
}

func writeField(h hash.Hash, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	_, _ = h.Write(n[:])
	_, _ = io.WriteString(h, s)
}

// EnsureIndexes creates the audit log's indexes in db. It is idempotent; run it when a tenant database is
// provisioned or at start-up. The unique _id, which orders and protects the chain, needs no index of its own.
func EnsureIndexes(ctx context.Context, db lungo.IDatabase) error {
	// List filters on the target and pages by _id; ending the key with _id lets that be a pure index scan.
	_, err := db.Collection(Collection).Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "target.kind", Value: 1}, {Key: "target.id", Value: 1}, {Key: "_id", Value: 1}},
		Options: options.Index().SetName("target_seq"),
	})
	if err != nil {
		return fmt.Errorf("audit: create indexes in %s: %w", db.Name(), err)
	}
	return nil
}

// Append adds r to the end of db's audit log and returns the stored entry.
//
// It returns an apperr Invalid error when r.Action or r.Actor.ID is empty, r.At is zero, r.Target.Kind is
// not one of TargetKinds, a string field is
// not valid UTF-8, or r.Details cannot be encoded as JSON or is larger than MaxDetailsBytes.
//
// Outside a transaction, an append that loses the race for the next sequence number to a concurrent append
// re-reads the head and tries again; after 20 lost races it returns an apperr Conflict error.
//
// When ctx is the context store.Tx hands to its function, the entry is read and written inside that
// transaction and appears only if it commits. Append then makes a single attempt: a lost race returns an
// apperr Conflict error (wrapping the database error, so store.IsDuplicateKey and the driver's
// transient-error retry still see it), and the caller's transaction must fail with it. Append recognises
// the transaction by the session the context carries, so any session context gets the single attempt. On
// the embedded engine a context derived from the session context (WithTimeout, WithValue) still joins the
// transaction but is not recognised; that is harmless there, because the engine runs one transaction at a
// time and no other append can take the sequence number meanwhile.
//
// Any other error is a database failure.
func Append(ctx context.Context, db lungo.IDatabase, r Record) (Entry, error) {
	e, err := newEntry(r)
	if err != nil {
		return Entry{}, err
	}
	coll := db.Collection(Collection)

	if inSession(ctx) {
		// Retrying here would be wrong: on MongoDB the failed insert has already aborted the transaction, and
		// a fresh read inside the same snapshot would see the same stale head.
		err := appendOnce(ctx, coll, &e)
		if store.IsDuplicateKey(err) {
			return Entry{}, conflict(err)
		}
		if err != nil {
			return Entry{}, err
		}
		return e, nil
	}

	var lastErr error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		err := appendOnce(ctx, coll, &e)
		if err == nil {
			return e, nil
		}
		if !store.IsDuplicateKey(err) {
			return Entry{}, err
		}
		lastErr = err
		if attempt == maxAttempts {
			break
		}
		if err := pause(ctx, attempt); err != nil {
			return Entry{}, fmt.Errorf("audit: append to %s: %w", db.Name(), err)
		}
	}
	return Entry{}, conflict(lastErr)
}

// newEntry validates r and fills in everything of the entry that does not depend on the head.
func newEntry(r Record) (Entry, error) {
	if strings.TrimSpace(r.Action) == "" {
		return Entry{}, apperr.Field("action", apperr.FieldRequired, "is required")
	}
	if strings.TrimSpace(r.Actor.ID) == "" {
		return Entry{}, apperr.Field("actor.id", apperr.FieldRequired, "is required")
	}
	if r.At.IsZero() {
		return Entry{}, apperr.Field("at", apperr.FieldRequired, "is required")
	}
	if !KnownKind(r.Target.Kind) {
		return Entry{}, apperr.Field("target.kind", apperr.FieldNotAllowed, "must be one of "+strings.Join(TargetKinds(), ", "))
	}
	// Invalid UTF-8 might not come back from the database byte for byte, and then the entry would never
	// verify; better to refuse it now than to log an entry that looks tampered with.
	for _, f := range []struct{ name, value string }{
		{"action", r.Action}, {"actor.id", r.Actor.ID}, {"actor.role", r.Actor.Role},
		{"target.kind", r.Target.Kind}, {"target.id", r.Target.ID}, {"request_id", r.RequestID},
	} {
		if !utf8.ValidString(f.value) {
			return Entry{}, apperr.Field(f.name, apperr.FieldFormat, "is not valid UTF-8")
		}
	}
	details, err := json.Marshal(r.Details)
	if err != nil {
		return Entry{}, apperr.Field("details", apperr.FieldFormat, "cannot be encoded as JSON")
	}
	if len(details) > MaxDetailsBytes {
		return Entry{}, apperr.Field("details", apperr.FieldTooLong, fmt.Sprintf("is larger than %d bytes", MaxDetailsBytes))
	}
	return Entry{
		// Truncated before hashing: MongoDB keeps milliseconds, so the hash must cover what will come back.
		At:        r.At.UTC().Truncate(time.Millisecond),
		Actor:     r.Actor,
		Action:    r.Action,
		Target:    r.Target,
		Details:   string(details),
		RequestID: r.RequestID,
	}, nil
}

// appendOnce reads the head, chains e to it and inserts e. A duplicate-key error means another append took
// the sequence number first.
func appendOnce(ctx context.Context, coll lungo.ICollection, e *Entry) error {
	var head struct {
		Seq  int64  `bson:"_id"`
		Hash string `bson:"hash"`
	}
	err := coll.FindOne(ctx, bson.D{}, options.FindOne().
		SetSort(bson.D{{Key: "_id", Value: -1}}).
		SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "hash", Value: 1}}),
	).Decode(&head)
	switch {
	case store.IsNotFound(err):
		e.Seq, e.PrevHash = 1, GenesisHash
	case err != nil:
		return fmt.Errorf("audit: read head of %s: %w", Collection, err)
	default:
		e.Seq, e.PrevHash = head.Seq+1, head.Hash
	}
	e.Hash = e.ComputeHash()
	if _, err := coll.InsertOne(ctx, e); err != nil {
		return fmt.Errorf("audit: insert entry %d: %w", e.Seq, err)
	}
	return nil
}

// inSession reports whether ctx carries a session, which store.Tx always does. The driver's session is
// found even through derived contexts; the embedded engine keeps its session under a private key, so there
// store.Tx's own mark (or a bare lungo.ISessionContext) is what is recognised.
func inSession(ctx context.Context) bool {
	if store.InTx(ctx) {
		return true
	}
	if _, ok := ctx.(lungo.ISessionContext); ok {
		return true
	}
	return mongo.SessionFromContext(ctx) != nil
}

// pause sleeps a random time below a bound that doubles with each attempt ("full jitter"). Every appender
// that read the same head collides at once; a fixed or slowly growing pause keeps them in step, and with 20
// of them some lost 15 races in a row, while the doubling bound lets them spread out within a few rounds.
func pause(ctx context.Context, attempt int) error {
	d := min(baseBackoff<<min(attempt-1, 16), maxBackoff)
	t := time.NewTimer(rand.N(d) + 1)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// conflictError is an apperr Conflict that still unwraps to the database error. The driver looks for its
// transient-transaction label only through single-error Unwrap chains, and the duplicate-key checks need the
// cause, so fmt.Errorf with two %w would not do.
type conflictError struct {
	app   *apperr.Error
	cause error
}

func conflict(cause error) error {
	return &conflictError{
		app:   apperr.Errorf(apperr.Conflict, "The audit log changed at the same moment; please try again."),
		cause: cause,
	}
}

func (e *conflictError) Error() string { return e.app.Error() + ": " + e.cause.Error() }
func (e *conflictError) Unwrap() error { return e.cause }

// As lets errors.As (and so apperr.As and apperr.CodeOf) find the *apperr.Error.
func (e *conflictError) As(target any) bool {
	if p, ok := target.(**apperr.Error); ok {
		*p = e.app
		return true
	}
	return false
}

// List returns target's entries with a sequence number above afterSeq, oldest first, at most limit of them;
// a limit outside 1..MaxListLimit means MaxListLimit. To page, pass the last returned Seq as afterSeq. It
// returns an apperr Invalid error when target.Kind or target.ID is empty or the kind is not one of
// TargetKinds; any other error is a database
// failure. The result is never nil.
func List(ctx context.Context, db lungo.IDatabase, target Target, afterSeq int64, limit int) ([]Entry, error) {
	if target.Kind == "" {
		return nil, apperr.Field("target.kind", apperr.FieldRequired, "is required")
	}
	if !KnownKind(target.Kind) {
		return nil, apperr.Field("target.kind", apperr.FieldNotAllowed, "must be one of "+strings.Join(TargetKinds(), ", "))
	}
	if target.ID == "" {
		return nil, apperr.Field("target.id", apperr.FieldRequired, "is required")
	}
	if limit <= 0 || limit > MaxListLimit {
		limit = MaxListLimit
	}
	filter := bson.D{
		{Key: "target.kind", Value: target.Kind},
		{Key: "target.id", Value: target.ID},
		{Key: "_id", Value: bson.D{{Key: "$gt", Value: afterSeq}}},
	}
	cur, err := db.Collection(Collection).Find(ctx, filter, options.Find().
		SetSort(bson.D{{Key: "_id", Value: 1}}).
		SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("audit: list %s/%s: %w", target.Kind, target.ID, err)
	}
	entries := make([]Entry, 0, min(limit, 16))
	if err := cur.All(ctx, &entries); err != nil {
		return nil, fmt.Errorf("audit: list %s/%s: %w", target.Kind, target.ID, err)
	}
	return entries, nil
}

// Report is the outcome of Verify.
type Report struct {
	Entries int64 `json:"entries"` // entries in the log
	OK      bool  `json:"ok"`      // the whole chain verified
	// FirstBad is the sequence number where the chain first breaks: the first entry whose hash or prev_hash
	// is wrong, or the first missing sequence number. 0 when OK.
	FirstBad int64  `json:"first_bad"`
	Problem  string `json:"problem,omitempty"` // what is wrong at FirstBad, for people; "" when OK
}

// Verify walks db's whole audit log in sequence order and checks that sequence numbers run 1, 2, 3, ...
// without gaps, that each entry's hash matches its content and that each prev_hash is the hash of the entry
// before. A broken chain is reported in the Report (OK false), not as an error; the error is for database
// failures only. Entries deleted from the end of the log cannot be detected here (see the package comment).
func Verify(ctx context.Context, db lungo.IDatabase) (Report, error) {
	cur, err := db.Collection(Collection).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return Report{}, fmt.Errorf("audit: verify %s: %w", db.Name(), err)
	}
	// A cancelled ctx must not stop the close, or the server keeps the cursor open until it times out.
	defer func() { _ = cur.Close(context.WithoutCancel(ctx)) }()

	rep := Report{OK: true}
	prevHash := GenesisHash
	for cur.Next(ctx) {
		rep.Entries++
		if !rep.OK {
			// Keep counting so Entries means the same whether or not the chain is intact.
			continue
		}
		expected := rep.Entries
		var e Entry
		if err := cur.Decode(&e); err != nil {
			rep.fail(expected, fmt.Sprintf("entry %d cannot be decoded: %v", expected, err))
			continue
		}
		switch {
		case e.Seq > expected:
			rep.fail(expected, fmt.Sprintf("entry %d is missing (next is %d)", expected, e.Seq))
		case e.Seq < expected:
			rep.fail(expected, fmt.Sprintf("unexpected sequence number %d where %d was expected", e.Seq, expected))
		case e.Hash != e.ComputeHash():
			rep.fail(e.Seq, fmt.Sprintf("entry %d does not match its hash", e.Seq))
		case e.PrevHash != prevHash:
			rep.fail(e.Seq, fmt.Sprintf("entry %d does not link to entry %d", e.Seq, e.Seq-1))
		}
		prevHash = e.Hash
	}
	if err := cur.Err(); err != nil {
		return Report{}, fmt.Errorf("audit: verify %s: %w", db.Name(), err)
	}
	return rep, nil
}

func (r *Report) fail(seq int64, problem string) {
	r.OK, r.FirstBad, r.Problem = false, seq, problem
}
