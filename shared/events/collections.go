package events

// AnalysedCollections names the tenant collections the analytics warehouse analyses, in a fresh slice the
// caller may keep. It is the contract between the two ends of the pipeline: the relay publishes changes
// of exactly these collections (and nothing of the others, so a collection nobody analyses never leaves
// the database), and ingest has exactly one transform for each of them, which its tests check. A new
// area's collection is added here, gets its table in shared/warehouse and its transform in ingest.
//
// Collections whose documents are secrets as a whole (refresh tokens) must never be listed; the relay
// refuses them even if they were.
func AnalysedCollections() []string {
	return []string{
		"users",
		"branches",
		"audit_log",
		"attendance_sheets",
		"batches",
		"fee_instalments",
		"fee_payments",
		"enrolments",
		"students",
		"exam_tests",
		"exam_results",
		"leads",
		"learning_lessons",
		"learning_interactions",
		"quiz_attempts",
		"learning_progress",
	}
}
