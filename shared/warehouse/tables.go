package warehouse

import "slices"

// current returns a current-state table: the common columns, cols, then the position.
func current(name, partition string, cluster []string, cols ...Column) *Table {
	if partition == "" {
		partition = "changed_at"
	}
	return &Table{Name: name, Columns: append(append(slices.Clone(CommonColumns), cols...), PositionColumn), Partition: partition, Cluster: cluster, Current: true}
}

// children returns a child table: the child columns, cols, then the position.
func children(name, partition string, cluster []string, cols ...Column) *Table {
	t := current(name, partition, cluster, cols...)
	t.Columns = append(append(slices.Clone(ChildColumns), cols...), PositionColumn)
	t.Children = true
	return t
}

// The current-state tables of the foundation's collections. Areas' tables are declared beside them as
// the areas land, so reports and ingest transforms share one definition.
var (
	Users = current("users", "", []string{"role"},
		Column{"role", String}, Column{"status", String}, Column{"branches", JSON}, Column{"created_at", Timestamp})
	Branches = current("branches", "", nil,
		Column{"code", String}, Column{"name", String}, Column{"active", Bool}, Column{"created_at", Timestamp})
	AuditLog = current("audit_log", "", []string{"action"},
		Column{"action", String}, Column{"actor_id", String}, Column{"actor_role", String}, Column{"target_kind", String},
		Column{"target_id", String}, Column{"recorded_at", Timestamp})
	// AttendanceSheets is one row per marked session (the attendance area keeps a session's marks in one
	// sheet document, id = session id): day is the session's calendar day in the tenant's time zone, and
	// the counts are its marks by status (late counts as attended, excused neither way).
	AttendanceSheets = current("attendance_sheets", "day", []string{"batch_id"},
		Column{"batch_id", String}, Column{"branch_id", String}, Column{"day", Date},
		Column{"present", Int}, Column{"late", Int}, Column{"absent", Int}, Column{"excused", Int})
	Batches = current("batches", "", []string{"branch_id"},
		Column{"course_id", String}, Column{"branch_id", String}, Column{"name", String}, Column{"capacity", Int})
	// FeeInstalments is one row per instalment (functions/fees): amounts in minor units, due_date the
	// tenant-local due day; outstanding = amount + late_fee - paid - waived, status open or settled.
	FeeInstalments = current("fee_instalments", "due_date", []string{"branch_id"},
		Column{"student_id", String}, Column{"batch_id", String}, Column{"branch_id", String}, Column{"due_date", Date},
		Column{"currency", String}, Column{"amount", Int}, Column{"late_fee", Int}, Column{"paid", Int}, Column{"waived", Int},
		Column{"outstanding", Int}, Column{"status", String})
	// FeePayments is one row per receipt: paid_on is the tenant-local day the money came in, refunded
	// what has been returned of it since.
	FeePayments = current("fee_payments", "paid_on", []string{"branch_id"},
		Column{"student_id", String}, Column{"branch_id", String}, Column{"paid_on", Date}, Column{"currency", String},
		Column{"amount", Int}, Column{"refunded", Int}, Column{"method", String})
	// Enrolments is one row per enrolment (functions/students): from_date and to_date are the tenant-local
	// first day and the day it stopped covering (null while open); status active, transferred or withdrawn.
	Enrolments = current("enrolments", "from_date", []string{"branch_id"},
		Column{"student_id", String}, Column{"batch_id", String}, Column{"branch_id", String}, Column{"course_id", String},
		Column{"from_date", Date}, Column{"to_date", Date}, Column{"status", String})
	// AttendanceMarks is one row per student of a marked session, a child of the session's sheet (id =
	// sheet id/student id): status present, late, absent or excused on the tenant-local day.
	AttendanceMarks = children("attendance_marks", "day", []string{"student_id"},
		Column{"student_id", String}, Column{"batch_id", String}, Column{"branch_id", String}, Column{"day", Date}, Column{"status", String})
	// Students is one row per student (functions/students): identifiers and state only, no names or
	// contact details; reports show PRNs.
	Students = current("students", "", []string{"branch_id"},
		Column{"prn", String}, Column{"branch_id", String}, Column{"status", String}, Column{"created_at", Timestamp})
	// ExamTests is one row per test (functions/exams): max_marks and weight as written.
	ExamTests = current("exam_tests", "date", []string{"batch_id"},
		Column{"batch_id", String}, Column{"branch_id", String}, Column{"course_id", String}, Column{"subject", String},
		Column{"name", String}, Column{"date", Date}, Column{"max_marks", Float}, Column{"weight", Float})
	// ExamResults is one row per (test, student): status present, absent or exempt; marks only when
	// present.
	ExamResults = current("exam_results", "date", []string{"test_id"},
		Column{"test_id", String}, Column{"batch_id", String}, Column{"branch_id", String}, Column{"course_id", String},
		Column{"subject", String}, Column{"date", Date}, Column{"student_id", String}, Column{"status", String},
		Column{"marks", Float}, Column{"max_marks", Float})
	// Leads is one row per admissions lead (functions/leads): its current stage and where it came from.
	Leads = current("leads", "", []string{"source"},
		Column{"branch_id", String}, Column{"source", String}, Column{"stage", String}, Column{"lost_reason", String},
		Column{"counsellor_id", String}, Column{"course_id", String}, Column{"created_at", Timestamp},
		Column{"student_id", String}, Column{"converted_at", Timestamp})
	// LeadStages is one row per stage a lead has entered, a child of the lead (id = lead id/position).
	LeadStages = children("lead_stages", "", []string{"stage"},
		Column{"branch_id", String}, Column{"source", String}, Column{"stage", String}, Column{"position", Int}, Column{"entered_at", Timestamp})
	// LearningLessons is one row per lesson (functions/learning): lesson_order sorts a course's lessons.
	LearningLessons = current("learning_lessons", "", []string{"course_id"},
		Column{"course_id", String}, Column{"module_id", String}, Column{"title", String}, Column{"lesson_order", Int},
		Column{"status", String})
	// LearningInteractions is one row per recorded learner interaction: kind viewed, completed or
	// quiz_attempted; seconds spent for viewed; day tenant-local.
	LearningInteractions = current("learning_interactions", "day", []string{"course_id", "student_id"},
		Column{"student_id", String}, Column{"course_id", String}, Column{"batch_id", String}, Column{"lesson_id", String},
		Column{"item_id", String}, Column{"kind", String}, Column{"seconds", Int}, Column{"occurred_at", Timestamp}, Column{"day", Date})
	// QuizAttempts is one row per submitted quiz attempt.
	QuizAttempts = current("quiz_attempts", "day", []string{"quiz_id"},
		Column{"student_id", String}, Column{"course_id", String}, Column{"batch_id", String}, Column{"lesson_id", String},
		Column{"quiz_id", String}, Column{"attempt", Int}, Column{"score", Float}, Column{"max_score", Float},
		Column{"submitted_at", Timestamp}, Column{"day", Date})
	// QuizAnswers is one row per answered question of an attempt, a child of the attempt (id = attempt
	// id/question id): chosen holds the option ids (or the number) as compact JSON text, a string so that
	// both engines return it byte for byte; score and max_score are the whole attempt's.
	QuizAnswers = children("quiz_answers", "", []string{"quiz_id", "question_id"},
		Column{"quiz_id", String}, Column{"course_id", String}, Column{"student_id", String}, Column{"attempt", Int},
		Column{"question_id", String}, Column{"correct", Bool}, Column{"chosen", String}, Column{"score", Float}, Column{"max_score", Float})
	// LearningProgress is one row per (student, course).
	LearningProgress = current("learning_progress", "", []string{"course_id"},
		Column{"student_id", String}, Column{"course_id", String}, Column{"batch_id", String}, Column{"lessons_completed", Int},
		Column{"lessons_total", Int}, Column{"percent", Float}, Column{"last_activity_at", Timestamp})
)

// all is every table, in the order engines create them.
var all = []*Table{Changes, Users, Branches, AuditLog, AttendanceSheets, AttendanceMarks, Batches, FeeInstalments, FeePayments,
	Enrolments, Students, ExamTests, ExamResults, Leads, LeadStages, LearningLessons, LearningInteractions, QuizAttempts, QuizAnswers,
	LearningProgress}

// Tables returns every table the warehouse holds, for engines to create.
func Tables() []*Table { return slices.Clone(all) }

// ByName returns the table with logical name n, or nil.
func ByName(n string) *Table {
	for _, t := range all {
		if t.Name == n {
			return t
		}
	}
	return nil
}
