package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// checkPayment walks the local page's path over HTTP: a payment request for a demo student's dues, the
// Razorpay stand-in's checkout paid (it sends the signed webhook back to the stack), the receipt, the
// dues after it.
func checkPayment(t *testing.T, base, token string) {
	t.Helper()
	if code, _, b := call(t, "GET", base+"/dev/pay.html", "", nil); code != 200 || !strings.Contains(string(b), "/payments/requests") {
		t.Fatalf("/dev/pay.html = %d", code)
	}
	code, _, b := call(t, "GET", base+"/students/?limit=50", token, nil)
	var page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if code != 200 || json.Unmarshal(b, &page) != nil {
		t.Fatalf("students: %d %s", code, b)
	}
	var student string
	var before struct {
		Outstanding int64 `json:"outstanding"`
	}
	for _, s := range page.Items {
		if _, _, b := call(t, "GET", base+"/fees/dues/students/"+s.ID, token, nil); json.Unmarshal(b, &before) == nil && before.Outstanding > 0 {
			student = s.ID
			break
		}
	}
	if student == "" {
		t.Fatal("no demo student owes anything")
	}
	code, _, b = call(t, "POST", base+"/payments/requests", token, map[string]any{"student_id": student})
	var req struct {
		ID     string `json:"id"`
		URL    string `json:"url"`
		Status string `json:"status"`
		Amount int64  `json:"amount"`
	}
	if code != 201 || json.Unmarshal(b, &req) != nil || !strings.HasPrefix(req.URL, "http://127.0.0.1:") {
		t.Fatalf("POST /payments/requests = %d %s", code, b)
	}
	// The payer opens the link and pays with test UPI on the stand-in's checkout page.
	if _, err := url.Parse(req.URL); err != nil {
		t.Fatal(err)
	}
	resp, err := http.PostForm(req.URL, url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("paying at the stand-in answered %d", resp.StatusCode)
	}
	var paid struct {
		Status    string `json:"status"`
		ReceiptNo int64  `json:"receipt_no"`
		PaymentID string `json:"payment_id"`
	}
	_, _, b = call(t, "GET", base+"/payments/requests/"+req.ID, token, nil)
	if json.Unmarshal(b, &paid) != nil || paid.Status != "paid" || paid.ReceiptNo == 0 {
		t.Fatalf("the request after paying: %s", b)
	}
	var after struct {
		Outstanding int64 `json:"outstanding"`
	}
	_, _, b = call(t, "GET", base+"/fees/dues/students/"+student, token, nil)
	if json.Unmarshal(b, &after) != nil || after.Outstanding != before.Outstanding-req.Amount {
		t.Fatalf("dues went from %d to %s after paying %d", before.Outstanding, b, req.Amount)
	}
	// Reconciliation finds nothing left to record.
	code, _, b = call(t, "POST", base+"/reconcile/run", "", nil)
	if code != 200 || !strings.Contains(string(b), `"recorded":0`) {
		t.Fatalf("POST /reconcile/run = %d %s", code, b)
	}
}
