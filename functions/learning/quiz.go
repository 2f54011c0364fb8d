package learning

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// Attempt is one submitted, graded quiz attempt. Attempt numbers run from 1 per (student, quiz) and are
// unique, which is what holds the attempt limit under concurrent submissions.
type Attempt struct {
	ID          string         `bson:"_id" json:"id"`
	StudentID   string         `bson:"student_id" json:"student_id"`
	CourseID    string         `bson:"course_id" json:"course_id"`
	BatchID     string         `bson:"batch_id" json:"batch_id"`
	LessonID    string         `bson:"lesson_id" json:"lesson_id"`
	QuizID      string         `bson:"quiz_id" json:"quiz_id"`
	Attempt     int64          `bson:"attempt" json:"attempt"`
	Score       float64        `bson:"score" json:"score"`
	MaxScore    float64        `bson:"max_score" json:"max_score"`
	SubmittedAt time.Time      `bson:"submitted_at" json:"submitted_at"`
	Day         string         `bson:"day" json:"day" format:"date"`
	Answers     []GradedAnswer `bson:"answers" json:"answers"`
}

// GradedAnswer is the grade of one question of an attempt. Chosen holds the chosen option ids, or for a
// numeric question the submitted number as a string; it is empty for an unanswered question.
type GradedAnswer struct {
	QuestionID string   `bson:"question_id" json:"question_id"`
	Correct    bool     `bson:"correct" json:"correct"`
	Chosen     []string `bson:"chosen" json:"chosen"`
	Points     float64  `bson:"points" json:"points"`
}

// Submission is a learner's answers to a quiz. SubmissionID, when sent, makes the submission safe to
// retry: a second submission with the same id returns the first one's result instead of using an attempt.
type Submission struct {
	SubmissionID string            `json:"submission_id,omitempty"`
	Answers      []SubmittedAnswer `json:"answers"`
}

// SubmittedAnswer answers one question: Chosen option ids for a choice question, Value for a numeric one.
// A question left out scores nothing.
type SubmittedAnswer struct {
	QuestionID string   `json:"question_id"`
	Chosen     []string `json:"chosen,omitempty"`
	Value      *float64 `json:"value,omitempty"`
}

// Validate implements httpapi.Validator. Whether each answer fits its question is checked against the quiz.
func (sub Submission) Validate() error {
	var bad apperr.Problems
	if sub.SubmissionID != "" && !interactionID.MatchString(sub.SubmissionID) {
		bad.Add("submission_id", apperr.FieldFormat, "must be 8-64 characters of A-Z, a-z, 0-9, '_' and '-'")
	}
	if len(sub.Answers) > MaxQuestions {
		bad.Add("answers", apperr.FieldTooLong, fmt.Sprintf("at most %d", MaxQuestions))
		return bad.Err()
	}
	seen := map[string]bool{}
	for i, a := range sub.Answers {
		switch {
		case a.QuestionID == "":
			bad.Add(fmt.Sprintf("answers[%d].question_id", i), apperr.FieldRequired, "must name a question once")
		case seen[a.QuestionID]:
			bad.Add(fmt.Sprintf("answers[%d].question_id", i), apperr.FieldDuplicate, "must name a question once")
		}
		seen[a.QuestionID] = true
		if len(a.Chosen) > MaxOptions {
			bad.Add(fmt.Sprintf("answers[%d].chosen", i), apperr.FieldTooLong, fmt.Sprintf("at most %d options", MaxOptions))
		}
		if a.Value != nil && (math.IsNaN(*a.Value) || math.IsInf(*a.Value, 0)) {
			bad.Add(fmt.Sprintf("answers[%d].value", i), apperr.FieldType, "must be a number")
		}
	}
	return bad.Err()
}

// Grade grades a submission against a quiz: each question scores its points when right and nothing
// otherwise (see QuestionKind for what is right). Invalid when an answer names a question the quiz does not
// have, an option its question does not have, or does not fit its question's kind.
func Grade(q *Quiz, answers []SubmittedAnswer) (score, maxScore float64, graded []GradedAnswer, err error) {
	byQuestion := map[string]SubmittedAnswer{}
	for _, a := range answers {
		if !slices.ContainsFunc(q.Questions, func(qq Question) bool { return qq.ID == a.QuestionID }) {
			return 0, 0, nil, apperr.Field("answers", apperr.FieldNotAllowed, "names a question the quiz does not have")
		}
		byQuestion[a.QuestionID] = a
	}
	graded = make([]GradedAnswer, len(q.Questions))
	for i, qq := range q.Questions {
		maxScore += qq.Points
		g := GradedAnswer{QuestionID: qq.ID, Chosen: []string{}}
		a, answered := byQuestion[qq.ID]
		if answered {
			right, chosen, err := gradeOne(&qq, a)
			if err != nil {
				return 0, 0, nil, err
			}
			g.Correct, g.Chosen = right, chosen
		}
		if g.Correct {
			g.Points = qq.Points
			score += qq.Points
		}
		graded[i] = g
	}
	return score, maxScore, graded, nil
}

func gradeOne(q *Question, a SubmittedAnswer) (bool, []string, error) {
	field := "answers." + q.ID
	switch q.Kind {
	case Numeric:
		if a.Value == nil || len(a.Chosen) > 0 {
			return false, nil, apperr.Field(field, apperr.FieldNotAllowed, "a numeric question is answered with a value")
		}
		// The tolerance gets a hair of slack so that 0.1+0.2 against 0.3 with tolerance 0 is right.
		right := math.Abs(*a.Value-*q.Answer) <= q.Tolerance+1e-9*math.Max(1, math.Abs(*q.Answer))
		return right, []string{strconv.FormatFloat(*a.Value, 'g', -1, 64)}, nil
	case SingleChoice, MultipleChoice:
		if a.Value != nil {
			return false, nil, apperr.Field(field, apperr.FieldNotAllowed, "a choice question is answered with chosen options")
		}
		if q.Kind == SingleChoice && len(a.Chosen) > 1 {
			return false, nil, apperr.Field(field, apperr.FieldNotAllowed, "a single-choice question takes one option")
		}
		chosen := append([]string{}, a.Chosen...) // never null in the stored attempt
		slices.Sort(chosen)
		if len(slices.Compact(slices.Clone(chosen))) != len(chosen) {
			return false, nil, apperr.Field(field, apperr.FieldDuplicate, "names an option twice")
		}
		for _, c := range chosen {
			if !slices.ContainsFunc(q.Options, func(o Option) bool { return o.ID == c }) {
				return false, nil, apperr.Field(field, apperr.FieldNotAllowed, "names an option the question does not have")
			}
		}
		want := slices.Clone(q.Correct)
		slices.Sort(want)
		return len(chosen) > 0 && slices.Equal(chosen, want), chosen, nil
	}
	return false, nil, fmt.Errorf("grade question %s: unknown kind %q", q.ID, q.Kind)
}

// Solution is a question's answer, shown to a learner once they have no attempts left.
type Solution struct {
	QuestionID string   `json:"question_id"`
	Options    []string `json:"options,omitempty"`
	Value      *float64 `json:"value,omitempty"`
	Tolerance  float64  `json:"tolerance,omitempty"`
}

// AttemptsView is a learner's attempts at one quiz, oldest first, with their best and latest score.
// Solutions appear once no attempt is left, never before.
type AttemptsView struct {
	LessonID     string    `json:"lesson_id"`
	QuizID       string    `json:"quiz_id"`
	MaxAttempts  int64     `json:"max_attempts"`
	AttemptsUsed int64     `json:"attempts_used"`
	AttemptsLeft int64     `json:"attempts_left"`
	MaxScore     float64   `json:"max_score"`
	BestScore    *float64  `json:"best_score"`
	LatestScore  *float64  `json:"latest_score"`
	Attempts     []Attempt `json:"attempts"`
	// Latest is the attempt a submission just graded (or, for a retried submission, graded before).
	Latest    *Attempt   `json:"latest,omitempty"`
	Solutions []Solution `json:"solutions,omitempty"`
}

// studyQuiz finds a quiz the calling student may attempt; NotFound otherwise.
func (s *Service) studyQuiz(ctx context.Context, me *learner, lessonID, quizID string) (*Lesson, *Quiz, string, error) {
	l, batchID, err := s.studyLesson(ctx, me, lessonID)
	if err != nil {
		return nil, nil, "", err
	}
	for _, it := range l.Items {
		if it.ID == quizID && it.Kind == QuizKind && it.Quiz != nil {
			return l, it.Quiz, batchID, nil
		}
	}
	return nil, nil, "", apperr.Errorf(apperr.NotFound, "no such quiz")
}

// QuizAttempts returns the calling student's attempts at a quiz they may study. NotFound otherwise.
func (s *Service) QuizAttempts(ctx context.Context, lessonID, quizID string) (*AttemptsView, error) {
	me, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	_, quiz, _, err := s.studyQuiz(ctx, me, lessonID, quizID)
	if err != nil {
		return nil, err
	}
	return attemptsView(ctx, me.StudentID, lessonID, quizID, quiz, nil)
}

// SubmitAttempt grades the calling student's answers to a quiz, records the attempt and a quiz_attempted
// interaction, and updates their progress, all in one transaction. Conflict when no attempt is left (the
// limit holds however many submissions race); NotFound when the student may not study the quiz; Invalid
// when an answer does not fit the quiz.
func (s *Service) SubmitAttempt(ctx context.Context, lessonID, quizID string, sub Submission) (*AttemptsView, error) {
	if err := sub.Validate(); err != nil {
		return nil, err
	}
	me, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	l, quiz, batchID, err := s.studyQuiz(ctx, me, lessonID, quizID)
	if err != nil {
		return nil, err
	}
	score, maxScore, graded, err := Grade(quiz, sub.Answers)
	if err != nil {
		return nil, err
	}
	now := s.now()
	day := tenant.FromContext(ctx).Today(now)
	var latest Attempt
	err = store.Tx(ctx, store.Database(ctx), func(tc context.Context) error {
		db := store.Database(tc)
		clientID := sub.SubmissionID
		if clientID != "" {
			var prior Interaction
			err := db.Collection(interactionsCollection).FindOne(tc, bson.M{"_id": scopedID(me.StudentID, clientID)}).Decode(&prior)
			if err == nil {
				if prior.Kind != QuizAttempted || prior.AttemptID == "" || prior.ItemID != quizID {
					return apperr.Field("submission_id", apperr.FieldNotAllowed, "was used for another interaction")
				}
				return db.Collection(attemptsCollection).FindOne(tc, bson.M{"_id": prior.AttemptID}).Decode(&latest)
			}
			if !store.IsNotFound(err) {
				return fmt.Errorf("find submission %s: %w", clientID, err)
			}
		}
		used, err := db.Collection(attemptsCollection).CountDocuments(tc, bson.M{"student_id": me.StudentID, "quiz_id": quizID})
		if err != nil {
			return fmt.Errorf("count attempts at quiz %s: %w", quizID, err)
		}
		if used >= quiz.MaxAttempts {
			return apperr.Errorf(apperr.Conflict, "no attempts left at this quiz")
		}
		latest = Attempt{ID: id.New(), StudentID: me.StudentID, CourseID: l.CourseID, BatchID: batchID, LessonID: l.ID, QuizID: quizID,
			Attempt: used + 1, Score: score, MaxScore: maxScore, SubmittedAt: now, Day: day, Answers: graded}
		if _, err := db.Collection(attemptsCollection).InsertOne(tc, latest); err != nil {
			if store.IsDuplicateKey(err) {
				return apperr.Errorf(apperr.Conflict, "another attempt was submitted at the same time; retry")
			}
			return fmt.Errorf("record attempt at quiz %s: %w", quizID, err)
		}
		if clientID == "" {
			clientID = "attempt-" + latest.ID
		}
		_, err = recordInteractions(tc, []Interaction{{ID: scopedID(me.StudentID, clientID), InteractionID: clientID, StudentID: me.StudentID,
			CourseID: l.CourseID, BatchID: batchID, LessonID: l.ID, ItemID: quizID, Kind: QuizAttempted, AttemptID: latest.ID, At: now, Day: day}})
		return err
	})
	if err != nil {
		return nil, err
	}
	return attemptsView(ctx, me.StudentID, lessonID, quizID, quiz, &latest)
}

func attemptsView(ctx context.Context, studentID, lessonID, quizID string, quiz *Quiz, latest *Attempt) (*AttemptsView, error) {
	cur, err := store.Database(ctx).Collection(attemptsCollection).Find(ctx, bson.M{"student_id": studentID, "quiz_id": quizID},
		options.Find().SetSort(bson.D{{Key: "attempt", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("attempts at quiz %s: %w", quizID, err)
	}
	v := &AttemptsView{LessonID: lessonID, QuizID: quizID, MaxAttempts: quiz.MaxAttempts, Attempts: []Attempt{}, Latest: latest}
	if err := cur.All(ctx, &v.Attempts); err != nil {
		return nil, fmt.Errorf("attempts at quiz %s: %w", quizID, err)
	}
	for _, q := range quiz.Questions {
		v.MaxScore += q.Points
	}
	v.AttemptsUsed = int64(len(v.Attempts))
	v.AttemptsLeft = max(0, quiz.MaxAttempts-v.AttemptsUsed)
	for i := range v.Attempts {
		a := v.Attempts[i]
		if v.BestScore == nil || a.Score > *v.BestScore {
			v.BestScore = &a.Score
		}
		v.LatestScore = &a.Score
	}
	if v.AttemptsLeft == 0 {
		for _, q := range quiz.Questions {
			v.Solutions = append(v.Solutions, Solution{QuestionID: q.ID, Options: q.Correct, Value: q.Answer, Tolerance: q.Tolerance})
		}
	}
	return v, nil
}
