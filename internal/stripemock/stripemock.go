// Package stripemock runs Stripe's own mock server (github.com/stripe/stripe-mock, built once by
// scripts/stripemock.sh into .cache/stripe-mock) on a free loopback port, for the payments tests and the
// local stack. stripe-mock validates every request against Stripe's OpenAPI specification and answers
// with Stripe's fixtures: it checks what edugrid sends, not what a real account would hold.
package stripemock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// Server is a running stripe-mock.
type Server struct {
	// URL is its HTTP base URL (http://127.0.0.1:<port>), what stripe-go's backend is pointed at.
	URL string
	cmd *exec.Cmd
}

// Binary returns the stripe-mock binary: $EDUGRID_STRIPE_MOCK, else the one scripts/stripemock.sh built
// into the repository's .cache/stripe-mock.
func Binary() (string, error) {
	if p := os.Getenv("EDUGRID_STRIPE_MOCK"); p != "" {
		return p, nil
	}
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "..", ".cache", "stripe-mock", "stripe-mock")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("stripe-mock is not built: run scripts/stripemock.sh build")
	}
	return p, nil
}

// Start starts stripe-mock on a free loopback port and waits until it answers.
func Start(ctx context.Context) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	cmd := exec.Command(bin, "-http-addr", addr)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start stripe-mock: %w", err)
	}
	s := &Server{URL: "http://" + addr, cmd: cmd}
	deadline := time.Now().Add(20 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/v1/balance", nil)
		req.Header.Set("Authorization", "Bearer sk_test_123")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			return s, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.Close()
			return nil, errors.New("stripe-mock did not answer within 20 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Close stops the server.
func (s *Server) Close() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}

// ForTest starts stripe-mock for tb, stopped when it ends. Without a built binary the test is skipped
// with how to build it, except under CI=true, where it fails.
func ForTest(tb testing.TB) *Server {
	tb.Helper()
	if _, err := Binary(); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%v; CI must run the Stripe tests: .ci/run builds it before the tests", err)
		}
		tb.Skipf("%v to run the Stripe tests", err)
	}
	s, err := Start(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}
