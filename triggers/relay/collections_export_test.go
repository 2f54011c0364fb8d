package relay

// The relay's collections, for this package's external tests only.
const (
	CheckpointsCollection = checkpointsCollection
	BackfillsCollection   = backfillsCollection
	IdentityCollection    = identityCollection
)
