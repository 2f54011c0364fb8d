package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// client speaks to the stack under load. addr is the X-Forwarded-For address it presents: the in-process
// stack trusts one proxy hop, so each virtual user counts as its own client for the per-address login
// limit, as users behind the load balancer do.
type client struct {
	http *http.Client
	base string
	addr string
}

// answer is one response, read whole.
type answer struct {
	status int
	body   []byte
}

func (c *client) do(ctx context.Context, method, path, token string, body any, header map[string]string) (answer, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return answer{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return answer{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if c.addr != "" {
		req.Header.Set("X-Forwarded-For", c.addr)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	return answer{status: resp.StatusCode, body: b}, nil
}

// must sends a setup request and decodes the answer into out (when not nil); any status but want fails.
// A 429 (the stack's login limit when it does not trust X-Forwarded-For) or a 503 (a request past its
// deadline, as provisioning can be on the file engine) is waited out and sent again.
func (c *client) must(ctx context.Context, method, path, token string, body any, want int, out any) error {
	for {
		a, err := c.do(ctx, method, path, token, body, nil)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		if a.status == http.StatusTooManyRequests || a.status == http.StatusServiceUnavailable {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
			continue
		}
		if a.status != want {
			return fmt.Errorf("%s %s: %d %s", method, path, a.status, bytes.TrimSpace(a.body))
		}
		if out != nil {
			if err := json.Unmarshal(a.body, out); err != nil {
				return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
			}
		}
		return nil
	}
}

// tokens is a sign-in's token pair.
type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

type idOnly struct {
	ID string `json:"id"`
}

type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}
