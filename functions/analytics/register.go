package analytics

import (
	"context"
	"net/http"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/edugrid/edugrid/shared/app"
	"github.com/edugrid/edugrid/shared/warehouse"
	"github.com/edugrid/edugrid/shared/warehouse/bigquery"
)

func init() {
	app.UseWarehouse(func(ctx context.Context) (warehouse.Warehouse, error) { return bigquery.FromEnv(ctx, os.Getenv) })
	functions.HTTP("analytics", app.Lazy(func(a *app.App) http.Handler { return Handler(a) }))
}
