package learning

// The area's collections, for this package's external tests only: other packages go through the Go API.
const (
	InteractionsCollection = interactionsCollection
	AttemptsCollection     = attemptsCollection
	ProgressCollection     = progressCollection
	LessonsCollection      = lessonsCollection
)
