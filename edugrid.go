// Package edugrid is the root of the edugrid module. The Cloud Functions Go buildpack builds the module
// root and generates a main that imports it, so this package imports the packages that register entry
// points (functions/all for every HTTP function, triggers/ingest for the CloudEvent one) and holds nothing
// else.
package edugrid

import (
	_ "github.com/edugrid/edugrid/functions/all"
	_ "github.com/edugrid/edugrid/triggers/ingest"
)
