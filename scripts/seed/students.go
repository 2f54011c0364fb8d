package seed

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/edugrid/edugrid/functions/academic"
	"github.com/edugrid/edugrid/functions/all"
	"github.com/edugrid/edugrid/functions/students"
	"github.com/edugrid/edugrid/functions/users"
	"github.com/edugrid/edugrid/shared/account"
	"github.com/edugrid/edugrid/shared/app"
	"github.com/edugrid/edugrid/shared/authn"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// Demo sign-ins of the students area: the first student and the first guardian get an email, so the local
// stack can print them with the staff logins (both also sign in with their PRN).
const (
	demoStudentEmail  = "student@demo.test"
	demoGuardianEmail = "parent@demo.test"
)

// demoLearnerPasswords is the Argon2id cost of the seeded students' and guardians' accounts.
var demoLearnerPasswords = authn.PasswordParams{MemoryKiB: 1024, Time: 1, Threads: 1}

var firstNames = []string{"Aarav", "Diya", "Vihaan", "Ananya", "Arjun", "Isha", "Kabir", "Meera", "Rohan", "Saanvi",
	"Aditya", "Kiara", "Reyansh", "Myra", "Vivaan", "Anika", "Krishna", "Tara", "Ishaan", "Zara"}

var lastNames = []string{"Sharma", "Iyer", "Patel", "Reddy", "Khan", "Nair", "Gupta", "Das", "Menon", "Singh"}

// seedStudents adds the academic and students areas' demo data to the demo tenant: three courses, two
// batches in each branch running from last month for six months with weekly schedules (their sessions
// materialised), 40 students with guardians (every fifth guardian has two children) and enrolments.
// tctx is the owner's request-like context on the demo tenant.
func seedStudents(tctx context.Context, a *app.App, svcs *all.Services, password string, main, north *users.Branch) error {
	db := store.Database(tctx)
	teacher := func(email string) (string, error) {
		u, err := account.ByEmail(tctx, db, email)
		if err != nil {
			return "", fmt.Errorf("seed: teacher %s: %w", email, err)
		}
		return u.ID, nil
	}
	tMain, err := teacher("teacher.main@demo.test")
	if err != nil {
		return err
	}
	tNorth, err := teacher("teacher.north@demo.test")
	if err != nil {
		return err
	}

	acad := svcs.Academic
	courses := map[string]*academic.Course{}
	for _, c := range []academic.NewCourse{
		{Code: "JEE-2027", Name: "JEE Main and Advanced 2027", Subjects: []string{"Physics", "Chemistry", "Mathematics"}},
		{Code: "NEET-2027", Name: "NEET 2027", Subjects: []string{"Physics", "Chemistry", "Biology"}},
		{Code: "FOUNDATION-10", Name: "Class 10 Foundation", Subjects: []string{"Mathematics", "Science"}},
	} {
		created, err := acad.CreateCourse(tctx, c)
		if err != nil {
			return fmt.Errorf("seed course %s: %w", c.Code, err)
		}
		courses[c.Code] = created
	}

	today := a.Clock.Now().In(tenant.FromContext(tctx).Location())
	start := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
	end := start.AddDate(0, 6, -1)
	type batchSpec struct {
		course, name string
		branch       *users.Branch
		teacher      string
		schedule     []academic.Slot
	}
	specs := []batchSpec{
		{"JEE-2027", "JEE Morning", main, tMain, []academic.Slot{{Weekday: "monday", Start: "07:30", DurationMinutes: 120}, {Weekday: "wednesday", Start: "07:30", DurationMinutes: 120}, {Weekday: "friday", Start: "07:30", DurationMinutes: 120}}},
		{"NEET-2027", "NEET Evening", main, tMain, []academic.Slot{{Weekday: "tuesday", Start: "17:00", DurationMinutes: 90}, {Weekday: "thursday", Start: "17:00", DurationMinutes: 90}}},
		{"JEE-2027", "JEE Weekend", north, tNorth, []academic.Slot{{Weekday: "saturday", Start: "09:00", DurationMinutes: 180}, {Weekday: "sunday", Start: "09:00", DurationMinutes: 180}}},
		{"FOUNDATION-10", "Foundation After School", north, tNorth, []academic.Slot{{Weekday: "monday", Start: "16:00", DurationMinutes: 60}, {Weekday: "thursday", Start: "16:00", DurationMinutes: 60}}},
	}
	batches := map[string][]*academic.Batch{}
	for _, sp := range specs {
		b, err := acad.CreateBatch(tctx, academic.NewBatch{
			CourseID: courses[sp.course].ID, BranchID: sp.branch.ID, Name: sp.name, Teachers: []string{sp.teacher},
			Capacity: 15, StartDate: start.Format(time.DateOnly), EndDate: end.Format(time.DateOnly), Schedule: sp.schedule,
		})
		if err != nil {
			return fmt.Errorf("seed batch %s: %w", sp.name, err)
		}
		batches[sp.branch.ID] = append(batches[sp.branch.ID], b)
	}

	// Every demo account shares the published demo password, so Argon2id's cost protects nothing here; the
	// learners' 70-odd accounts are hashed with light parameters (stored in each hash, so sign-in verifies
	// them as usual), which takes the first start of the local stack from over a minute to seconds under
	// the race detector. Accounts made through the API keep the full cost.
	learners := *a
	learners.Passwords = demoLearnerPasswords
	svc := all.Build(&learners, all.Options{}).Students
	enrolFrom := start.Format(time.DateOnly)
	// The students and guardians are admitted in one transaction: on the local stack every commit rewrites
	// and syncs the database file, and one commit instead of about 350 is what keeps the first start quick.
	type admitted struct {
		student *students.Student
		branch  *users.Branch
	}
	var all []admitted
	err = store.Tx(tctx, db, func(tc context.Context) error {
		all = all[:0] // the driver may run this function again
		var guardian *students.Guardian
		for i := range 40 {
			branch := main
			if i%2 == 1 {
				branch = north
			}
			first, last := firstNames[i%len(firstNames)], lastNames[(i/2)%len(lastNames)]
			in := students.NewStudent{
				Name: first + " " + last, DateOfBirth: fmt.Sprintf("%d-%02d-%02d", 2008+i%4, 1+i%12, 1+i%28),
				Phone: fmt.Sprintf("+9198%08d", 10000000+i), BranchID: branch.ID, Password: password,
			}
			if i == 0 {
				in.Email = demoStudentEmail
			}
			st, err := svc.CreateStudent(tc, in)
			if err != nil {
				return fmt.Errorf("seed student %d: %w", i, err)
			}
			// Every fifth student is the younger sibling of the one before: same guardian, found by phone.
			g := students.NewGuardian{StudentID: st.ID, Name: "Parent of " + first + " " + last,
				Phone: fmt.Sprintf("+9197%08d", 20000000+i), Password: password}
			if i%5 == 4 && guardian != nil {
				g = students.NewGuardian{StudentID: st.ID, Phone: guardian.Phone}
			} else if i == 0 {
				g.Email = demoGuardianEmail
			}
			if guardian, err = svc.AddGuardian(tc, g); err != nil {
				return fmt.Errorf("seed guardian of student %d: %w", i, err)
			}
			all = append(all, admitted{st, branch})
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Enrolments take their own transactions (seat and enrolment together), so they come after.
	for i, ad := range all {
		// Three in four students are in one batch of their branch; some of them in a second one too.
		k := i / 2 // the student's place in their branch
		if k%4 == 3 {
			continue
		}
		own := batches[ad.branch.ID]
		if _, err := svc.Enrol(tctx, students.NewEnrolment{StudentID: ad.student.ID, BatchID: own[k%len(own)].ID, From: enrolFrom}); err != nil {
			return fmt.Errorf("seed enrolment of student %d: %w", i, err)
		}
		if k%6 == 0 {
			if _, err := svc.Enrol(tctx, students.NewEnrolment{StudentID: ad.student.ID, BatchID: own[(k+1)%len(own)].ID, From: enrolFrom}); err != nil {
				return fmt.Errorf("seed second enrolment of student %d: %w", i, err)
			}
		}
	}
	a.Logger.Info("seeded courses, batches, students, guardians and enrolments",
		slog.Int("courses", len(courses)), slog.Int("batches", len(specs)), slog.Int("students", 40))
	return nil
}
