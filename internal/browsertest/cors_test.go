package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edugrid/edugrid/internal/apptest"
)

// chromium returns the browser binary, skipping the test (failing it in CI) when there is none.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on PATH; CI must run the browser tests: run scripts/chromium.sh before the tests")
	}
	t.Skip("no chromium on PATH: run scripts/chromium.sh (installs Debian's chromium) to run the browser tests")
	return ""
}

// page is a web page on its own loopback origin. Its script runs in the browser and reports a JSON
// result; the page's document stays open until the report arrives, so the browser dumps the DOM only
// after the script has finished.
type page struct {
	srv    *httptest.Server
	origin string
	report chan string

	mu     sync.Mutex
	script string // set by load; the page's origin is needed before the script can be written
}

func newPage(t *testing.T) *page {
	t.Helper()
	p := &page{report: make(chan string, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		p.mu.Lock()
		js := p.script
		p.mu.Unlock()
		fmt.Fprintf(w, "<!doctype html><html><head><title>edugrid browser test</title></head><body>\n<pre id=\"result\"></pre>\n<script>\n%s\n</script>\n", js)
		w.(http.Flusher).Flush()
		select {
		case <-p.report:
		case <-time.After(30 * time.Second):
		case <-r.Context().Done():
		}
		io.WriteString(w, "</body></html>\n")
	})
	mux.HandleFunc("POST /report", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case p.report <- string(b):
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /favicon.ico", http.NotFound)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	p.origin = p.srv.URL // http://127.0.0.1:<port>
	return p
}

// script wraps body, an async function body that fills the object out, into the page's script: the
// result goes into the DOM (what the browser dumps) and to /report (which lets the document end).
func script(api, body string) string {
	return fmt.Sprintf(`const api = %q;
const out = {};
async function probe(name, f) {
  try { await f(); } catch (e) { out[name] = "rejected: " + e.name; }
}
(async () => {
%s
})().catch(e => { out.error = String(e); }).finally(() => {
  const text = JSON.stringify(out);
  document.getElementById("result").textContent = text;
  fetch("/report", {method: "POST", body: text});
});`, api, body)
}

var resultPattern = regexp.MustCompile(`(?s)<pre id="result">(.*?)</pre>`)

// load opens p with js as its script in a fresh headless Chromium and returns what the script reported,
// read from the dumped DOM.
func load(t *testing.T, browser string, p *page, js string) map[string]any {
	t.Helper()
	p.mu.Lock()
	p.script = js
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--disable-quic", "--disable-extensions", "--user-data-dir="+t.TempDir(), "--dump-dom", p.origin+"/")
	start := time.Now()
	dom, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("chromium: %v\n%s", err, stderr)
	}
	t.Logf("chromium loaded %s in %v", p.origin, time.Since(start).Round(time.Millisecond))
	m := resultPattern.FindSubmatch(dom)
	if m == nil {
		t.Fatalf("the dumped DOM has no result:\n%s", dom)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &out); err != nil {
		t.Fatalf("result %q: %v", m[1], err)
	}
	t.Logf("%s reported %v", p.origin, out)
	return out
}

// flow signs in, reads, writes and reads headers a frontend needs, all from the page's origin.
func flow(tenant, email string) string {
	return fmt.Sprintf(`
  let r = await fetch(api + "/auth/login", {method: "POST", headers: {"content-type": "application/json"},
    body: JSON.stringify({tenant: %q, email: %q, password: %q})});
  out.login = r.status;
  const token = (await r.json()).access_token;
  const auth = {authorization: "Bearer " + token};

  r = await fetch(api + "/users/branches?limit=10", {headers: auth});
  out.read = r.status;
  out.read_items = (await r.json()).items.length;
  out.request_id = r.headers.get("x-request-id") || "";

  r = await fetch(api + "/users/branches", {method: "POST",
    headers: {...auth, "content-type": "application/json", "idempotency-key": "browser-1", "x-request-id": "browser-write-1"},
    body: JSON.stringify({code: "WEB", name: "Added from a browser"})});
  out.write = r.status;
  out.write_request_id = r.headers.get("x-request-id") || "";
  out.written = (await r.json()).name;

  r = await fetch(api + "/users/branches?limit=500", {headers: auth});
  const bad = await r.json();
  out.bad_limit = r.status + " " + bad.code + " " + bad.instance;

  r = await fetch(api + "/users/branches", {method: "DELETE", headers: auth});
  out.not_allowed = r.status + " " + (await r.json()).code + " allow=" + r.headers.get("allow");

  r = await fetch(api + "/auth/me", {headers: {authorization: "Bearer not-a-token"}});
  out.refused_token = r.status + " " + r.headers.get("www-authenticate");
`, tenant, email, apptest.Password)
}

func TestBrowserOnAnotherOrigin(t *testing.T) {
	browser := chromium(t)
	configured := newPage(t)  // allowed by EDUGRID_CORS_ORIGINS
	institution := newPage(t) // allowed by the institution's own settings.origins
	elsewhere := newPage(t)   // allowed by nobody
	env := apptest.New(t, "EDUGRID_CORS_ORIGINS", configured.origin)
	api := httptest.NewServer(env.Handler)
	t.Cleanup(api.Close)
	ten := env.Provision("sunrise")

	admin := env.AdminToken()
	settings := apptest.Call[struct {
		Settings map[string]any `json:"settings"`
	}](t, env, "GET", "/platform/tenants/sunrise", admin, nil, http.StatusOK).Settings
	settings["origins"] = []string{institution.origin}
	apptest.Call[map[string]any](t, env, "PUT", "/platform/tenants/sunrise/settings", admin, settings, http.StatusOK)

	wantFlow := map[string]any{
		"login": 200.0, "read": 200.0, "read_items": 0.0, "write": 201.0, "written": "Added from a browser",
		"write_request_id": "browser-write-1",
		"bad_limit":        "400 invalid /users/branches",
		"not_allowed":      "405 method_not_allowed allow=POST, GET",
		"refused_token":    `401 Bearer realm="edugrid", error="invalid_token", error_description="`,
	}
	check := func(t *testing.T, got map[string]any, want map[string]any) {
		t.Helper()
		for k, w := range want {
			if k == "refused_token" {
				if s, _ := got[k].(string); !strings.HasPrefix(s, w.(string)) {
					t.Errorf("%s = %v, want a prefix %v", k, got[k], w)
				}
				continue
			}
			if got[k] != w {
				t.Errorf("%s = %v (%T), want %v", k, got[k], got[k], w)
			}
		}
		if s, _ := got["request_id"].(string); s == "" {
			t.Error("X-Request-Id is not readable from the page")
		}
	}

	t.Run("configured origin: sign in, read, write", func(t *testing.T) {
		check(t, load(t, browser, configured, script(api.URL, flow(ten.Slug, ten.OwnerEmail))), wantFlow)
	})
	t.Run("institution's own origin", func(t *testing.T) {
		js := script(api.URL, strings.ReplaceAll(flow(ten.Slug, ten.OwnerEmail), `"WEB"`, `"WEB2"`))
		want := map[string]any{}
		for k, v := range wantFlow {
			want[k] = v
		}
		want["read_items"] = 1.0 // the first page's branch
		check(t, load(t, browser, institution, js), want)
	})
	t.Run("other origin is blocked", func(t *testing.T) {
		got := load(t, browser, elsewhere, script(api.URL, `
  await probe("login", async () => {
    const r = await fetch(api + "/auth/login", {method: "POST", headers: {"content-type": "application/json"}, body: "{}"});
    out.login = r.status;
  });
  await probe("simple_get", async () => {
    const r = await fetch(api + "/users/branches");
    out.simple_get = r.status;
  });
`))
		for _, k := range []string{"login", "simple_get"} {
			if got[k] != "rejected: TypeError" {
				t.Errorf("%s from an unlisted origin = %v, want the fetch rejected", k, got[k])
			}
		}
	})

	// The writes went through for real.
	branches := apptest.Call[struct {
		Items []struct {
			Code string `json:"code"`
		} `json:"items"`
	}](t, env, "GET", "/users/branches", env.Login(ten.Slug, ten.OwnerEmail).AccessToken, nil, http.StatusOK)
	if len(branches.Items) != 2 {
		t.Errorf("branches after the browser runs: %+v, want the two the pages added", branches.Items)
	}
}
