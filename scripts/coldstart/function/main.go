// Command function is what the Cloud Functions Go buildpack builds from this module: a main that imports
// the module root (registering every function in init) and serves the function FUNCTION_TARGET names on
// PORT. scripts/coldstart builds it to measure a cold start as production has it; it listens on loopback
// only.
package main

import (
	"fmt"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	_ "github.com/edugrid/edugrid"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if err := funcframework.StartHostPort("127.0.0.1", port); err != nil {
		fmt.Fprintln(os.Stderr, "function:", err)
		os.Exit(1)
	}
}
