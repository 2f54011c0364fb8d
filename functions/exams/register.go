package exams

import (
	"net/http"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/edugrid/edugrid/shared/app"
)

func init() {
	functions.HTTP("exams", app.Lazy(func(a *app.App) http.Handler { return Handler(a) }))
}
