package payments

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/edugrid/edugrid/shared/apperr"
)

// RazorpayGateway calls Razorpay's documented REST API (https://razorpay.com/docs/api/) with each
// institution's key id and secret (HTTP basic authentication): payment links, their payments, refunds.
type RazorpayGateway struct {
	// BaseURL is https://api.razorpay.com in production; a loopback stand-in locally and in tests.
	BaseURL string
	Client  *http.Client
}

// NewRazorpay returns a RazorpayGateway at baseURL.
func NewRazorpay(baseURL string) *RazorpayGateway {
	return &RazorpayGateway{BaseURL: strings.TrimRight(baseURL, "/"), Client: &http.Client{Timeout: 15 * time.Second}}
}

// razorpayError is Razorpay's error body.
type razorpayError struct {
	Error struct {
		Code        string `json:"code"`
		Description string `json:"description"`
	} `json:"error"`
}

func (g *RazorpayGateway) call(ctx context.Context, c credentials, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, g.BaseURL+path, body)
	if err != nil {
		return err
	}
	req.SetBasicAuth(c.KeyID, c.KeySecret)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := g.Client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: razorpay %s %s: %v", ErrUnavailable, method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%w: razorpay %s %s: %v", ErrUnavailable, method, path, err)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("%w: razorpay %s %s answered %d", ErrUnavailable, method, path, resp.StatusCode)
	case resp.StatusCode == http.StatusUnauthorized:
		return apperr.Errorf(apperr.Conflict, "Razorpay refused the institution's key id and secret; check the gateway account")
	case resp.StatusCode >= 400:
		var e razorpayError
		_ = json.Unmarshal(raw, &e)
		return apperr.Errorf(apperr.Conflict, "Razorpay refused the request: %s", clip(e.Error.Description))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%w: razorpay %s %s: undecodable answer: %v", ErrUnavailable, method, path, err)
		}
	}
	return nil
}

// razorpayLink is a payment link entity.
type razorpayLink struct {
	ID          string            `json:"id"`
	ShortURL    string            `json:"short_url"`
	Status      string            `json:"status"`
	Amount      int64             `json:"amount"`
	Currency    string            `json:"currency"`
	ReferenceID string            `json:"reference_id"`
	Notes       map[string]string `json:"notes"`
	Payments    []struct {
		PaymentID string `json:"payment_id"`
		Amount    int64  `json:"amount"`
		Status    string `json:"status"`
		CreatedAt int64  `json:"created_at"`
	} `json:"payments"`
}

// CreateLink implements Gateway: POST /v1/payment_links, edugrid's request id as reference_id and in the
// notes; Razorpay sends nothing itself (edugrid's notifications do).
func (g *RazorpayGateway) CreateLink(ctx context.Context, c credentials, in LinkRequest) (Link, error) {
	body := map[string]any{
		"amount": in.Amount, "currency": in.Currency, "accept_partial": false,
		"expire_by": in.ExpiresAt.Unix(), "reference_id": in.RequestID,
		"description": clip(in.Institution + ": " + in.Description),
		"customer":    map[string]string{"name": in.PayerName},
		"notify":      map[string]bool{"sms": false, "email": false}, "reminder_enable": false,
		"notes": map[string]string{"edugrid_request": in.RequestID, "edugrid_institution": in.Slug},
	}
	if in.ReturnURL != "" {
		body["callback_url"], body["callback_method"] = in.ReturnURL, "get"
	}
	var out razorpayLink
	if err := g.call(ctx, c, http.MethodPost, "/v1/payment_links", body, &out); err != nil {
		return Link{}, err
	}
	if out.ID == "" || out.ShortURL == "" {
		return Link{}, fmt.Errorf("%w: razorpay created a payment link without an id or URL", ErrUnavailable)
	}
	return Link{ProviderRef: out.ID, URL: out.ShortURL}, nil
}

// CancelLink implements Gateway: POST /v1/payment_links/{id}/cancel.
func (g *RazorpayGateway) CancelLink(ctx context.Context, c credentials, ref string) error {
	return g.call(ctx, c, http.MethodPost, "/v1/payment_links/"+ref+"/cancel", nil, nil)
}

// LinkCaptures implements Gateway: GET /v1/payment_links/{id}, whose payments list what was paid on it.
func (g *RazorpayGateway) LinkCaptures(ctx context.Context, c credentials, ref string) ([]Capture, error) {
	var l razorpayLink
	if err := g.call(ctx, c, http.MethodGet, "/v1/payment_links/"+ref, nil, &l); err != nil {
		return nil, err
	}
	var out []Capture
	for _, p := range l.Payments {
		if p.Status != "captured" {
			continue
		}
		out = append(out, Capture{Provider: Razorpay, PaymentID: p.PaymentID, ProviderRef: l.ID, RequestID: l.ReferenceID,
			Amount: p.Amount, Currency: strings.ToUpper(l.Currency), At: time.Unix(p.CreatedAt, 0).UTC()})
	}
	return out, nil
}

// Refund implements Gateway: POST /v1/payments/{id}/refund. Razorpay takes no idempotency key; the key
// travels as the refund's receipt, so a retried refund can be recognised in its dashboard.
func (g *RazorpayGateway) Refund(ctx context.Context, c credentials, paymentID string, amount int64, key string) (GatewayRefund, error) {
	var out struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	body := map[string]any{"amount": amount, "speed": "normal", "receipt": clip(key), "notes": map[string]string{"edugrid_refund": key}}
	if err := g.call(ctx, c, http.MethodPost, "/v1/payments/"+paymentID+"/refund", body, &out); err != nil {
		return GatewayRefund{}, err
	}
	st := RefundPending
	switch out.Status {
	case "processed":
		st = RefundProcessed
	case "failed":
		st = RefundFailed
	}
	return GatewayRefund{ID: out.ID, Status: st}, nil
}

// clip bounds text from or to a provider, so a long answer never floods a message or a log.
func clip(s string) string {
	if len(s) > 200 {
		return s[:200]
	}
	return s
}
