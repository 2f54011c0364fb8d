package ingest

import (
	"fmt"
	"strconv"

	"github.com/edugrid/edugrid/shared/warehouse"
)

// Transform maps one collection's documents to warehouse rows: at most one row of a current-state table
// and any number of rows of child tables.
type Transform struct {
	Collection string
	// Table and Row make the document's own row: Row returns the table's own columns (those after
	// warehouse.CommonColumns and before the position), in order, read from the document's fields; the ingester checks the fields'
	// Err. Both are nil for a collection analysed only through its children.
	Table *warehouse.Table
	Row   func(f *Fields) warehouse.Row
	// Children make rows of child tables: each version of the document replaces all of its rows there.
	Children []Child
}

// Child maps a document to its rows of one child table.
type Child struct {
	Table *warehouse.Table
	// Rows returns the document's rows: each with a key unique within the document and the table's own
	// columns (those after warehouse.ChildColumns and before the position), in order.
	Rows func(f *Fields) []KeyedRow
}

// KeyedRow is one child row before the ingester adds the common columns.
type KeyedRow struct {
	Key string
	Row warehouse.Row
}

// Transforms returns the transform of every analysed collection, one for each name in
// events.AnalysedCollections (the list the relay publishes; a test keeps the two equal). A new area's
// collection is named there, gets its table in shared/warehouse/tables.go and its transform here.
func Transforms() []Transform {
	return []Transform{
		{Collection: "users", Table: warehouse.Users, Row: func(f *Fields) warehouse.Row {
			return warehouse.Row{f.String("role"), f.String("status"), f.JSON("branches"), f.Time("created_at")}
		}},
		{Collection: "branches", Table: warehouse.Branches, Row: func(f *Fields) warehouse.Row {
			return warehouse.Row{f.String("code"), f.String("name"), f.Bool("active"), f.Time("created_at")}
		}},
		{Collection: "audit_log", Table: warehouse.AuditLog, Row: func(f *Fields) warehouse.Row {
			actor, target := f.Nested("actor"), f.Nested("target")
			return warehouse.Row{f.String("action"), actor.String("id"), actor.String("role"), target.String("kind"), target.String("id"), f.Time("at")}
		}},
		{Collection: "attendance_sheets", Table: warehouse.AttendanceSheets, Row: func(f *Fields) warehouse.Row {
			count := map[string]int64{}
			for _, m := range f.Objects("marks") {
				if s, ok := m.String("status").(string); ok {
					count[s]++
				}
			}
			return warehouse.Row{f.String("batch_id"), f.String("branch_id"), f.Day("date"), count["present"], count["late"], count["absent"], count["excused"]}
		}, Children: []Child{{Table: warehouse.AttendanceMarks, Rows: func(f *Fields) []KeyedRow {
			batch, branch, day := f.String("batch_id"), f.String("branch_id"), f.Day("date")
			var out []KeyedRow
			for _, m := range f.Objects("marks") {
				student, _ := m.String("student_id").(string)
				out = append(out, KeyedRow{Key: student, Row: warehouse.Row{student, batch, branch, day, m.String("status")}})
			}
			return out
		}}}},
		{Collection: "batches", Table: warehouse.Batches, Row: func(f *Fields) warehouse.Row {
			return warehouse.Row{f.String("course_id"), f.String("branch_id"), f.String("name"), f.Int("capacity")}
		}},
		{Collection: "fee_instalments", Table: warehouse.FeeInstalments, Row: func(f *Fields) warehouse.Row {
			return warehouse.Row{f.String("student_id"), f.String("batch_id"), f.String("branch_id"), f.Day("due_date"), f.String("currency"),
				f.Int("amount"), f.Int("late_fee"), f.Int("paid"), f.Int("waived"), f.Int("outstanding"), f.String("status")}
		}},
		{Collection: "fee_payments", Table: warehouse.FeePayments, Row: func(f *Fields) warehouse.Row {
			return warehouse.Row{f.String("student_id"), f.String("branch_id"), f.Day("paid_on"), f.String("currency"),
				f.Int("amount"), f.Int("refunded"), f.String("method")}
		}},
		{Collection: "enrolments", Table: warehouse.Enrolments, Row: func(f *Fields) warehouse.Row {
			var to any // an open enrolment stores an empty to
			if v, _ := f.String("to").(string); v != "" {
				to = f.Day("to")
			}
			return warehouse.Row{f.String("student_id"), f.String("batch_id"), f.String("branch_id"), f.String("course_id"),
				f.Day("from"), to, f.String("status")}
		}},
		{Collection: "students", Table: warehouse.Students, Row: func(f *Fields) warehouse.Row {
			return warehouse.Row{f.String("prn"), f.String("branch_id"), f.String("status"), f.Time("created_at")}
		}},
		{Collection: "exam_tests", Table: warehouse.ExamTests, Row: func(f *Fields) warehouse.Row {
			return warehouse.Row{f.String("batch_id"), f.String("branch_id"), f.String("course_id"), f.String("subject"),
				f.String("name"), f.Day("date"), f.Float("max_marks"), f.Float("weight")}
		}},
		{Collection: "exam_results", Table: warehouse.ExamResults, Row: func(f *Fields) warehouse.Row {
			return warehouse.Row{f.String("test_id"), f.String("batch_id"), f.String("branch_id"), f.String("course_id"),
				f.String("subject"), f.Day("date"), f.String("student_id"), f.String("status"), f.Float("marks"), f.Float("max_marks")}
		}},
		{Collection: "leads", Table: warehouse.Leads, Row: func(f *Fields) warehouse.Row {
			return warehouse.Row{f.String("branch_id"), f.String("source"), f.String("stage"), f.String("lost_reason"),
				f.String("counsellor_id"), f.String("course_id"), f.Time("created_at"), f.String("student_id"), f.Time("converted_at")}
		}, Children: []Child{{Table: warehouse.LeadStages, Rows: func(f *Fields) []KeyedRow {
			branch, source := f.String("branch_id"), f.String("source")
			var out []KeyedRow
			for i, st := range f.Objects("stages") {
				out = append(out, KeyedRow{Key: strconv.Itoa(i), Row: warehouse.Row{branch, source, st.String("stage"), int64(i), st.Time("at")}})
			}
			return out
		}}}},
		{Collection: "learning_lessons", Table: warehouse.LearningLessons, Row: func(f *Fields) warehouse.Row {
			return warehouse.Row{f.String("course_id"), f.String("module_id"), f.String("title"), f.Int("order"), f.String("status")}
		}},
		{Collection: "learning_interactions", Table: warehouse.LearningInteractions, Row: func(f *Fields) warehouse.Row {
			return warehouse.Row{f.String("student_id"), f.String("course_id"), f.String("batch_id"), f.String("lesson_id"),
				f.String("item_id"), f.String("kind"), f.Int("seconds"), f.Time("at"), f.Day("day")}
		}},
		{Collection: "quiz_attempts", Table: warehouse.QuizAttempts, Row: func(f *Fields) warehouse.Row {
			return warehouse.Row{f.String("student_id"), f.String("course_id"), f.String("batch_id"), f.String("lesson_id"),
				f.String("quiz_id"), f.Int("attempt"), f.Float("score"), f.Float("max_score"), f.Time("submitted_at"), f.Day("day")}
		}, Children: []Child{{Table: warehouse.QuizAnswers, Rows: func(f *Fields) []KeyedRow {
			quiz, course, student, attempt := f.String("quiz_id"), f.String("course_id"), f.String("student_id"), f.Int("attempt")
			score, max := f.Float("score"), f.Float("max_score")
			var out []KeyedRow
			for _, a := range f.Objects("answers") {
				q, _ := a.String("question_id").(string)
				out = append(out, KeyedRow{Key: q, Row: warehouse.Row{quiz, course, student, attempt, q, a.Bool("correct"), a.JSON("chosen"), score, max}})
			}
			return out
		}}}},
		{Collection: "learning_progress", Table: warehouse.LearningProgress, Row: func(f *Fields) warehouse.Row {
			return warehouse.Row{f.String("student_id"), f.String("course_id"), f.String("batch_id"), f.Int("lessons_completed"),
				f.Int("lessons_total"), f.Float("percent"), f.Time("last_activity_at")}
		}},
	}
}

// transformSet indexes transforms by collection. It panics on a second transform for one collection or
// an incomplete one: programming errors every test catches.
func transformSet(list []Transform) map[string]Transform {
	set := make(map[string]Transform, len(list))
	for _, t := range list {
		if _, dup := set[t.Collection]; dup {
			panic(fmt.Sprintf("ingest: two transforms for %s", t.Collection))
		}
		if (t.Table == nil) != (t.Row == nil) || (t.Table != nil && (!t.Table.Current || t.Table.Children)) || (t.Table == nil && len(t.Children) == 0) {
			panic(fmt.Sprintf("ingest: incomplete transform for %s", t.Collection))
		}
		for _, c := range t.Children {
			if c.Table == nil || !c.Table.Children || c.Rows == nil {
				panic(fmt.Sprintf("ingest: incomplete child transform for %s", t.Collection))
			}
		}
		set[t.Collection] = t
	}
	return set
}
