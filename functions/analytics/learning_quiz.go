package analytics

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/rate"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/warehouse"
)

// MaxQuizAnswers bounds the first-attempt answers one item analysis reads (50 questions of 4,000
// learners): a quiz beyond it is refused rather than loaded whole into one instance's memory.
const MaxQuizAnswers = 200_000

// WrongAnswer is an incorrect answer and how many learners gave it. Chosen is the option ids (sorted), or
// for a numeric question the submitted number.
type WrongAnswer struct {
	Chosen []string `json:"chosen"`
	Count  int64    `json:"count"`
}

// QuizItem is the analysis of one question over the learners' first attempts.
//
//   - Answered: first attempts that graded the question; a question left blank counts as answered wrongly,
//     and Skipped says how many were blank.
//   - Difficulty: the classical p value, Correct / Answered (null when none answered).
//   - Discrimination: the point-biserial correlation between the question's correctness (1 or 0) and the
//     attempt's score as a fraction of its maximum, over the answered attempts; null when it is undefined
//     (fewer than two attempts, or every attempt equally right or equally scored).
//   - MostChosenWrong: the most frequent answer among the incorrect, non-blank ones, ties broken by the
//     smallest compact-JSON text of the chosen list; null when there is none.
type QuizItem struct {
	QuestionID      string       `json:"question_id"`
	Answered        int64        `json:"answered"`
	Skipped         int64        `json:"skipped"`
	Correct         int64        `json:"correct"`
	Difficulty      *float64     `json:"difficulty"`
	Discrimination  *float64     `json:"discrimination"`
	MostChosenWrong *WrongAnswer `json:"most_chosen_wrong"`
}

// QuizItemReport is the item analysis of one quiz: Attempts is how many learners' first attempts it
// reads; Questions are in question id order.
type QuizItemReport struct {
	QuizID    string     `json:"quiz_id"`
	Attempts  int64      `json:"attempts"`
	Questions []QuizItem `json:"questions"`
}

// Only each learner's first attempt: later attempts are shaped by what the first one taught, so they
// would make every question look easier. The attempt's batch places it in a branch.
var quizItemsSQL = fmt.Sprintf(`SELECT qa.parent_id, qa.question_id, qa.correct, qa.chosen, qa.score, qa.max_score, a.batch_id, b.branch_id
FROM quiz_answers AS qa
	LEFT JOIN quiz_attempts AS a ON a.id = qa.parent_id
	LEFT JOIN batches AS b ON b.id = a.batch_id
WHERE qa.quiz_id = @quiz AND qa.attempt = 1
LIMIT %d`, MaxQuizAnswers+1)

// QuizItems returns the item analysis of quiz quizID (the quiz item's id) over the first attempts made in
// the caller's branches (and f.Batch, f.Branch when set). Errors: Invalid for a malformed id or filter,
// or when the quiz has more than MaxQuizAnswers first-attempt answers; NotFound when no first attempt
// the caller may see exists; Unavailable when no warehouse is configured.
func (s *Service) QuizItems(ctx context.Context, quizID string, f LearningFilter) (*QuizItemReport, error) {
	if !id.Valid(quizID) {
		return nil, apperr.Field("quiz", apperr.FieldFormat, "must be a quiz id")
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	rows, err := s.query(ctx, newQuery(ctx, quizItemsSQL, warehouse.QuizAnswers, warehouse.QuizAttempts, warehouse.Batches).With("quiz", quizID))
	if err != nil {
		return nil, err
	}
	if len(rows) > MaxQuizAnswers {
		return nil, apperr.Errorf(apperr.Invalid, "quiz %s has more than %d first-attempt answers, more than one report analyses", quizID, MaxQuizAnswers)
	}
	p := rbac.Must(ctx)
	type answer struct {
		attempt string
		correct bool
		blank   bool
		chosen  string
		score   float64 // fraction of the attempt's maximum
	}
	byQuestion := map[string][]answer{}
	attempts := map[string]bool{}
	for _, r := range rows {
		if (f.Batch != "" && str(r[6]) != f.Batch) || !f.sees(p, str(r[7])) {
			continue
		}
		a := answer{attempt: str(r[0]), chosen: str(r[3])}
		a.correct, _ = r[2].(bool)
		a.blank = a.chosen == "" || a.chosen == "null" || a.chosen == "[]"
		score, _ := r[4].(float64)
		if maxScore, _ := r[5].(float64); maxScore > 0 {
			a.score = score / maxScore
		}
		byQuestion[str(r[1])] = append(byQuestion[str(r[1])], a)
		attempts[a.attempt] = true
	}
	if len(attempts) == 0 {
		return nil, apperr.Errorf(apperr.NotFound, "no attempts at quiz %s", quizID)
	}
	out := &QuizItemReport{QuizID: quizID, Attempts: int64(len(attempts)), Questions: []QuizItem{}}
	for question, answers := range byQuestion {
		// A fixed order makes the float sums, and so the last bit of the correlation, the same on every
		// engine and every run.
		sort.Slice(answers, func(i, j int) bool { return answers[i].attempt < answers[j].attempt })
		it := QuizItem{QuestionID: question, Answered: int64(len(answers))}
		xs, ys := make([]float64, len(answers)), make([]float64, len(answers))
		wrong := map[string]int64{}
		for i, a := range answers {
			ys[i] = a.score
			switch {
			case a.correct:
				it.Correct++
				xs[i] = 1
			case a.blank:
				it.Skipped++
			default:
				wrong[a.chosen]++
			}
		}
		it.Difficulty = rate.Of(it.Correct, it.Answered)
		it.Discrimination = pointBiserial(xs, ys)
		var best string
		for text, n := range wrong {
			if best == "" || n > wrong[best] || (n == wrong[best] && text < best) {
				best = text
			}
		}
		if best != "" {
			w := &WrongAnswer{Count: wrong[best]}
			if err := json.Unmarshal([]byte(best), &w.Chosen); err != nil {
				w.Chosen = []string{best}
			}
			it.MostChosenWrong = w
		}
		out.Questions = append(out.Questions, it)
	}
	sort.Slice(out.Questions, func(i, j int) bool { return out.Questions[i].QuestionID < out.Questions[j].QuestionID })
	return out, nil
}

// pointBiserial is the Pearson correlation of the 0/1 values xs with ys, computed from deviations about
// the means; nil when it is undefined: fewer than two values, or either side constant.
func pointBiserial(xs, ys []float64) *float64 {
	n := len(xs)
	if n < 2 {
		return nil
	}
	constant := func(v []float64) bool {
		for _, x := range v[1:] {
			if x != v[0] {
				return false
			}
		}
		return true
	}
	if constant(xs) || constant(ys) {
		return nil
	}
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx, my = mx/float64(n), my/float64(n)
	var sxy, sxx, syy float64
	for i := range xs {
		dx, dy := xs[i]-mx, ys[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	r := sxy / math.Sqrt(sxx*syy)
	r = max(-1, min(1, r)) // rounding must not step outside the correlation's range
	return &r
}
