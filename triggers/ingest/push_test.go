package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	"github.com/edugrid/edugrid/shared/events"
	"github.com/edugrid/edugrid/triggers/ingest"
)

// In production change events arrive by a Pub/Sub push subscription (infra/analytics.tf) whose endpoint
// ends in projects/<project>/topics/<topic>; the Functions Framework turns that request into the CloudEvent
// the handler reads. This runs the real framework on loopback and pushes requests shaped as Pub/Sub sends
// them: an event is committed and answered 2xx, poison is acknowledged (2xx, nothing stored), and a failed
// commit answers an error status, so Pub/Sub retries and, in the end, dead-letters it.
func TestPubSubPushThroughTheFunctionsFramework(t *testing.T) {
	wh := &memWarehouse{}
	b := ingest.NewBatcher(ingest.New(wh, nil, quiet), 10, 5*time.Millisecond)
	t.Cleanup(b.Close)
	if err := funcframework.RegisterCloudEventFunctionContext(context.Background(), "/edugrid-ingest/", ingest.Handler(b, quiet)); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	_ = l.Close()
	go func() { _ = funcframework.StartHostPort("127.0.0.1", port) }() // serves until the test binary exits

	url := "http://127.0.0.1:" + port + "/edugrid-ingest/projects/edugrid-prod/topics/edugrid-changes"
	push := func(data []byte, id string) int {
		t.Helper()
		body, _ := json.Marshal(map[string]any{
			"message": map[string]any{"data": data, "attributes": map[string]string{"event_id": id}, "messageId": id,
				"publishTime": "2026-06-01T09:00:00.000Z"},
			"subscription": "projects/edugrid-prod/subscriptions/edugrid-ingest",
		})
		var resp *http.Response
		for range 100 { // the server starts in the background
			if resp, err = http.Post(url, "application/json", bytes.NewReader(body)); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}

	ev := event(1, events.Insert, "branches", `{"name":"Main","code":"M","active":true}`)
	data, err := events.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	if code := push(data, "m1"); code < 200 || code > 299 {
		t.Fatalf("push of an event answered %d", code)
	}
	ups := wh.upserts()
	if len(ups) != 1 || ups[0].Row[1] != ev.DocumentID || ups[0].Row[6] != "Main" {
		t.Fatalf("warehouse holds %+v, want the pushed branch", ups)
	}
	if code := push([]byte("not an event"), "m2"); code < 200 || code > 299 {
		t.Fatalf("poison push answered %d: Pub/Sub would retry it forever", code)
	}
	if n := len(wh.upserts()); n != 1 {
		t.Fatalf("poison stored rows: %d upserts", n)
	}
	wh.mu.Lock()
	wh.fail = errors.New("warehouse down")
	wh.mu.Unlock()
	if code := push(data, "m3"); code < 400 {
		t.Fatalf("a failed commit answered %d: Pub/Sub would not redeliver it", code)
	}
}
