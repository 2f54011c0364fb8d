package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startStack runs the local stack on a free loopback port over dataDir and returns its base URL and a
// stop function that waits for a clean exit.
func startStack(t *testing.T, dataDir string) (string, func()) {
	t.Helper()
	env := map[string]string{"EDUGRID_ADDR": "127.0.0.1:0", "EDUGRID_DATA_DIR": dataDir, "EDUGRID_DEMO_PASSWORD": "stack-test-pass-1", "EDUGRID_LOG_LEVEL": "error"}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() { done <- run(ctx, func(k string) string { return env[k] }, &out, ready) }()
	select {
	case addr := <-ready:
		if !strings.Contains(out.String(), "owner@demo.test") {
			t.Errorf("welcome text does not print the demo owner login:\n%s", out.String())
		}
		return "http://" + addr, func() {
			t.Helper()
			cancel()
			if err := <-done; err != nil {
				t.Errorf("stack stopped with %v", err)
			}
		}
	case err := <-done:
		cancel()
		t.Fatalf("stack did not start: %v", err)
	case <-time.After(3 * time.Minute):
		// The first start seeds the whole demo institution: seconds normally, but the race detector
		// makes it ten times slower on a busy machine.
		cancel()
		t.Fatal("stack not ready within 3 minutes")
	}
	return "", nil
}

func call(t *testing.T, method, url, token string, body any) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

type pair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

func login(t *testing.T, base, email string) pair {
	t.Helper()
	code, _, b := call(t, "POST", base+"/auth/login", "", map[string]string{"tenant": "demo", "email": email, "password": "stack-test-pass-1"})
	if code != 200 {
		t.Fatalf("login %s: %d %s", email, code, b)
	}
	var p pair
	if err := json.Unmarshal(b, &p); err != nil || p.AccessToken == "" || p.RefreshToken == "" {
		t.Fatalf("login %s answered %s", email, b)
	}
	return p
}

// The local stack as a new user meets it: fresh data, demo login, authenticated calls, a refused token,
// the API document, a clean stop; then a restart on the same data keeps every account, key and session.
func TestLocalStack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole local stack; run without -short")
	}
	dir := t.TempDir()
	base, stop := startStack(t, dir)

	if code, _, _ := call(t, "GET", base+"/healthz", "", nil); code != 200 {
		t.Fatalf("healthz = %d", code)
	}
	owner := login(t, base, "owner@demo.test")
	code, _, me := call(t, "GET", base+"/auth/me", owner.AccessToken, nil)
	if code != 200 || !strings.Contains(string(me), `"tenant":"demo"`) || !strings.Contains(string(me), `"role":"owner"`) {
		t.Fatalf("/auth/me = %d %s", code, me)
	}
	code, _, branches := call(t, "GET", base+"/users/branches", owner.AccessToken, nil)
	if code != 200 || !strings.Contains(string(branches), "MAIN") || !strings.Contains(string(branches), "NORTH") {
		t.Fatalf("/users/branches = %d %s", code, branches)
	}
	// The seeded teacher of the main campus sees only it.
	teacher := login(t, base, "teacher.main@demo.test")
	if code, _, b := call(t, "GET", base+"/users/branches", teacher.AccessToken, nil); code != 200 || strings.Contains(string(b), "NORTH") {
		t.Fatalf("teacher's branches = %d %s", code, b)
	}
	code, hdr, _ := call(t, "GET", base+"/auth/me", "x.y.z", nil)
	if code != 401 || hdr.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("bad token answered %d %s", code, hdr.Get("Content-Type"))
	}
	// A frontend's dev server on any loopback port may call the local stack; other origins may not.
	for origin, want := range map[string]int{"http://localhost:5173": 204, "http://127.0.0.1:3000": 204, "https://elsewhere.example": 403} {
		req, _ := http.NewRequest("OPTIONS", base+"/auth/login", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if allowed := resp.Header.Get("Access-Control-Allow-Origin"); resp.StatusCode != want || (want == 204) != (allowed == origin) {
			t.Errorf("preflight from %s = %d, Access-Control-Allow-Origin %q; want %d", origin, resp.StatusCode, allowed, want)
		}
	}
	code, _, doc := call(t, "GET", base+"/openapi.json", "", nil)
	var d struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if code != 200 || json.Unmarshal(doc, &d) != nil || !strings.HasPrefix(d.OpenAPI, "3.1") || d.Paths["/auth/login"] == nil {
		t.Fatalf("/openapi.json = %d %.200s", code, doc)
	}
	// The fee reminder run on demand: it walks the demo tenant, and a second run sends nothing again.
	var run1, run2 struct {
		Tenants   int `json:"tenants"`
		Failed    int `json:"failed"`
		Reminders int `json:"reminders"`
	}
	code, _, b := call(t, "POST", base+"/reminders/run", "", nil)
	if code != 200 || json.Unmarshal(b, &run1) != nil || run1.Tenants != 1 || run1.Failed != 0 {
		t.Fatalf("POST /reminders/run = %d %s", code, b)
	}
	code, _, b = call(t, "POST", base+"/reminders/run", "", nil)
	if code != 200 || json.Unmarshal(b, &run2) != nil || run2.Reminders != 0 {
		t.Fatalf("second reminder run = %d %s", code, b)
	}
	checkMessages(t, base, run1.Reminders)
	accountants := checkAnalytics(t, base, owner.AccessToken)
	checkPayment(t, base, owner.AccessToken)
	stop()

	// Restart: nothing is seeded twice, the signing key and sessions survive.
	base, stop = startStack(t, dir)
	defer stop()
	if code, _, b := call(t, "GET", base+"/auth/me", owner.AccessToken, nil); code != 200 {
		t.Fatalf("access token issued before the restart: %d %s", code, b)
	}
	code, _, b = call(t, "POST", base+"/auth/refresh", "", map[string]string{"refresh_token": owner.RefreshToken})
	if code != 200 {
		t.Fatalf("refresh token issued before the restart: %d %s", code, b)
	}
	code, _, branches = call(t, "GET", base+"/users/branches", owner.AccessToken, nil)
	if code != 200 || strings.Count(string(branches), `"code"`) != 2 {
		t.Fatalf("after restart branches = %d %s", code, branches)
	}
	checkAnalyticsAfterRestart(t, base, owner.AccessToken, accountants)
}

// checkMessages waits until the reminders of a run reached the providers' stand-ins, and reads them at
// /dev/messages and /dev/messages.html.
func checkMessages(t *testing.T, base string, reminders int) {
	t.Helper()
	var got struct {
		Messages []struct {
			Channel, Provider, To, Text string
		} `json:"messages"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _, b := call(t, "GET", base+"/dev/messages", "", nil)
		if code != 200 || json.Unmarshal(b, &got) != nil {
			t.Fatalf("/dev/messages = %d %.300s", code, b)
		}
		if len(got.Messages) >= reminders || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(got.Messages) < reminders {
		t.Fatalf("%d reminders were sent, and only %d reached a provider's stand-in", reminders, len(got.Messages))
	}
	for _, m := range got.Messages {
		if m.Channel == "" || m.Provider == "" || m.To == "" {
			t.Errorf("a listed message lacks its channel, provider or recipient: %+v", m)
		}
	}
	code, hdr, b := call(t, "GET", base+"/dev/messages.html", "", nil)
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") || !strings.Contains(string(b), "Messages sent by the local stack") {
		t.Fatalf("/dev/messages.html = %d %s", code, hdr.Get("Content-Type"))
	}
	t.Logf("%d reminders, %d messages at /dev/messages", reminders, len(got.Messages))
}
