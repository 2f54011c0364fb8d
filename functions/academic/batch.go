package academic

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/account"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
)

// DateLayout is the layout of every calendar date in the area ("2026-06-01"), always a date in the
// tenant's time zone.
const DateLayout = time.DateOnly

// Batch is a course taught in one branch, by named teachers, to at most Capacity students, on a weekly
// schedule between StartDate and EndDate (tenant-local dates, both included).
type Batch struct {
	ID       string   `bson:"_id" json:"id"`
	CourseID string   `bson:"course_id" json:"course_id"`
	BranchID string   `bson:"branch_id" json:"branch_id"`
	Name     string   `bson:"name" json:"name"`
	Teachers []string `bson:"teachers" json:"teachers"`
	Capacity int      `bson:"capacity" json:"capacity"`
	// Enrolled counts the active enrolments; only ReserveSeat and ReleaseSeat change it.
	Enrolled  int       `bson:"enrolled" json:"enrolled"`
	StartDate string    `bson:"start_date" json:"start_date" format:"date"`
	EndDate   string    `bson:"end_date" json:"end_date" format:"date"`
	Schedule  []Slot    `bson:"schedule" json:"schedule"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
	UpdatedAt time.Time `bson:"updated_at" json:"updated_at"`
}

// Slot is one weekly class: a weekday, a tenant-local start time and a length.
type Slot struct {
	Weekday Weekday `bson:"weekday" json:"weekday"`
	// Start is the tenant-local wall-clock start, "HH:MM" (24 hours).
	Start           string `bson:"start" json:"start" format:"time"`
	DurationMinutes int    `bson:"duration_minutes" json:"duration_minutes"`
}

// Weekday is a day of the week in lower case, "monday" … "sunday".
type Weekday string

// weekdayNames lists the weekdays from Monday; Values and the slot validation read it.
var weekdayNames = []Weekday{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}

// Values implements httpapi.Enum.
func (Weekday) Values() []string { return httpapi.EnumValues(weekdayNames) }

// Valid reports whether v is one of Values.
func (v Weekday) Valid() bool { return slices.Contains(weekdayNames, v) }

// weekday returns w as a time.Weekday, and whether w is a weekday at all.
func (w Weekday) weekday() (time.Weekday, bool) {
	i := slices.Index(weekdayNames, w)
	if i < 0 {
		return 0, false
	}
	return time.Weekday((i + 1) % 7), true
}

// Limits on a batch, so one request cannot materialise an unbounded number of sessions. MaxSessions is the
// binding one: the embedded engine copies the collection and its oplog for every document a transaction
// inserts, so materialising n sessions costs n times the sessions already stored (1,000 sessions: 0.17 s
// into an empty tenant, 0.77 s on average over five batches in a row; BenchmarkCreateLargestBatch). A
// two-year batch meeting five times a week needs 520.
const (
	MaxCapacity  = 1000
	MaxSlots     = 21
	MaxBatchDays = 731
	MaxSessions  = 1000
)

func (sl Slot) validate(field string) error {
	var bad apperr.Problems
	if _, ok := sl.Weekday.weekday(); !ok {
		bad.Add(field+".weekday", apperr.FieldNotAllowed, "must be monday … sunday, lower case")
	}
	if _, _, err := clockTime(sl.Start); err != nil {
		bad.Add(field+".start", apperr.FieldFormat, "must be a time HH:MM")
	}
	if sl.DurationMinutes < 15 || sl.DurationMinutes > 600 {
		bad.Add(field+".duration_minutes", apperr.FieldOutOfRange, "must be 15 to 600")
	}
	return bad.Err()
}

func clockTime(s string) (hour, minute int, err error) {
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != 5 {
		return 0, 0, fmt.Errorf("bad time %q", s)
	}
	return t.Hour(), t.Minute(), nil
}

// ParseDate parses a calendar date "YYYY-MM-DD"; Invalid names field otherwise. The result is midnight UTC
// of that date, a civil date with no zone, which is what day arithmetic needs.
func ParseDate(field, s string) (time.Time, error) {
	d, err := time.Parse(DateLayout, s)
	if err != nil {
		code := apperr.FieldFormat
		if s == "" {
			code = apperr.FieldRequired
		}
		return time.Time{}, apperr.Field(field, code, "must be a date YYYY-MM-DD")
	}
	return d, nil
}

// NewBatch creates a batch.
type NewBatch struct {
	CourseID  string   `json:"course_id"`
	BranchID  string   `json:"branch_id"`
	Name      string   `json:"name"`
	Teachers  []string `json:"teachers"`
	Capacity  int      `json:"capacity"`
	StartDate string   `json:"start_date" format:"date"`
	EndDate   string   `json:"end_date" format:"date"`
	Schedule  []Slot   `json:"schedule"`
}

// Validate implements httpapi.Validator. It judges b as normalized leaves it and changes nothing.
func (b NewBatch) Validate() error {
	_, err := b.normalized()
	return err
}

// normalized returns b as it is recorded (text trimmed), or the Invalid error naming every bad field.
func (b NewBatch) normalized() (NewBatch, error) {
	var bad apperr.Problems
	httpapi.CheckID(&bad, "course_id", b.CourseID, "must be a course id")
	httpapi.CheckID(&bad, "branch_id", b.BranchID, "must be a branch id")
	if v, err := httpapi.Text("name", b.Name, 120); bad.Check(err) {
		b.Name = v
	}
	bad.Check(validateTeachers(b.Teachers))
	if b.Capacity < 1 || b.Capacity > MaxCapacity {
		bad.Add("capacity", apperr.FieldOutOfRange, fmt.Sprintf("must be 1 to %d", MaxCapacity))
	}
	start, err := ParseDate("start_date", b.StartDate)
	datesOK := bad.Check(err)
	end, err := ParseDate("end_date", b.EndDate)
	datesOK = bad.Check(err) && datesOK
	if datesOK && (end.Before(start) || end.Sub(start) > MaxBatchDays*24*time.Hour) {
		bad.Add("end_date", apperr.FieldOutOfRange, fmt.Sprintf("must be on or after start_date and within %d days of it", MaxBatchDays))
		datesOK = false
	}
	if len(b.Schedule) < 1 || len(b.Schedule) > MaxSlots {
		code := apperr.FieldTooLong
		if len(b.Schedule) < 1 {
			code = apperr.FieldRequired
		}
		bad.Add("schedule", code, fmt.Sprintf("must hold 1 to %d weekly slots", MaxSlots))
		return b, bad.Err()
	}
	seen := map[string]bool{}
	slotsOK := true
	for i, sl := range b.Schedule {
		slotsOK = bad.Check(sl.validate(fmt.Sprintf("schedule[%d]", i))) && slotsOK
		key := string(sl.Weekday) + " " + sl.Start
		if seen[key] {
			bad.Add("schedule", apperr.FieldDuplicate, "lists a slot twice")
		}
		seen[key] = true
	}
	// Counting sessions needs good dates and slots; it is the last check.
	if datesOK && slotsOK && !bad.Has("schedule") {
		if n := countSessions(start, end, b.Schedule); n > MaxSessions {
			bad.Add("schedule", apperr.FieldOutOfRange, fmt.Sprintf("would make %d sessions between the dates; at most %d", n, MaxSessions))
		}
	}
	return b, bad.Err()
}

// countSessions is how many sessions Materialise makes, without making them.
func countSessions(start, end time.Time, schedule []Slot) int {
	perDay := map[time.Weekday]int{}
	for _, sl := range schedule {
		wd, _ := sl.Weekday.weekday()
		perDay[wd]++
	}
	n := 0
	for d := start; !d.After(end); d = d.AddDate(0, 0, 1) {
		n += perDay[d.Weekday()]
	}
	return n
}

func validateTeachers(ts []string) error {
	if len(ts) > 20 {
		return apperr.Field("teachers", apperr.FieldTooLong, "at most 20")
	}
	for i, t := range ts {
		if !id.Valid(t) {
			return apperr.Field("teachers", apperr.FieldFormat, "must be user ids")
		}
		if slices.Contains(ts[:i], t) {
			return apperr.Field("teachers", apperr.FieldDuplicate, "lists a teacher twice")
		}
	}
	return nil
}

// BatchChange updates a batch; absent fields stay as they are. The schedule and dates do not change
// after creation (their sessions exist); add extra sessions or cancel sessions instead.
type BatchChange struct {
	Name     *string   `json:"name,omitempty"`
	Teachers *[]string `json:"teachers,omitempty"`
	Capacity *int      `json:"capacity,omitempty"`
}

// Validate implements httpapi.Validator. It judges c as normalized leaves it and changes nothing.
func (c BatchChange) Validate() error {
	_, err := c.normalized()
	return err
}

// normalized returns c as it is recorded (text trimmed), or the Invalid error naming every bad field.
func (c BatchChange) normalized() (BatchChange, error) {
	var bad apperr.Problems
	if c.Name != nil {
		if n, err := httpapi.Text("name", *c.Name, 120); bad.Check(err) {
			c.Name = &n
		}
	}
	if c.Teachers != nil {
		bad.Check(validateTeachers(*c.Teachers))
	}
	if c.Capacity != nil && (*c.Capacity < 1 || *c.Capacity > MaxCapacity) {
		bad.Add("capacity", apperr.FieldOutOfRange, fmt.Sprintf("must be 1 to %d", MaxCapacity))
	}
	return c, bad.Err()
}

// CanSeeBatch reports whether p may see batch b: tenant-level staff see every batch, branch admins the
// batches of their branches, teachers the batches of their branches that name them; nobody else any.
func CanSeeBatch(p rbac.Principal, b *Batch) bool {
	if !p.CanSeeBranch(b.BranchID) {
		return false
	}
	if p.Role == rbac.Teacher {
		return slices.Contains(b.Teachers, p.Subject)
	}
	return true
}

// visibleBatchFilter limits a batch query to what CanSeeBatch allows.
func visibleBatchFilter(p rbac.Principal) bson.M {
	switch {
	case p.Role.Level() == rbac.LevelTenant:
		return bson.M{}
	case p.Role == rbac.Teacher:
		return bson.M{"branch_id": store.In(p.Branches), "teachers": p.Subject}
	case p.Role.Level() == rbac.LevelBranch:
		return bson.M{"branch_id": store.In(p.Branches)}
	}
	return bson.M{"_id": store.In(nil)}
}

// InVisibleBatches returns a filter that limits a query over documents of a batch (fields batch_id and
// branch_id: a session's attendance, a test, a result) to the batches p may see, as CanSeeBatch does:
// tenant-level staff every batch, branch admins their branches', teachers the batches of their branches
// that name them, nobody else any. For a teacher it reads their batches from the request's tenant
// database; any error is a database failure.
func InVisibleBatches(ctx context.Context, p rbac.Principal) (bson.M, error) {
	switch {
	case p.Role.Level() == rbac.LevelTenant:
		return bson.M{}, nil
	case p.Role == rbac.Teacher:
		cur, err := store.Database(ctx).Collection(batchesCollection).Find(ctx, visibleBatchFilter(p),
			options.Find().SetProjection(bson.M{"_id": 1}))
		if err != nil {
			return nil, fmt.Errorf("batches of teacher %s: %w", p.Subject, err)
		}
		var bs []struct {
			ID string `bson:"_id"`
		}
		if err := cur.All(ctx, &bs); err != nil {
			return nil, fmt.Errorf("batches of teacher %s: %w", p.Subject, err)
		}
		ids := make([]string, len(bs))
		for i, b := range bs {
			ids[i] = b.ID
		}
		return bson.M{"batch_id": store.In(ids)}, nil
	case p.Role.Level() == rbac.LevelBranch:
		return bson.M{"branch_id": store.In(p.Branches)}, nil
	}
	return bson.M{"_id": store.In(nil)}, nil
}

// FindBatch reads a batch from db without any visibility check; NotFound when there is none. Callers in
// request handling use VisibleBatch.
func FindBatch(ctx context.Context, db lungo.IDatabase, batchID string) (*Batch, error) {
	return store.ByID[Batch](ctx, db.Collection(batchesCollection), batchID, "batch")
}

// VisibleBatch returns the batch if the request's caller may see it (CanSeeBatch) and NotFound otherwise.
// ctx is a request context (principal and tenant database); it may be a store.Tx context.
func VisibleBatch(ctx context.Context, batchID string) (*Batch, error) {
	b, err := FindBatch(ctx, store.Database(ctx), batchID)
	if err != nil {
		return nil, err
	}
	if !CanSeeBatch(rbac.Must(ctx), b) {
		return nil, apperr.Errorf(apperr.NotFound, "no such batch")
	}
	return b, nil
}

// ReserveSeat takes one seat of the batch for a new active enrolment. Conflict when the batch is full.
// Call it inside the store.Tx that writes the enrolment, so a failed enrolment gives the seat back; the
// conditional increment is what keeps concurrent enrolments from overfilling the batch on either engine.
func ReserveSeat(ctx context.Context, db lungo.IDatabase, batchID string) error {
	coll := db.Collection(batchesCollection)
	// The capacity may change between the read and the update; the filter names the capacity read, so a
	// changed one fails the update and the loop reads again.
	for range 5 {
		b, err := FindBatch(ctx, db, batchID)
		if err != nil {
			return err
		}
		if b.Enrolled >= b.Capacity {
			return apperr.Errorf(apperr.Conflict, "batch %s is full (%d of %d seats taken)", b.Name, b.Enrolled, b.Capacity)
		}
		res, err := coll.UpdateOne(ctx, bson.M{"_id": batchID, "capacity": b.Capacity, "enrolled": bson.M{"$lt": b.Capacity}},
			bson.M{"$inc": bson.M{"enrolled": 1}})
		if err != nil {
			return fmt.Errorf("reserve seat in batch %s: %w", batchID, err)
		}
		if res.MatchedCount == 1 {
			return nil
		}
	}
	return apperr.Errorf(apperr.Conflict, "the batch changed while enrolling; try again")
}

// ReleaseSeat gives back a seat taken with ReserveSeat, when an enrolment ends. Call it inside the same
// store.Tx that closes the enrolment.
func ReleaseSeat(ctx context.Context, db lungo.IDatabase, batchID string) error {
	_, err := db.Collection(batchesCollection).UpdateOne(ctx, bson.M{"_id": batchID, "enrolled": bson.M{"$gt": 0}},
		bson.M{"$inc": bson.M{"enrolled": -1}})
	if err != nil {
		return fmt.Errorf("release seat in batch %s: %w", batchID, err)
	}
	return nil
}

// checkTeachers makes sure every id is an active teacher of the branch.
func checkTeachers(ctx context.Context, branchID string, teachers []string) error {
	if len(teachers) == 0 {
		return nil
	}
	n, err := store.Database(ctx).Collection(account.Collection).CountDocuments(ctx, bson.M{
		"_id": store.In(teachers), "role": string(rbac.Teacher), "branches": branchID, "status": string(account.Active),
	})
	if err != nil {
		return fmt.Errorf("check teachers: %w", err)
	}
	if int(n) != len(teachers) {
		return apperr.Field("teachers", apperr.FieldNotAllowed, "must be active teachers of the batch's branch")
	}
	return nil
}

// CreateBatch adds a batch and materialises its sessions, atomically. The caller must manage the branch
// (Invalid on branch_id otherwise, as for a branch that does not exist); the course must exist and the
// teachers must be active teachers of the branch (Invalid).
func (s *Service) CreateBatch(ctx context.Context, in NewBatch) (*Batch, error) {
	in, err := in.normalized()
	if err != nil {
		return nil, err
	}
	if _, err := s.deps.Branches.GetBranch(ctx, in.BranchID); err != nil {
		if apperr.CodeOf(err) == apperr.NotFound {
			return nil, apperr.Field("branch_id", apperr.FieldNotAllowed, "names no branch you manage")
		}
		return nil, err
	}
	if _, err := s.GetCourse(ctx, in.CourseID); err != nil {
		if apperr.CodeOf(err) == apperr.NotFound {
			return nil, apperr.Field("course_id", apperr.FieldNotAllowed, "names no course")
		}
		return nil, err
	}
	if err := checkTeachers(ctx, in.BranchID, in.Teachers); err != nil {
		return nil, err
	}
	now := s.deps.Clock.Now()
	teachers := in.Teachers
	if teachers == nil {
		teachers = []string{}
	}
	b := &Batch{
		ID: id.New(), CourseID: in.CourseID, BranchID: in.BranchID, Name: in.Name, Teachers: teachers,
		Capacity: in.Capacity, StartDate: in.StartDate, EndDate: in.EndDate, Schedule: in.Schedule,
		CreatedAt: now, UpdatedAt: now,
	}
	sessions, err := Materialise(b, tenantLocation(ctx), now)
	if err != nil {
		return nil, err
	}
	db := store.Database(ctx)
	err = store.Tx(ctx, db, func(tc context.Context) error {
		if _, err := db.Collection(batchesCollection).InsertOne(tc, b); err != nil {
			return fmt.Errorf("create batch %s: %w", b.Name, err)
		}
		if len(sessions) > 0 {
			docs := make([]any, len(sessions))
			for i := range sessions {
				docs[i] = sessions[i]
			}
			if _, err := db.Collection(sessionsCollection).InsertMany(tc, docs); err != nil {
				return fmt.Errorf("materialise sessions of batch %s: %w", b.Name, err)
			}
		}
		return s.deps.Audit.Record(tc, store.Database(tc), audit.By(rbac.Must(tc)), "academic.batch.created", audit.Target{Kind: "batch", ID: b.ID},
			map[string]any{"course_id": b.CourseID, "branch_id": b.BranchID, "capacity": b.Capacity, "sessions": len(sessions)})
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// GetBatch returns a batch the caller may see; NotFound otherwise.
func (s *Service) GetBatch(ctx context.Context, batchID string) (*Batch, error) {
	return VisibleBatch(ctx, batchID)
}

// BatchFilter narrows a batch list.
type BatchFilter struct {
	Branch string
	Course string
}

// ListBatches returns a page of the batches the caller may see, oldest first.
func (s *Service) ListBatches(ctx context.Context, f BatchFilter, pr httpapi.PageRequest) (httpapi.Page[Batch], error) {
	filter := visibleBatchFilter(rbac.Must(ctx))
	and := bson.A{filter}
	if f.Branch != "" {
		and = append(and, bson.M{"branch_id": f.Branch})
	}
	if f.Course != "" {
		and = append(and, bson.M{"course_id": f.Course})
	}
	items, err := store.Page[Batch](ctx, store.Database(ctx).Collection(batchesCollection), bson.M{"$and": and}, pr.After, pr.Limit)
	if err != nil {
		return httpapi.Page[Batch]{}, fmt.Errorf("list batches: %w", err)
	}
	return httpapi.NewPage(items, pr.Limit, func(b Batch) string { return b.ID }), nil
}

// UpdateBatch changes a batch the caller may see (NotFound otherwise). Teachers must be active teachers of
// the batch's branch (Invalid); the capacity may not drop below the active enrolments (Conflict).
func (s *Service) UpdateBatch(ctx context.Context, batchID string, c BatchChange) (*Batch, error) {
	c, err := c.normalized()
	if err != nil {
		return nil, err
	}
	cur, err := VisibleBatch(ctx, batchID)
	if err != nil {
		return nil, err
	}
	if c.Teachers != nil {
		if err := checkTeachers(ctx, cur.BranchID, *c.Teachers); err != nil {
			return nil, err
		}
	}
	set := bson.M{"updated_at": s.deps.Clock.Now()}
	filter := bson.M{"_id": batchID}
	if c.Name != nil {
		set["name"] = *c.Name
	}
	if c.Teachers != nil {
		set["teachers"] = *c.Teachers
		if len(*c.Teachers) == 0 {
			set["teachers"] = []string{}
		}
	}
	if c.Capacity != nil {
		set["capacity"] = *c.Capacity
		// Checked in the filter, not before it: an enrolment landing in between must not be squeezed out.
		filter["enrolled"] = bson.M{"$lte": *c.Capacity}
	}
	var out Batch
	err = store.Database(ctx).Collection(batchesCollection).FindOneAndUpdate(ctx, filter, bson.M{"$set": set},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&out)
	if store.IsNotFound(err) {
		return nil, apperr.Errorf(apperr.Conflict, "the batch has more active enrolments than %d", *c.Capacity)
	}
	if err != nil {
		return nil, fmt.Errorf("update batch %s: %w", batchID, err)
	}
	if err := s.deps.Audit.Record(ctx, store.Database(ctx), audit.By(rbac.Must(ctx)), "academic.batch.updated", audit.Target{Kind: "batch", ID: batchID}, c); err != nil {
		return nil, err
	}
	return &out, nil
}
