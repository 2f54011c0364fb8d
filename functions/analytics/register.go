package analytics

import (
	"context"
	"net/http"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/edugrid/edugrid/shared/app"
	"github.com/edugrid/edugrid/shared/config"
	"github.com/edugrid/edugrid/shared/warehouse"
	"github.com/edugrid/edugrid/shared/warehouse/bigquery"
)

func init() {
	app.UseWarehouse(func(ctx context.Context) (warehouse.Warehouse, error) {
		cfg, err := config.FromEnv(os.Getenv)
		if err != nil {
			return nil, err
		}
		return bigquery.OpenWarehouse(ctx, bigquery.Config{Project: cfg.WarehouseProject, Dataset: cfg.WarehouseDataset, Location: cfg.WarehouseLocation})
	})
	functions.HTTP("analytics", app.Lazy(func(a *app.App) http.Handler { return Handler(a) }))
}
