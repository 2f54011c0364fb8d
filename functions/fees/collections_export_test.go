package fees

// The area's collections, for this package's external tests only: other packages go through the Go API.
const (
	PlansCollection       = plansCollection
	AssignmentsCollection = assignmentsCollection
	InstalmentsCollection = instalmentsCollection
	PaymentsCollection    = paymentsCollection
	RefundsCollection     = refundsCollection
	WaiversCollection     = waiversCollection
	CreditsCollection     = creditsCollection
)
