// Command coldstart measures a cold start of an edugrid function as production runs it: from starting the
// process to its first authenticated 200.
//
//	go run ./scripts/coldstart            # 10 starts of each case
//	go run ./scripts/coldstart -runs 20
//
// It builds ./scripts/coldstart/function (the main the Cloud Functions buildpack generates: the module
// root imported, functions-framework serving FUNCTION_TARGET), prepares an institution in an embedded
// engine file with a signing key, then starts the binary again and again on a loopback port over that
// file and polls it:
//
//   - users, token prepared ahead: GET /branches with an access token obtained before the start (a
//     returning user whose token is still valid), timed to the first 200;
//   - auth, login included: POST /login and then GET /me with the token it answered, timed to the 200 of
//     /me; the login's Argon2id hash (production cost) is part of it.
//
// Each start is timed from just before the process is started; "listening" is the first accepted TCP
// connection. The function builds its App lazily on the first request, so that request pays for
// connecting to the platform database, loading the tenant and opening its database.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/edugrid/edugrid/functions/all"
	"github.com/edugrid/edugrid/functions/platform"
	"github.com/edugrid/edugrid/shared/app"
	"github.com/edugrid/edugrid/shared/authn"
	"github.com/edugrid/edugrid/shared/config"
	"github.com/edugrid/edugrid/shared/rbac"
)

const (
	slug     = "coldstart"
	owner    = "owner@coldstart.test"
	password = "coldstart-password-1"
)

func main() {
	runs := flag.Int("runs", 10, "starts of each case")
	keep := flag.Bool("keep", false, "keep the temporary directory (binary and data)")
	flag.Parse()
	if err := run(*runs, *keep, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "edugrid coldstart:", err)
		os.Exit(1)
	}
}

func run(runs int, keep bool, out io.Writer) error {
	dir, err := os.MkdirTemp("", "edugrid-coldstart-")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(dir)
	}
	bin := filepath.Join(dir, "function")
	fmt.Fprintln(out, "building ./scripts/coldstart/function …")
	build := exec.Command("go", "build", "-o", bin, "./scripts/coldstart/function")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	if st, err := os.Stat(bin); err == nil {
		fmt.Fprintf(out, "binary: %.1f MB\n", float64(st.Size())/1e6)
	}
	env, token, err := prepare(dir)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}

	cases := []struct {
		name, target string
		probe        func(ctx context.Context, base string) (bool, error)
	}{
		{"users, token prepared ahead", "users", func(ctx context.Context, base string) (bool, error) {
			code, _, err := call(ctx, "GET", base+"/branches", token, nil)
			return code == http.StatusOK, err
		}},
		{"auth, login included", "auth", func(ctx context.Context, base string) (bool, error) {
			code, body, err := call(ctx, "POST", base+"/login", "", map[string]string{"tenant": slug, "email": owner, "password": password})
			if err != nil || code != http.StatusOK {
				return false, err
			}
			var tok struct {
				AccessToken string `json:"access_token"`
			}
			if err := json.Unmarshal(body, &tok); err != nil {
				return false, err
			}
			code, _, err = call(ctx, "GET", base+"/me", tok.AccessToken, nil)
			if err == nil && code != http.StatusOK {
				err = fmt.Errorf("GET /me after login: %d", code)
			}
			return code == http.StatusOK, err
		}},
	}
	fmt.Fprintf(out, "\n| case | runs | listening (median) | first authenticated 200: min | median | max |\n|---|---|---|---|---|---|\n")
	for _, c := range cases {
		var listen, ready []time.Duration
		for range runs {
			l, r, err := once(bin, append(slices.Clone(env), "FUNCTION_TARGET="+c.target), c.probe)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			listen, ready = append(listen, l), append(ready, r)
		}
		slices.Sort(listen)
		slices.Sort(ready)
		fmt.Fprintf(out, "| %s | %d | %s | %s | %s | %s |\n", c.name, runs, msec(listen[len(listen)/2]), msec(ready[0]), msec(ready[len(ready)/2]), msec(ready[len(ready)-1]))
	}
	return nil
}

func msec(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }

// prepare provisions the institution in an embedded engine file under dir with a generated signing key,
// signs its owner in, and returns the environment a function needs to serve from that file and the
// owner's access token.
func prepare(dir string) ([]string, string, error) {
	key, err := authn.GenerateKey()
	if err != nil {
		return nil, "", err
	}
	vars := map[string]string{
		"EDUGRID_PLATFORM_URI":            "lungo:file:" + filepath.Join(dir, "edugrid.lungo"),
		"EDUGRID_SIGNING_KEYS":            string(key),
		"EDUGRID_PLATFORM_ADMIN_EMAIL":    "admin@coldstart.test",
		"EDUGRID_PLATFORM_ADMIN_PASSWORD": password,
		"EDUGRID_LOG_LEVEL":               "warn",
	}
	cfg, err := config.FromEnv(func(k string) string { return vars[k] })
	if err != nil {
		return nil, "", err
	}
	ctx := context.Background()
	a, err := app.New(ctx, cfg, app.Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Schema: &all.Schema})
	if err != nil {
		return nil, "", err
	}
	defer a.Close()
	svcs := all.Build(a, all.Options{})
	if _, err := svcs.Platform.Provision(ctx, rbac.Principal{Subject: "coldstart", Role: rbac.PlatformAdmin}, platform.ProvisionRequest{
		Slug: slug, Name: "Cold Start Institute", Owner: platform.OwnerInput{Name: "Owner", Email: owner, Password: password},
	}); err != nil {
		return nil, "", err
	}
	auth := svcs.Auth.Area(a.AreaOptions())
	b, _ := json.Marshal(map[string]string{"tenant": slug, "email": owner, "password": password})
	req := httptest.NewRequest("POST", "/auth/login", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	auth.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return nil, "", fmt.Errorf("sign in: %d %s", rec.Code, rec.Body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil {
		return nil, "", err
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env, tok.AccessToken, nil
}

// once starts the binary, polls probe until it succeeds, stops the process, and returns the times from
// the start to the first accepted connection and to probe's success.
func once(bin string, env []string, probe func(context.Context, string) (bool, error)) (listening, ready time.Duration, err error) {
	port, err := freePort()
	if err != nil {
		return 0, 0, err
	}
	base := "http://127.0.0.1:" + port
	cmd := exec.Command(bin)
	cmd.Env = append(env, "PORT="+port)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	for listening == 0 {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 100*time.Millisecond); err == nil {
			listening = time.Since(start)
			c.Close()
		} else if ctx.Err() != nil {
			return 0, 0, fmt.Errorf("not listening within 30 s: %s", stderr.String())
		} else {
			time.Sleep(200 * time.Microsecond)
		}
	}
	for {
		ok, err := probe(ctx, base)
		if ok {
			return listening, time.Since(start), nil
		}
		if ctx.Err() != nil {
			return 0, 0, fmt.Errorf("no authenticated 200 within 30 s (last error %v): %s", err, stderr.String())
		}
		time.Sleep(200 * time.Microsecond)
	}
}

func call(ctx context.Context, method, url, token string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	if err != nil {
		return "", errors.New("free port: " + err.Error())
	}
	return port, nil
}
