package learning

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
)

// Status is whether learners may see a module or lesson.
type Status string

// The content states. New modules and lessons start as drafts.
const (
	Draft     Status = "draft"
	Published Status = "published"
)

// statuses lists every content status; the API document shows them as the enum of a content status field.
var statuses = []Status{Draft, Published}

// Values implements httpapi.Enum.
func (Status) Values() []string { return httpapi.EnumValues(statuses) }

func (st Status) valid() bool { return slices.Contains(statuses, st) }

// ItemKind is what a content item is.
type ItemKind string

// The item kinds.
const (
	Video    ItemKind = "video"
	Document ItemKind = "document"
	Link     ItemKind = "link"
	QuizKind ItemKind = "quiz"
)

// itemKinds lists every content item kind; the API document shows them as the enum of a content item kind field.
var itemKinds = []ItemKind{Video, Document, Link, QuizKind}

// Values implements httpapi.Enum.
func (ItemKind) Values() []string { return httpapi.EnumValues(itemKinds) }

// Limits on content, so one lesson document stays small enough to read on every interaction.
const (
	MaxItems     = 30
	MaxQuestions = 50
	MaxOptions   = 10
	MaxAttempts  = 10
)

// Module groups the lessons of a course. Order sorts the modules of a course.
type Module struct {
	ID        string    `bson:"_id" json:"id"`
	CourseID  string    `bson:"course_id" json:"course_id"`
	Title     string    `bson:"title" json:"title"`
	Order     int64     `bson:"order" json:"order"`
	Status    Status    `bson:"status" json:"status"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
	UpdatedAt time.Time `bson:"updated_at" json:"updated_at"`
}

// Lesson is one lesson of a module, its content items in order. Order is the lesson's position in the
// whole course: lessons sort by it across modules.
type Lesson struct {
	ID        string    `bson:"_id" json:"id"`
	CourseID  string    `bson:"course_id" json:"course_id"`
	ModuleID  string    `bson:"module_id" json:"module_id"`
	Title     string    `bson:"title" json:"title"`
	Order     int64     `bson:"order" json:"order"`
	Status    Status    `bson:"status" json:"status"`
	Items     []Item    `bson:"items" json:"items"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
	UpdatedAt time.Time `bson:"updated_at" json:"updated_at"`
}

// Item is one content item of a lesson, as authors see it: a quiz item carries its answers.
type Item struct {
	// ID is assigned by the server; an author sends it back to keep an existing item (its interactions
	// and attempts) when changing a lesson, and omits it for a new item.
	ID    string   `bson:"id" json:"id,omitempty"`
	Kind  ItemKind `bson:"kind" json:"kind"`
	Title string   `bson:"title" json:"title"`
	// URL is where a video, document or link lives.
	URL             string `bson:"url,omitempty" json:"url,omitempty"`
	DurationSeconds int64  `bson:"duration_seconds,omitempty" json:"duration_seconds,omitempty"`
	Quiz            *Quiz  `bson:"quiz,omitempty" json:"quiz,omitempty"`
}

// Example implements httpapi.Exampler: a video item as a lesson holds it, with the id the server gave it.
func (Item) Example() any {
	it := newItemExample()
	it.ID = "6650f1c2a9e4b0a1b2c3d4e5"
	return it
}

// newItemExample is a video item as an author adds it: no id yet.
func newItemExample() Item {
	return Item{Kind: Video, Title: "Fractions explained", URL: "https://videos.example.edu/fractions.mp4", DurationSeconds: 600}
}

// Example implements httpapi.Exampler: a lesson with one new item (a new item has no id).
func (NewLesson) Example() any {
	return NewLesson{Title: "Adding fractions", Items: []Item{newItemExample()}}
}

// Example implements httpapi.Exampler: a lesson renamed and published, its item list replaced by one new
// item (an existing item is kept by sending it back with its id).
func (LessonChange) Example() any {
	title, status, items := "Adding fractions", Published, []Item{newItemExample()}
	return LessonChange{Title: &title, Status: &status, Items: &items}
}

// Quiz is a quiz item's questions with their answers, and how often a learner may attempt it.
type Quiz struct {
	MaxAttempts int64      `bson:"max_attempts" json:"max_attempts"`
	Questions   []Question `bson:"questions" json:"questions"`
}

// QuestionKind is how a question is answered and graded.
type QuestionKind string

// The question kinds. A single-choice question is right when the one chosen option is the correct one; a
// multiple-choice question when the chosen options are exactly the correct ones (all or nothing: partial
// credit would reward ticking every box); a numeric one when the value is within Tolerance of Answer.
const (
	SingleChoice   QuestionKind = "single_choice"
	MultipleChoice QuestionKind = "multiple_choice"
	Numeric        QuestionKind = "numeric"
)

// questionKinds lists every question kind; the API document shows them as the enum of a question kind field.
var questionKinds = []QuestionKind{SingleChoice, MultipleChoice, Numeric}

// Values implements httpapi.Enum.
func (QuestionKind) Values() []string { return httpapi.EnumValues(questionKinds) }

// Question is one quiz question with its answer.
type Question struct {
	// ID is assigned by the server, like Item.ID.
	ID     string       `bson:"id" json:"id,omitempty"`
	Kind   QuestionKind `bson:"kind" json:"kind"`
	Prompt string       `bson:"prompt" json:"prompt"`
	// Points is what a right answer scores; 1 when omitted.
	Points float64 `bson:"points" json:"points,omitempty"`
	// Options of a choice question; their ids default to "a", "b", … by position.
	Options []Option `bson:"options" json:"options,omitempty"`
	// Correct lists the correct option ids of a choice question.
	Correct []string `bson:"correct" json:"correct,omitempty"`
	// Answer and Tolerance grade a numeric question.
	Answer    *float64 `bson:"answer,omitempty" json:"answer,omitempty"`
	Tolerance float64  `bson:"tolerance" json:"tolerance,omitempty"`
}

// Option is one choice of a choice question.
type Option struct {
	ID   string `bson:"id" json:"id"`
	Text string `bson:"text" json:"text"`
}

var optionID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,16}$`)

// NewModule adds a module to a course. Order 0 puts it after the course's last module.
type NewModule struct {
	Title string `json:"title"`
	Order int64  `json:"order,omitempty"`
}

// Validate implements httpapi.Validator. It judges n as normalized leaves it and changes nothing.
func (n NewModule) Validate() error {
	_, err := n.normalized()
	return err
}

// normalized returns n as it is recorded (text trimmed), or the Invalid error naming every bad field.
func (n NewModule) normalized() (NewModule, error) {
	var bad apperr.Problems
	if v, err := httpapi.Text("title", n.Title, 160); bad.Check(err) {
		n.Title = v
	}
	bad.Check(validOrder(n.Order, true))
	return n, bad.Err()
}

func validOrder(o int64, zeroOK bool) error {
	if o < 0 || o > 1_000_000 || o == 0 && !zeroOK {
		return apperr.Field("order", apperr.FieldOutOfRange, "must be 1 to 1000000")
	}
	return nil
}

// checkStatus records status as not allowed unless it is draft or published; nil means absent.
func checkStatus(bad *apperr.Problems, s *Status) {
	if s != nil && !s.valid() {
		bad.Add("status", apperr.FieldNotAllowed, "must be draft or published")
	}
}

// ModuleChange changes a module; absent fields stay as they are.
type ModuleChange struct {
	Title  *string `json:"title,omitempty"`
	Order  *int64  `json:"order,omitempty"`
	Status *Status `json:"status,omitempty"`
}

// Validate implements httpapi.Validator. It judges c as normalized leaves it and changes nothing.
func (c ModuleChange) Validate() error {
	_, err := c.normalized()
	return err
}

// normalized returns c as it is recorded (text trimmed), or the Invalid error naming every bad field.
func (c ModuleChange) normalized() (ModuleChange, error) {
	var bad apperr.Problems
	if c.Title != nil {
		if t, err := httpapi.Text("title", *c.Title, 160); bad.Check(err) {
			c.Title = &t
		}
	}
	if c.Order != nil {
		bad.Check(validOrder(*c.Order, false))
	}
	checkStatus(&bad, c.Status)
	return c, bad.Err()
}

// NewLesson adds a lesson to a module. Order 0 puts it after the course's last lesson.
type NewLesson struct {
	Title string `json:"title"`
	Order int64  `json:"order,omitempty"`
	Items []Item `json:"items"`
}

// Validate implements httpapi.Validator. It judges n as normalized leaves it and changes nothing. Item and
// question ids are checked against the lesson when it is written (normaliseItems).
func (n NewLesson) Validate() error {
	_, err := n.normalized()
	return err
}

// normalized returns n as it is recorded (text trimmed), or the Invalid error naming every bad field.
func (n NewLesson) normalized() (NewLesson, error) {
	var bad apperr.Problems
	if v, err := httpapi.Text("title", n.Title, 160); bad.Check(err) {
		n.Title = v
	}
	bad.Check(validOrder(n.Order, true))
	bad.Check(validateItems(n.Items))
	return n, bad.Err()
}

// LessonChange changes a lesson; absent fields stay as they are. Items replaces the whole list.
type LessonChange struct {
	Title  *string `json:"title,omitempty"`
	Order  *int64  `json:"order,omitempty"`
	Status *Status `json:"status,omitempty"`
	Items  *[]Item `json:"items,omitempty"`
}

// Validate implements httpapi.Validator. It judges c as normalized leaves it and changes nothing.
func (c LessonChange) Validate() error {
	_, err := c.normalized()
	return err
}

// normalized returns c as it is recorded (text trimmed), or the Invalid error naming every bad field.
func (c LessonChange) normalized() (LessonChange, error) {
	var bad apperr.Problems
	if c.Title != nil {
		if t, err := httpapi.Text("title", *c.Title, 160); bad.Check(err) {
			c.Title = &t
		}
	}
	if c.Order != nil {
		bad.Check(validOrder(*c.Order, false))
	}
	checkStatus(&bad, c.Status)
	if c.Items != nil {
		bad.Check(validateItems(*c.Items))
	}
	return c, bad.Err()
}

// validateItems checks every item; each item reports its first bad field.
func validateItems(items []Item) error {
	if len(items) > MaxItems {
		return apperr.Field("items", apperr.FieldTooLong, fmt.Sprintf("at most %d", MaxItems))
	}
	var bad apperr.Problems
	for i := range items {
		bad.Check(items[i].validate(fmt.Sprintf("items[%d]", i)))
	}
	return bad.Err()
}

func (it *Item) validate(field string) error {
	var err error
	if it.Title, err = httpapi.Text(field+".title", it.Title, 160); err != nil {
		return err
	}
	if it.DurationSeconds < 0 || it.DurationSeconds > 24*3600 {
		return apperr.Field(field+".duration_seconds", apperr.FieldOutOfRange, "must be 0 to 86400")
	}
	switch it.Kind {
	case Video, Document, Link:
		if it.Quiz != nil {
			return apperr.Field(field+".quiz", apperr.FieldNotAllowed, "only a quiz item has one")
		}
		u, err := url.Parse(it.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(it.URL) > 2000 {
			return apperr.Field(field+".url", apperr.FieldFormat, "must be an http or https URL")
		}
	case QuizKind:
		if it.URL != "" {
			return apperr.Field(field+".url", apperr.FieldNotAllowed, "a quiz item has none")
		}
		if it.Quiz == nil {
			return apperr.Field(field+".quiz", apperr.FieldRequired, "is required for a quiz item")
		}
		return it.Quiz.validate(field + ".quiz")
	default:
		return apperr.Field(field+".kind", apperr.FieldNotAllowed, "must be video, document, link or quiz")
	}
	return nil
}

func (q *Quiz) validate(field string) error {
	if q.MaxAttempts < 1 || q.MaxAttempts > MaxAttempts {
		return apperr.Field(field+".max_attempts", apperr.FieldOutOfRange, fmt.Sprintf("must be 1 to %d", MaxAttempts))
	}
	if len(q.Questions) < 1 || len(q.Questions) > MaxQuestions {
		return apperr.Field(field+".questions", apperr.FieldOutOfRange, fmt.Sprintf("must be 1 to %d questions", MaxQuestions))
	}
	for i := range q.Questions {
		if err := q.Questions[i].validate(fmt.Sprintf("%s.questions[%d]", field, i)); err != nil {
			return err
		}
	}
	return nil
}

func (q *Question) validate(field string) error {
	var err error
	if q.Prompt, err = httpapi.Text(field+".prompt", q.Prompt, 2000); err != nil {
		return err
	}
	if q.Points == 0 {
		q.Points = 1
	}
	if q.Points < 0 || q.Points > 100 {
		return apperr.Field(field+".points", apperr.FieldOutOfRange, "must be more than 0 and at most 100")
	}
	switch q.Kind {
	case SingleChoice, MultipleChoice:
		if q.Answer != nil || q.Tolerance != 0 {
			return apperr.Field(field+".answer", apperr.FieldNotAllowed, "only a numeric question has one")
		}
		if len(q.Options) < 2 || len(q.Options) > MaxOptions {
			return apperr.Field(field+".options", apperr.FieldOutOfRange, fmt.Sprintf("must be 2 to %d options", MaxOptions))
		}
		ids := map[string]bool{}
		for i := range q.Options {
			o := &q.Options[i]
			if o.ID == "" {
				o.ID = string(rune('a' + i))
			}
			if !optionID.MatchString(o.ID) || ids[o.ID] {
				return apperr.Field(field+".options", apperr.FieldFormat, "option ids must be distinct, 1-16 characters of A-Z, a-z, 0-9, '_' and '-'")
			}
			ids[o.ID] = true
			if o.Text, err = httpapi.Text(field+".options.text", o.Text, 500); err != nil {
				return err
			}
		}
		if len(q.Correct) < 1 || q.Kind == SingleChoice && len(q.Correct) != 1 {
			return apperr.Field(field+".correct", apperr.FieldNotAllowed, "a single-choice question has one correct option, a multiple-choice one at least one")
		}
		seen := map[string]bool{}
		for _, c := range q.Correct {
			if !ids[c] || seen[c] {
				return apperr.Field(field+".correct", apperr.FieldNotAllowed, "must name distinct options of the question")
			}
			seen[c] = true
		}
	case Numeric:
		if len(q.Options) > 0 || len(q.Correct) > 0 {
			return apperr.Field(field+".options", apperr.FieldNotAllowed, "a numeric question has none")
		}
		if q.Answer == nil {
			return apperr.Field(field+".answer", apperr.FieldRequired, "is required for a numeric question")
		}
		if q.Tolerance < 0 {
			return apperr.Field(field+".tolerance", apperr.FieldOutOfRange, "must not be negative")
		}
		q.Options, q.Correct = []Option{}, []string{}
	default:
		return apperr.Field(field+".kind", apperr.FieldNotAllowed, "must be single_choice, multiple_choice or numeric")
	}
	return nil
}

// normaliseItems gives new items and questions their ids and checks that every id an author sent back
// names an item (or a question of that item) the lesson had before, so ids stay unique and an item's
// interactions and attempts keep pointing at it.
func normaliseItems(items, before []Item) ([]Item, error) {
	old := map[string]*Item{}
	for i := range before {
		old[before[i].ID] = &before[i]
	}
	out := make([]Item, len(items))
	seen := map[string]bool{}
	for i, it := range items {
		field := fmt.Sprintf("items[%d]", i)
		prev := old[it.ID]
		switch {
		case it.ID == "":
			it.ID = id.New()
		case prev == nil:
			return nil, apperr.Field(field+".id", apperr.FieldNotAllowed, "names an item this lesson does not have; omit it for a new item")
		case seen[it.ID]:
			return nil, apperr.Field(field+".id", apperr.FieldDuplicate, "lists an item twice")
		}
		seen[it.ID] = true
		if it.Quiz != nil {
			q := *it.Quiz
			q.Questions = slices.Clone(q.Questions)
			oldQ := map[string]bool{}
			if prev != nil && prev.Quiz != nil {
				for _, pq := range prev.Quiz.Questions {
					oldQ[pq.ID] = true
				}
			}
			seenQ := map[string]bool{}
			for j := range q.Questions {
				qid := q.Questions[j].ID
				switch {
				case qid == "":
					q.Questions[j].ID = id.New()
				case !oldQ[qid] || seenQ[qid]:
					return nil, apperr.Field(fmt.Sprintf("%s.quiz.questions[%d].id", field, j), apperr.FieldNotAllowed, "names a question this quiz does not have, or twice; omit it for a new question")
				}
				seenQ[q.Questions[j].ID] = true
			}
			it.Quiz = &q
		}
		out[i] = it
	}
	return out, nil
}

// nextOrder is one more than the highest order in coll for the course, so a new module or lesson goes last.
func nextOrder(ctx context.Context, collection, courseID string) (int64, error) {
	var last struct {
		Order int64 `bson:"order"`
	}
	err := store.Database(ctx).Collection(collection).FindOne(ctx, bson.M{"course_id": courseID},
		options.FindOne().SetSort(bson.D{{Key: "order", Value: -1}}).SetProjection(bson.M{"order": 1})).Decode(&last)
	if store.IsNotFound(err) {
		return 1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("last order in %s of course %s: %w", collection, courseID, err)
	}
	return last.Order + 1, nil
}

// CreateModule adds a draft module to a course. NotFound when there is no such course.
func (s *Service) CreateModule(ctx context.Context, courseID string, in NewModule) (*Module, error) {
	in, err := in.normalized()
	if err != nil {
		return nil, err
	}
	if _, err := s.deps.Courses.GetCourse(ctx, courseID); err != nil {
		return nil, err
	}
	if in.Order == 0 {
		var err error
		if in.Order, err = nextOrder(ctx, modulesCollection, courseID); err != nil {
			return nil, err
		}
	}
	now := s.now()
	m := &Module{ID: id.New(), CourseID: courseID, Title: in.Title, Order: in.Order, Status: Draft, CreatedAt: now, UpdatedAt: now}
	if _, err := store.Database(ctx).Collection(modulesCollection).InsertOne(ctx, m); err != nil {
		return nil, fmt.Errorf("create module of course %s: %w", courseID, err)
	}
	if err := s.deps.Audit.Record(ctx, store.Database(ctx), audit.By(rbac.Must(ctx)), "learning.module.created", audit.Target{Kind: "learning_module", ID: m.ID}, in); err != nil {
		return nil, err
	}
	return m, nil
}

// getModule reads a module; NotFound when there is none. Authors see every module of the tenant.
func getModule(ctx context.Context, moduleID string) (*Module, error) {
	return store.ByID[Module](ctx, store.Database(ctx).Collection(modulesCollection), moduleID, "module")
}

// UpdateModule changes a module; NotFound when there is none. Publishing a module shows its published
// lessons to learners; a draft module hides all of them.
func (s *Service) UpdateModule(ctx context.Context, moduleID string, c ModuleChange) (*Module, error) {
	c, err := c.normalized()
	if err != nil {
		return nil, err
	}
	if _, err := getModule(ctx, moduleID); err != nil {
		return nil, err
	}
	set := bson.M{"updated_at": s.now()}
	if c.Title != nil {
		set["title"] = *c.Title
	}
	if c.Order != nil {
		set["order"] = *c.Order
	}
	if c.Status != nil {
		set["status"] = *c.Status
	}
	var m Module
	err = store.Database(ctx).Collection(modulesCollection).FindOneAndUpdate(ctx, bson.M{"_id": moduleID}, bson.M{"$set": set},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&m)
	if err != nil {
		return nil, fmt.Errorf("update module %s: %w", moduleID, err)
	}
	if err := s.deps.Audit.Record(ctx, store.Database(ctx), audit.By(rbac.Must(ctx)), "learning.module.updated", audit.Target{Kind: "learning_module", ID: moduleID}, c); err != nil {
		return nil, err
	}
	return &m, nil
}

// CreateLesson adds a draft lesson to a module. NotFound when there is no such module.
func (s *Service) CreateLesson(ctx context.Context, moduleID string, in NewLesson) (*Lesson, error) {
	in, err := in.normalized()
	if err != nil {
		return nil, err
	}
	m, err := getModule(ctx, moduleID)
	if err != nil {
		return nil, err
	}
	items, err := normaliseItems(in.Items, nil)
	if err != nil {
		return nil, err
	}
	if in.Order == 0 {
		if in.Order, err = nextOrder(ctx, lessonsCollection, m.CourseID); err != nil {
			return nil, err
		}
	}
	now := s.now()
	l := &Lesson{ID: id.New(), CourseID: m.CourseID, ModuleID: m.ID, Title: in.Title, Order: in.Order, Status: Draft,
		Items: items, CreatedAt: now, UpdatedAt: now}
	if _, err := store.Database(ctx).Collection(lessonsCollection).InsertOne(ctx, l); err != nil {
		return nil, fmt.Errorf("create lesson of module %s: %w", moduleID, err)
	}
	// The audit entry names the change, not the content: a lesson's quizzes can outgrow an entry's details.
	details := map[string]any{"course_id": l.CourseID, "module_id": l.ModuleID, "title": l.Title, "order": l.Order, "items": len(l.Items)}
	if err := s.deps.Audit.Record(ctx, store.Database(ctx), audit.By(rbac.Must(ctx)), "learning.lesson.created", audit.Target{Kind: "learning_lesson", ID: l.ID}, details); err != nil {
		return nil, err
	}
	return l, nil
}

// GetLesson returns a lesson as authors see it, answers included; NotFound when there is none.
func (s *Service) GetLesson(ctx context.Context, lessonID string) (*Lesson, error) {
	return store.ByID[Lesson](ctx, store.Database(ctx).Collection(lessonsCollection), lessonID, "lesson")
}

// UpdateLesson changes a lesson; NotFound when there is none. Attempts already graded keep their grades
// when a quiz's answers change.
func (s *Service) UpdateLesson(ctx context.Context, lessonID string, c LessonChange) (*Lesson, error) {
	c, err := c.normalized()
	if err != nil {
		return nil, err
	}
	var out Lesson
	err = store.Tx(ctx, store.Database(ctx), func(tc context.Context) error {
		l, err := s.GetLesson(tc, lessonID)
		if err != nil {
			return err
		}
		set := bson.M{"updated_at": s.now()}
		if c.Title != nil {
			set["title"] = *c.Title
		}
		if c.Order != nil {
			set["order"] = *c.Order
		}
		if c.Status != nil {
			set["status"] = *c.Status
		}
		if c.Items != nil {
			items, err := normaliseItems(*c.Items, l.Items)
			if err != nil {
				return err
			}
			set["items"] = items
		}
		err = store.Database(tc).Collection(lessonsCollection).FindOneAndUpdate(tc, bson.M{"_id": lessonID}, bson.M{"$set": set},
			options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&out)
		if err != nil {
			return fmt.Errorf("update lesson %s: %w", lessonID, err)
		}
		details := map[string]any{}
		for k, v := range set {
			details[k] = v
		}
		if c.Items != nil {
			details["items"] = len(*c.Items) // how many, not the content: quizzes can outgrow an entry's details
		}
		return s.deps.Audit.Record(tc, store.Database(tc), audit.By(rbac.Must(tc)), "learning.lesson.updated", audit.Target{Kind: "learning_lesson", ID: lessonID}, details)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// CourseContent is a course's whole content as authors see it: drafts and answers included.
type CourseContent struct {
	CourseID string   `json:"course_id"`
	Modules  []Module `json:"modules"`
	Lessons  []Lesson `json:"lessons"`
}

// Content returns a course's content for authors, modules and lessons in order. NotFound when there is no
// such course.
func (s *Service) Content(ctx context.Context, courseID string) (*CourseContent, error) {
	if _, err := s.deps.Courses.GetCourse(ctx, courseID); err != nil {
		return nil, err
	}
	out := &CourseContent{CourseID: courseID, Modules: []Module{}, Lessons: []Lesson{}}
	if err := findSorted(ctx, modulesCollection, bson.M{"course_id": courseID}, &out.Modules); err != nil {
		return nil, err
	}
	if err := findSorted(ctx, lessonsCollection, bson.M{"course_id": courseID}, &out.Lessons); err != nil {
		return nil, err
	}
	return out, nil
}

// findSorted reads every document of collection matching filter in (order, _id) order.
func findSorted(ctx context.Context, collection string, filter bson.M, out any) error {
	cur, err := store.Database(ctx).Collection(collection).Find(ctx, filter,
		options.Find().SetSort(bson.D{{Key: "order", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return fmt.Errorf("read %s: %w", collection, err)
	}
	if err := cur.All(ctx, out); err != nil {
		return fmt.Errorf("read %s: %w", collection, err)
	}
	return nil
}

// publishedContent returns a course's modules and lessons visible to learners (both published), in order.
func publishedContent(ctx context.Context, courseID string) ([]Module, []Lesson, error) {
	var mods []Module
	if err := findSorted(ctx, modulesCollection, bson.M{"course_id": courseID, "status": string(Published)}, &mods); err != nil {
		return nil, nil, err
	}
	ids := make([]string, len(mods))
	for i, m := range mods {
		ids[i] = m.ID
	}
	var lessons []Lesson
	if err := findSorted(ctx, lessonsCollection, bson.M{"course_id": courseID, "module_id": store.In(ids), "status": string(Published)}, &lessons); err != nil {
		return nil, nil, err
	}
	return mods, lessons, nil
}

// publishedLessonIDs returns the ids of a course's lessons visible to learners: what progress counts.
func publishedLessonIDs(ctx context.Context, courseID string) ([]string, error) {
	cur, err := store.Database(ctx).Collection(modulesCollection).Find(ctx, bson.M{"course_id": courseID, "status": string(Published)},
		options.Find().SetProjection(bson.M{"_id": 1}))
	if err != nil {
		return nil, fmt.Errorf("published modules of course %s: %w", courseID, err)
	}
	var mods []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &mods); err != nil {
		return nil, fmt.Errorf("published modules of course %s: %w", courseID, err)
	}
	mids := make([]string, len(mods))
	for i, m := range mods {
		mids[i] = m.ID
	}
	cur, err = store.Database(ctx).Collection(lessonsCollection).Find(ctx,
		bson.M{"course_id": courseID, "module_id": store.In(mids), "status": string(Published)}, options.Find().SetProjection(bson.M{"_id": 1}))
	if err != nil {
		return nil, fmt.Errorf("published lessons of course %s: %w", courseID, err)
	}
	var ls []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &ls); err != nil {
		return nil, fmt.Errorf("published lessons of course %s: %w", courseID, err)
	}
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.ID
	}
	return out, nil
}
