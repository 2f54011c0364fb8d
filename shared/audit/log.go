package audit

import (
	"context"
	"fmt"

	"github.com/256dpi/lungo"

	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/rbac"
)

// Recorder appends an entry to a tenant's audit log: the one way areas and triggers audit what they do.
// Given the context of a store.Tx, the entry joins that transaction. Errors are Append's: Conflict when the
// log's head keeps moving, Invalid for a malformed record, otherwise a database failure.
type Recorder interface {
	Record(ctx context.Context, db lungo.IDatabase, actor Actor, action string, target Target, details any) error
}

// Log is the Recorder every area is given: it stamps each entry with its clock's time and with the request
// id of ctx (none for the scheduler's runs), then appends it with Append.
type Log struct {
	Clock clock.Clock
}

var _ Recorder = Log{}

// Record appends an entry to db's audit log; see Recorder.
func (l Log) Record(ctx context.Context, db lungo.IDatabase, actor Actor, action string, target Target, details any) error {
	_, err := Append(ctx, db, Record{Actor: actor, Action: action, Target: target, Details: details,
		At: l.Clock.Now(), RequestID: httpapi.RequestID(ctx)})
	if err != nil {
		return fmt.Errorf("record %s %s: %w", action, target.ID, err)
	}
	return nil
}

// By is the actor of an action the principal p takes.
func By(p rbac.Principal) Actor { return Actor{ID: p.Subject, Role: string(p.Role)} }
