package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

func TestRefusesWithoutTopicProject(t *testing.T) {
	env := map[string]string{}
	err := run(context.Background(), nil, func(k string) string { return env[k] }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "EDUGRID_PUBSUB_PROJECT") {
		t.Fatalf("run = %v, want a refusal naming EDUGRID_PUBSUB_PROJECT", err)
	}
	for _, args := range [][]string{{"nope"}, {"backfill"}, {"backfill", "-tenant", "x", "-pending"}} {
		if err := run(context.Background(), args, func(k string) string { return env[k] }, io.Discard); err == nil {
			t.Fatalf("run %v succeeded", args)
		}
	}
}
