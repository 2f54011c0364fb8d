package attendance

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/functions/academic"
	"github.com/edugrid/edugrid/functions/students"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/notify"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// AbsenceKind is the notification kind of an absence alert.
const AbsenceKind = "attendance.absence"

// AbsenceID is the idempotency key of the absence alert to one guardian about one student on one date:
// whatever the number of sessions or re-markings that day, each guardian hears once.
func AbsenceID(studentID, date, guardianID string) string {
	return "absence:" + studentID + ":" + date + ":" + guardianID
}

// alertAbsences tells the guardians of each student in studentIDs that the student was absent from
// session ses. It runs after the marks committed; failures are logged (and the outbox keeps unpublished
// alerts for notify.Flush), because the marking itself succeeded.
func (s *Service) alertAbsences(ctx context.Context, ses *academic.Session, b *academic.Batch, studentIDs []string) {
	if len(studentIDs) == 0 {
		return
	}
	ns, err := absenceNotices(ctx, store.Database(ctx), tenant.FromContext(ctx).Slug, ses, b, studentIDs, s.deps.Clock.Now())
	if err == nil {
		_, err = notify.Send(ctx, store.Database(ctx), s.deps.Notifier, ns)
	}
	if err != nil {
		s.deps.Logger.Error("absence alerts", slog.String("request_id", httpapi.RequestID(ctx)),
			slog.String("session_id", ses.ID), slog.String("error", err.Error()))
	}
}

// absenceNotices builds one notification per (absent student, guardian) with two queries, however many
// students were absent. Students without a guardian get none.
func absenceNotices(ctx context.Context, db lungo.IDatabase, tenantSlug string, ses *academic.Session, b *academic.Batch, studentIDs []string, now time.Time) ([]notify.Notification, error) {
	sts, err := students.FindStudents(ctx, db, studentIDs)
	if err != nil {
		return nil, fmt.Errorf("students of absence alerts: %w", err)
	}
	var gids []string
	for _, st := range sts {
		gids = append(gids, st.GuardianIDs...)
	}
	gs, err := students.FindGuardians(ctx, db, gids)
	if err != nil {
		return nil, fmt.Errorf("guardians of absence alerts: %w", err)
	}
	byID := make(map[string]students.Guardian, len(gs))
	for _, g := range gs {
		byID[g.ID] = g
	}
	var out []notify.Notification
	for _, st := range sts {
		for _, gid := range st.GuardianIDs {
			g, ok := byID[gid]
			if !ok {
				continue
			}
			out = append(out, notify.Notification{
				ID: AbsenceID(st.ID, ses.Date, g.ID), Tenant: tenantSlug, Kind: AbsenceKind, Recipient: g.AccountID,
				Subject: fmt.Sprintf("%s was absent on %s", st.Name, ses.Date),
				Body:    fmt.Sprintf("Dear %s, %s was marked absent from %s on %s.", g.Name, st.Name, b.Name, ses.Date),
				Data: map[string]string{
					"student_id": st.ID, "student_name": st.Name, "date": ses.Date, "session_id": ses.ID, "batch_id": ses.BatchID,
					"guardian_id": g.ID, "phone": g.Phone, "email": g.Email,
				},
				CreatedAt: now,
			})
		}
	}
	return out, nil
}

func findAll[T any](ctx context.Context, coll lungo.ICollection, filter bson.M, out *[]T) error {
	cur, err := coll.Find(ctx, filter)
	if err != nil {
		return err
	}
	return cur.All(ctx, out)
}
