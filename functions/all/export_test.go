package all

// EnablePostImages is the post-images migration's step, for this package's external tests.
var EnablePostImages = enablePostImages
