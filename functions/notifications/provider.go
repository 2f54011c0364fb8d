package notifications

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/edugrid/edugrid/shared/clock"
)

// Message is one rendered message for one provider.
type Message struct {
	Channel Channel
	// To is an email address or an E.164 phone number.
	To      string
	Subject string // email only
	HTML    string // email only
	// Text is the plain text: the email's text part, the SMS, the WhatsApp message as the recipient reads it.
	Text string
	// Template is the provider's approved template: MSG91's template id (registered against the DLT
	// template id), or the WhatsApp template name; Twilio and email need none.
	Template string
	Language string
	// Params are the template's variables in order (WhatsApp {{1}}, {{2}}, ...; MSG91 var1, var2, ...).
	Params []string
	// Ref is the delivery id; providers that take a callback reference get it.
	Ref string
}

// Sender sends messages through one provider. Send returns the provider's message id. Its errors are
// *SendError (Permanent when trying again cannot help) or, for anything else, transient. Safe for
// concurrent use.
type Sender interface {
	Provider() string
	Send(ctx context.Context, m Message) (providerID string, err error)
}

// SendError is a provider's refusal or failure. Reason is safe to show in the delivery log: it never
// carries credentials.
type SendError struct {
	Permanent bool
	Reason    string
}

func (e *SendError) Error() string {
	kind := "transient"
	if e.Permanent {
		kind = "permanent"
	}
	return fmt.Sprintf("%s failure: %s", kind, e.Reason)
}

// Permanent returns a permanent SendError.
func Permanent(format string, args ...any) error {
	return &SendError{Permanent: true, Reason: fmt.Sprintf(format, args...)}
}

// Transient returns a transient SendError.
func Transient(format string, args ...any) error {
	return &SendError{Reason: fmt.Sprintf(format, args...)}
}

// IsPermanent reports whether err is a permanent SendError.
func IsPermanent(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.Permanent
}

// reasonOf returns the loggable reason of a send failure.
func reasonOf(err error) string {
	var se *SendError
	if errors.As(err, &se) {
		return se.Reason
	}
	return "the provider could not be reached"
}

// statusError classifies an HTTP answer of a provider: 408, 425, 429 and 5xx are worth retrying, every
// other 4xx is not (a bad number, a bad template, bad credentials: retrying would only burn quota).
func statusError(provider string, status int, detail string) error {
	if status == http.StatusRequestTimeout || status == http.StatusTooEarly || status == http.StatusTooManyRequests || status >= 500 {
		return Transient("%s answered %d %s", provider, status, detail)
	}
	return Permanent("%s refused the message (%d) %s", provider, status, detail)
}

// Retry is the in-process retry policy for transient failures: Attempts sends in all, waiting Base, 2·Base,
// 4·Base... (with jitter, at most Max) between them. What still fails transiently goes back to Pub/Sub,
// which redelivers with its own backoff.
type Retry struct {
	Attempts int
	Base     time.Duration
	Max      time.Duration
}

// DefaultRetry: three sends over about a second.
var DefaultRetry = Retry{Attempts: 3, Base: 200 * time.Millisecond, Max: 2 * time.Second}

func (r Retry) wait(ctx context.Context, attempt int) error {
	d := r.Base << attempt
	if r.Max > 0 && d > r.Max {
		d = r.Max
	}
	d = d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// GuardConfig bounds what one instance asks of a provider.
type GuardConfig struct {
	// PerSecond and Burst rate-limit sends; unlimited when PerSecond is 0.
	PerSecond float64
	Burst     int
	// Failures consecutive transient failures open the breaker for Cooldown: sends then fail at once
	// (transiently) without reaching the provider, so an outage burns neither quota nor time. After the
	// cooldown one send is let through; its success closes the breaker.
	Failures int
	Cooldown time.Duration
}

// DefaultGuard is the guard every configured provider gets.
var DefaultGuard = GuardConfig{PerSecond: 200, Burst: 50, Failures: 5, Cooldown: 30 * time.Second}

// Guard wraps a Sender with a rate limit and a circuit breaker.
func Guard(s Sender, cfg GuardConfig, clk clock.Clock) Sender {
	g := &guarded{Sender: s, cfg: cfg, clock: clk}
	if cfg.PerSecond > 0 {
		g.limiter = rate.NewLimiter(rate.Limit(cfg.PerSecond), max(cfg.Burst, 1))
	}
	return g
}

type guarded struct {
	Sender
	cfg     GuardConfig
	clock   clock.Clock
	limiter *rate.Limiter

	mu        sync.Mutex
	failures  int
	openUntil time.Time
	probing   bool
}

// ErrOpen is the failure of a send refused by an open circuit breaker.
var ErrOpen = &SendError{Reason: "the provider is failing; sends are paused for a while"}

func (g *guarded) Send(ctx context.Context, m Message) (string, error) {
	if !g.admit() {
		return "", ErrOpen
	}
	if g.limiter != nil {
		if err := g.limiter.Wait(ctx); err != nil {
			g.settle(nil, true)
			return "", Transient("rate limit wait: %v", err)
		}
	}
	id, err := g.Sender.Send(ctx, m)
	g.settle(err, false)
	return id, err
}

// admit says whether a send may go to the provider now.
func (g *guarded) admit() bool {
	if g.cfg.Failures <= 0 {
		return true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.openUntil.IsZero() {
		return true
	}
	if g.clock.Now().Before(g.openUntil) || g.probing {
		return false
	}
	g.probing = true // half-open: one send finds out
	return true
}

func (g *guarded) settle(err error, neutral bool) {
	if g.cfg.Failures <= 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	wasProbe := g.probing
	g.probing = false
	switch {
	case neutral:
	case err == nil || IsPermanent(err):
		// A permanent refusal is about the message, not the provider's health.
		g.failures, g.openUntil = 0, time.Time{}
	default:
		g.failures++
		if wasProbe || g.failures >= g.cfg.Failures {
			g.openUntil = g.clock.Now().Add(g.cfg.Cooldown)
		}
	}
}

// call sends a provider's request and decodes up to 64 KiB of its answer into out; an answer that is not
// JSON leaves out as it was, for the caller to judge by the status it returns. A request that never got an
// answer is Transient.
func call(client *http.Client, req *http.Request, provider string, out any) (int, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, Transient("%s could not be reached: %s", provider, safeNetError(err))
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = json.Unmarshal(raw, out)
	return resp.StatusCode, nil
}
