package app

import (
	"context"
	"fmt"

	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
)

// Audit appends an entry to the request's tenant audit log, with the caller as actor, the app clock's
// time and the request id. Given the context of a store.Tx, the entry joins that transaction. Only
// tenant-scoped routes call it (it needs the principal and the tenant database in ctx).
func (a *App) Audit(ctx context.Context, action string, target audit.Target, details any) error {
	p := rbac.Must(ctx)
	_, err := audit.Append(ctx, store.Database(ctx), audit.Record{
		Actor: audit.Actor{ID: p.Subject, Role: string(p.Role)}, Action: action, Target: target,
		Details: details, At: a.Clock.Now(), RequestID: httpapi.RequestID(ctx),
	})
	if err != nil {
		return fmt.Errorf("record %s %s: %w", action, target.ID, err)
	}
	return nil
}
