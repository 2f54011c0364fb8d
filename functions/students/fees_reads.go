package students

import (
	"context"
	"fmt"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/store"
)

// Reads the fees area makes of students, so that fees never names this area's collections.

// VisibleStudent returns the student when the request's caller may see them (the rule of CanSeeStudent);
// NotFound otherwise, and when there is no such student. ctx is a request context (principal and tenant
// database), possibly a store.Tx context. For callers that need the student as well as the check, so the
// student is read once.
func VisibleStudent(ctx context.Context, studentID string) (*Student, error) {
	return visibleStudent(ctx, studentID)
}

// EnrolmentByID returns an enrolment; NotFound ("no such enrolment") when there is none or the id is
// malformed. db is the tenant database; no visibility check is made, so callers check the enrolment's
// student (CanSeeStudent).
func EnrolmentByID(ctx context.Context, db lungo.IDatabase, enrolmentID string) (*Enrolment, error) {
	return store.ByID[Enrolment](ctx, db.Collection(enrolmentsCollection), enrolmentID, "enrolment")
}

// ContactsOf returns the students of studentIDs that exist, with only ID, AccountID, Name and GuardianIDs
// filled in: what a notification to them and their guardians needs. One query; db is the tenant database
// and no visibility check is made (for scheduled runs acting for the tenant).
func ContactsOf(ctx context.Context, db lungo.IDatabase, studentIDs []string) ([]Student, error) {
	cur, err := db.Collection(studentsCollection).Find(ctx, bson.M{"_id": store.In(studentIDs)},
		options.Find().SetProjection(bson.M{"account_id": 1, "name": 1, "guardian_ids": 1}))
	if err != nil {
		return nil, fmt.Errorf("contacts of %d students: %w", len(studentIDs), err)
	}
	var sts []Student
	if err := cur.All(ctx, &sts); err != nil {
		return nil, fmt.Errorf("contacts of %d students: %w", len(studentIDs), err)
	}
	return sts, nil
}

// GuardianAccounts maps each guardian of guardianIDs that exists to its sign-in account id ("" when it has
// none). One query; db is the tenant database and no visibility check is made, as for ContactsOf.
func GuardianAccounts(ctx context.Context, db lungo.IDatabase, guardianIDs []string) (map[string]string, error) {
	out := map[string]string{}
	if len(guardianIDs) == 0 {
		return out, nil
	}
	cur, err := db.Collection(guardiansCollection).Find(ctx, bson.M{"_id": store.In(guardianIDs)},
		options.Find().SetProjection(bson.M{"account_id": 1}))
	if err != nil {
		return nil, fmt.Errorf("accounts of %d guardians: %w", len(guardianIDs), err)
	}
	var gs []Guardian
	if err := cur.All(ctx, &gs); err != nil {
		return nil, fmt.Errorf("accounts of %d guardians: %w", len(guardianIDs), err)
	}
	for _, g := range gs {
		out[g.ID] = g.AccountID
	}
	return out, nil
}
