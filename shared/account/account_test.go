package account_test

import (
	"context"
	"testing"
	"time"

	"github.com/256dpi/lungo"

	"github.com/edugrid/edugrid/shared/account"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/authn"
	"github.com/edugrid/edugrid/shared/prnum"
	"github.com/edugrid/edugrid/shared/rbac"
)

// An email already taken is refused with Conflict and leaves the PRN sequence as it was: the refused
// request writes nothing, and the next account gets the next number.
func TestCreateConflictAllocatesNoPRN(t *testing.T) {
	ctx := context.Background()
	client, engine, err := lungo.Open(ctx, lungo.Options{Store: lungo.NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(engine.Close)
	db := client.Database("edu_test")
	if err := account.EnsureIndexes(ctx, db); err != nil {
		t.Fatal(err)
	}
	cheap := authn.PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1}
	now := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	create := func(email string) (*account.User, error) {
		return account.Create(ctx, db, account.NewUser{Email: email, Name: "N", Role: rbac.Teacher, Password: "test-password-1", TenantNumber: 7, Year: 2026}, cheap, now)
	}
	first, err := create("a@example.test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := create("a@example.test"); apperr.CodeOf(err) != apperr.Conflict {
		t.Fatalf("second account with the same email: %v, want conflict", err)
	}
	second, err := create("b@example.test")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := prnum.PRN(second.PRN).Seq(), prnum.PRN(first.PRN).Seq()+1; got != want {
		t.Fatalf("after a refused create the next PRN has sequence %d, want %d: the refusal burnt a number", got, want)
	}
}
