// Package edugrid is the root of the edugrid module. The Cloud Functions Go buildpack builds the module
// root and generates a main that imports it, so this package imports every function package for its
// registering init and holds nothing else.
package edugrid

import (
	_ "github.com/edugrid/edugrid/functions/academic"
	_ "github.com/edugrid/edugrid/functions/analytics"
	_ "github.com/edugrid/edugrid/functions/attendance"
	_ "github.com/edugrid/edugrid/functions/auth"
	_ "github.com/edugrid/edugrid/functions/exams"
	_ "github.com/edugrid/edugrid/functions/fees"
	_ "github.com/edugrid/edugrid/functions/leads"
	_ "github.com/edugrid/edugrid/functions/learning"
	_ "github.com/edugrid/edugrid/functions/platform"
	_ "github.com/edugrid/edugrid/functions/students"
	_ "github.com/edugrid/edugrid/functions/users"
	_ "github.com/edugrid/edugrid/triggers/ingest"
	_ "github.com/edugrid/edugrid/triggers/reminders"
)
