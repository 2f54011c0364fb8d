// Package faults holds edugrid's fault tests, run with every `go test ./...`: a database call outliving
// its request's deadline, Pub/Sub refusing publishes, and the warehouse failing then recovering. Each
// checks that requests fail with a clear answer, that the system recovers by itself, and that nothing is
// lost or counted twice. The relay restarted mid-stream, redelivery, reordering and poison messages are
// covered beside the pipeline (internal/pipeline, triggers/relay).
//
// The package has no code of its own: the tests drive the real wiring (internal/apptest,
// internal/pipeline) with faults injected at its seams.
package faults
