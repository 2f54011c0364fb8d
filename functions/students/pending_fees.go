package students

// The fees area still reads these collections itself (payment.go, assignment.go, run.go) until its reads
// move behind this package's Go API (fees_reads.go). Delete this file then; the boundary test in
// functions/all lists these names among its pending exceptions.
const (
	// Deprecated: read through this package's Go API.
	StudentsCollection = studentsCollection
	// Deprecated: read through this package's Go API.
	GuardiansCollection = guardiansCollection
	// Deprecated: read through this package's Go API.
	EnrolmentsCollection = enrolmentsCollection
)
