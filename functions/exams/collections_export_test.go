package exams

// The area's collections, for this package's external tests only: other packages go through the Go API.
const (
	TestsCollection   = testsCollection
	ResultsCollection = resultsCollection
	GradingCollection = gradingCollection
)
