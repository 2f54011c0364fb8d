package leads

// The area's collections, for this package's external tests only: other packages go through the Go API.
const (
	LeadsCollection      = leadsCollection
	ActivitiesCollection = activitiesCollection
)
