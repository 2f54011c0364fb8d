package infra_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"testing"

	bq "cloud.google.com/go/bigquery"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/edugrid/edugrid/shared/warehouse"
	"github.com/edugrid/edugrid/shared/warehouse/bigquery"
)

var update = flag.Bool("update", false, "rewrite "+tablesFile+" from the warehouse's table definitions")

// tablesFile holds the warehouse's BigQuery tables as Terraform JSON, generated from the same definitions
// the engines use (shared/warehouse), so the deployed tables cannot drift from what ingest writes and
// reports read. Regenerate with: go test ./infra -run TestWarehouseTables -update
const tablesFile = "warehouse_tables.tf.json"

type tfField struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Mode string `json:"mode"`
}

// tablesJSON renders every warehouse table as a google_bigquery_table resource in the dataset of
// analytics.tf, with the engine's schema, daily partitioning and clustering.
func tablesJSON(t *testing.T) []byte {
	t.Helper()
	tables := map[string]any{}
	for _, tbl := range warehouse.Tables() {
		md := bigquery.Metadata(tbl)
		var fields []tfField
		for _, f := range md.Schema {
			mode := "NULLABLE"
			if f.Required {
				mode = "REQUIRED"
			}
			fields = append(fields, tfField{Name: f.Name, Type: string(f.Type), Mode: mode})
		}
		schema, err := json.Marshal(fields)
		if err != nil {
			t.Fatal(err)
		}
		if md.TimePartitioning.Type != bq.DayPartitioningType {
			t.Fatalf("table %s is not partitioned by day", tbl.Name)
		}
		tables[bigquery.Stored(tbl)] = map[string]any{
			"project":             "${var.project_id}",
			"dataset_id":          "${google_bigquery_dataset.warehouse.dataset_id}",
			"table_id":            bigquery.Stored(tbl),
			"description":         md.Description,
			"labels":              "${var.labels}",
			"deletion_protection": true,
			"schema":              string(schema),
			"time_partitioning":   []any{map[string]any{"type": "DAY", "field": md.TimePartitioning.Field}},
			"clustering":          md.Clustering.Fields,
		}
	}
	doc := map[string]any{
		"//":       "Generated from shared/warehouse by go test ./infra -run TestWarehouseTables -update. Do not edit.",
		"resource": map[string]any{"google_bigquery_table": tables},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The committed Terraform tables are exactly the warehouse's: a table or column added to
// shared/warehouse without regenerating them fails here.
func TestWarehouseTablesMatchTheEngine(t *testing.T) {
	want := tablesJSON(t)
	if *update {
		if err := os.WriteFile(tablesFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(tablesFile)
	if err != nil {
		t.Fatalf("%v (generate it: go test ./infra -run TestWarehouseTables -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the warehouse's tables: regenerate it with go test ./infra -run TestWarehouseTables -update", tablesFile)
	}
	// Terraform reads it as JSON configuration syntax.
	if _, diags := hclparse.NewParser().ParseJSONFile(tablesFile); diags.HasErrors() {
		t.Fatalf("%s does not parse: %s", tablesFile, diags.Error())
	}
}
