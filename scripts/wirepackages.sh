#!/usr/bin/env bash
# Prints the packages of the over-the-wire test tier (README, "Tests and checks"), one a line: every
# package whose tests build an edugrid through internal/apptest, so a new one joins without an edit here;
# the browser and warehouse-conformance suites are left out (they test the browser and BigQuery, and
# need their own tools); internal/wiretest's own checks of the server come first. .ci/run runs them on FerretDB, cloudbuild.yaml on a MongoDB replica set.
set -euo pipefail
cd "$(dirname "$0")/.."
echo github.com/edugrid/edugrid/internal/wiretest
go list -f '{{.ImportPath}}{{range .TestImports}} {{.}}{{end}}{{range .XTestImports}} {{.}}{{end}}' ./... |
	awk '/ github\.com\/edugrid\/edugrid\/internal\/apptest( |$)/ {print $1}' |
	grep -v -e '/internal/browsertest$' -e '/internal/conformance$'
