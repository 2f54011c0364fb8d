package academic

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/256dpi/lungo"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
)

// Course is something an institution teaches, in every branch: "JEE Main 2027", with its subjects.
type Course struct {
	ID        string    `bson:"_id" json:"id"`
	Code      string    `bson:"code" json:"code"`
	Name      string    `bson:"name" json:"name"`
	Subjects  []string  `bson:"subjects" json:"subjects"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
	UpdatedAt time.Time `bson:"updated_at" json:"updated_at"`
}

var courseCode = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{1,23}$`)

// NewCourse creates a course.
type NewCourse struct {
	Code     string   `json:"code"`
	Name     string   `json:"name"`
	Subjects []string `json:"subjects"`
}

// Validate implements httpapi.Validator. It judges c as normalized leaves it and changes nothing.
func (c NewCourse) Validate() error {
	_, err := c.normalized()
	return err
}

// normalized returns c as it is recorded (text trimmed), or the Invalid error naming every bad field.
func (c NewCourse) normalized() (NewCourse, error) {
	var bad apperr.Problems
	httpapi.CheckPattern(&bad, "code", c.Code, courseCode, "must be 2-24 characters of A-Z, 0-9 and '-'")
	if v, err := httpapi.Text("name", c.Name, 120); bad.Check(err) {
		c.Name = v
	}
	if v, err := cleanSubjects(c.Subjects); bad.Check(err) {
		c.Subjects = v
	}
	return c, bad.Err()
}

func cleanSubjects(in []string) ([]string, error) {
	if len(in) > 30 {
		return nil, apperr.Field("subjects", apperr.FieldTooLong, "at most 30")
	}
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for _, s := range in {
		s, err := httpapi.Text("subjects", s, 80)
		if err != nil {
			return nil, err
		}
		if seen[s] {
			return nil, apperr.Field("subjects", apperr.FieldDuplicate, "lists a subject twice")
		}
		seen[s] = true
		out = append(out, s)
	}
	return out, nil
}

// CourseChange updates a course; absent fields stay as they are. The code never changes: other records
// and printed material quote it.
type CourseChange struct {
	Name     *string   `json:"name,omitempty"`
	Subjects *[]string `json:"subjects,omitempty"`
}

// Validate implements httpapi.Validator. It judges c as normalized leaves it and changes nothing.
func (c CourseChange) Validate() error {
	_, err := c.normalized()
	return err
}

// normalized returns c as it is recorded (text trimmed), or the Invalid error naming every bad field.
func (c CourseChange) normalized() (CourseChange, error) {
	var bad apperr.Problems
	if c.Name != nil {
		if n, err := httpapi.Text("name", *c.Name, 120); bad.Check(err) {
			c.Name = &n
		}
	}
	if c.Subjects != nil {
		if s, err := cleanSubjects(*c.Subjects); bad.Check(err) {
			c.Subjects = &s
		}
	}
	return c, bad.Err()
}

// CreateCourse adds a course to the caller's tenant. Conflict when the code is taken.
func (s *Service) CreateCourse(ctx context.Context, in NewCourse) (*Course, error) {
	in, err := in.normalized()
	if err != nil {
		return nil, err
	}
	now := s.deps.Clock.Now()
	c := &Course{ID: id.New(), Code: in.Code, Name: in.Name, Subjects: in.Subjects, CreatedAt: now, UpdatedAt: now}
	if _, err := store.Database(ctx).Collection(coursesCollection).InsertOne(ctx, c); err != nil {
		if store.IsDuplicateKey(err) {
			return nil, apperr.Errorf(apperr.Conflict, "a course with code %s already exists", in.Code)
		}
		return nil, fmt.Errorf("create course %s: %w", in.Code, err)
	}
	if err := s.deps.Audit.Record(ctx, store.Database(ctx), audit.By(rbac.Must(ctx)), "academic.course.created", audit.Target{Kind: "course", ID: c.ID}, in); err != nil {
		return nil, err
	}
	return c, nil
}

// GetCourse returns a course of the caller's tenant; NotFound otherwise.
func (s *Service) GetCourse(ctx context.Context, courseID string) (*Course, error) {
	return FindCourse(ctx, store.Database(ctx), courseID)
}

// FindCourse reads a course from db, the tenant database; NotFound when there is none. Courses are
// tenant-wide, so there is no visibility check: other areas read the course of a batch they checked
// (VisibleBatch).
func FindCourse(ctx context.Context, db lungo.IDatabase, courseID string) (*Course, error) {
	return store.ByID[Course](ctx, db.Collection(coursesCollection), courseID, "course")
}

// ListCourses returns a page of the tenant's courses, oldest first.
func (s *Service) ListCourses(ctx context.Context, pr httpapi.PageRequest) (httpapi.Page[Course], error) {
	items, err := store.Page[Course](ctx, store.Database(ctx).Collection(coursesCollection), bson.M{}, pr.After, pr.Limit)
	if err != nil {
		return httpapi.Page[Course]{}, fmt.Errorf("list courses: %w", err)
	}
	return httpapi.NewPage(items, pr.Limit, func(c Course) string { return c.ID }), nil
}

// UpdateCourse changes a course; NotFound when there is none.
func (s *Service) UpdateCourse(ctx context.Context, courseID string, c CourseChange) (*Course, error) {
	c, err := c.normalized()
	if err != nil {
		return nil, err
	}
	if _, err := s.GetCourse(ctx, courseID); err != nil {
		return nil, err
	}
	set := bson.M{"updated_at": s.deps.Clock.Now()}
	if c.Name != nil {
		set["name"] = *c.Name
	}
	if c.Subjects != nil {
		set["subjects"] = *c.Subjects
	}
	var out Course
	err = store.Database(ctx).Collection(coursesCollection).FindOneAndUpdate(ctx, bson.M{"_id": courseID}, bson.M{"$set": set},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&out)
	if err != nil {
		return nil, fmt.Errorf("update course %s: %w", courseID, err)
	}
	if err := s.deps.Audit.Record(ctx, store.Database(ctx), audit.By(rbac.Must(ctx)), "academic.course.updated", audit.Target{Kind: "course", ID: courseID}, c); err != nil {
		return nil, err
	}
	return &out, nil
}
