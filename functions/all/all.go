// Package all lists every HTTP area of edugrid, for the local stack that serves them side by side and for
// the API document that describes them. A new area is added here and in the root package's imports.
package all

import (
	"github.com/edugrid/edugrid/functions/academic"
	"github.com/edugrid/edugrid/functions/analytics"
	"github.com/edugrid/edugrid/functions/attendance"
	"github.com/edugrid/edugrid/functions/auth"
	"github.com/edugrid/edugrid/functions/exams"
	"github.com/edugrid/edugrid/functions/fees"
	"github.com/edugrid/edugrid/functions/leads"
	"github.com/edugrid/edugrid/functions/learning"
	"github.com/edugrid/edugrid/functions/platform"
	"github.com/edugrid/edugrid/functions/students"
	"github.com/edugrid/edugrid/functions/users"
	"github.com/edugrid/edugrid/shared/app"
	"github.com/edugrid/edugrid/shared/httpapi"
)

// Areas builds every HTTP area over a.
func Areas(a *app.App) []*httpapi.Area {
	return []*httpapi.Area{
		auth.Handler(a),
		platform.Handler(a),
		users.Handler(a),
		analytics.Handler(a),
		academic.Handler(a),
		students.Handler(a),
		attendance.Handler(a),
		fees.Handler(a),
		learning.Handler(a),
		leads.Handler(a),
		exams.Handler(a),
	}
}

// APIVersion is the version of the API document.
const APIVersion = "0.1.0"

// Document returns the OpenAPI 3.1 document of every area.
func Document(areas []*httpapi.Area) map[string]any {
	return httpapi.Document("edugrid API", APIVersion, areas...)
}
