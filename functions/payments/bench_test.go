package payments_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/functions/payments"
	"github.com/edugrid/edugrid/internal/wiretest"
)

// paidLinks creates n payment requests of 1.00 for the school's student and pays each at the stand-in
// without delivering its webhook; it returns the webhook bodies and signatures, ready to send.
func paidLinks(tb testing.TB, s *school, n int) (bodies [][]byte, sigs []string) {
	tb.Helper()
	for range n {
		r := s.request(tb, s.accountant, map[string]any{"amount": 100})
		body, sig, _, err := s.env.Razorpay.Pay(r.ProviderRef, 0)
		if err != nil {
			tb.Fatal(err)
		}
		bodies, sigs = append(bodies, body), append(sigs, sig)
	}
	return bodies, sigs
}

// webhookFigures sends each webhook once from workers goroutines through the whole middleware chain,
// timing each from request to answer (the receipt is written before the answer), and reports p50, p99
// and webhooks per second.
func webhookFigures(b *testing.B, workers int) {
	s := newSchool(b, nil, "bench")
	bodies, sigs := paidLinks(b, s, b.N)
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				t0 := time.Now()
				rec := s.razorpayHook(b, "", bodies[i], sigs[i], fmt.Sprintf("evt_b%d", i))
				lat[i] = time.Since(t0)
				if rec.Code != http.StatusOK {
					b.Errorf("webhook %d: %d %s", i, rec.Code, rec.Body)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if n := s.count(b, "fee_payments"); n != int64(b.N) {
		b.Fatalf("%d payments for %d webhooks", n, b.N)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "webhooks/s")
}

// BenchmarkWebhookToReceipt measures one verified Razorpay webhook at a time becoming a fees payment with
// its receipt (signature check, account secrets opened, request claimed, fees payment transaction,
// event remembered) on the embedded engine in memory.
// Run: go test -run '^$' -bench WebhookToReceipt -benchtime 1000x ./functions/payments
func BenchmarkWebhookToReceipt(b *testing.B) { webhookFigures(b, 1) }

// BenchmarkWebhooksConcurrent is the same with 16 webhooks in flight, as one instance at concurrency 80
// serves a burst.
// Run: go test -run '^$' -bench WebhooksConcurrent -benchtime 1000x ./functions/payments
func BenchmarkWebhooksConcurrent(b *testing.B) { webhookFigures(b, 16) }

// A burst of 1,000 webhooks, 100 payments each delivered ten times (as payment_link.paid under one
// event id, redelivered, and under new event ids), shuffled and sent 16 at a time: exactly 100 payments,
// with receipts 1 to 100 and no gap, and the student's dues lowered by exactly what was paid.
// Run: go test -run TestBurstOfDuplicateWebhooks -v ./functions/payments
func TestBurstOfDuplicateWebhooks(t *testing.T) {
	wiretest.RequireTransactions(t)
	if testing.Short() {
		t.Skip("sends 1,000 webhooks; run without -short")
	}
	s := newSchool(t, nil, "burst1000")
	before := s.dues(t).Outstanding
	bodies, sigs := paidLinks(t, s, 100)
	type delivery struct {
		i   int
		evt string
	}
	var all []delivery
	for i := range bodies {
		for k := range 10 {
			all = append(all, delivery{i, fmt.Sprintf("evt_%d_%d", i, k%3)})
		}
	}
	rand.Shuffle(len(all), func(a, b int) { all[a], all[b] = all[b], all[a] })
	var next atomic.Int64
	var mu sync.Mutex
	outcomes := map[payments.Outcome]int{}
	start := time.Now()
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1)) - 1
				if k >= len(all) {
					return
				}
				d := all[k]
				rec := s.razorpayHook(t, "", bodies[d.i], sigs[d.i], d.evt)
				mu.Lock()
				if rec.Code != http.StatusOK {
					outcomes[payments.Outcome(fmt.Sprint("status ", rec.Code))]++
				} else {
					outcomes[outcome(t, rec)]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if outcomes[payments.OutcomeRecorded] != 100 || outcomes[payments.OutcomeDuplicate] != 900 {
		t.Fatalf("outcomes: %v", outcomes)
	}
	cur, err := s.env.TenantDB(s.slug).Collection("fee_payments").Find(context.Background(), bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	var ps []struct {
		ReceiptNo int64 `bson:"receipt_no"`
		Amount    int64 `bson:"amount"`
	}
	if err := cur.All(context.Background(), &ps); err != nil {
		t.Fatal(err)
	}
	var receipts []int64
	for _, p := range ps {
		receipts = append(receipts, p.ReceiptNo)
	}
	slices.Sort(receipts)
	if len(receipts) != 100 || receipts[0] != 1 || receipts[99] != 100 {
		t.Fatalf("receipts: %v", receipts)
	}
	if after := s.dues(t).Outstanding; after != before-100*100 {
		t.Fatalf("dues %d -> %d after 100 payments of 100", before, after)
	}
	t.Logf("1,000 webhooks (100 payments x 10) in %v: %.0f webhooks/s; outcomes %v", elapsed.Round(time.Millisecond), 1000/elapsed.Seconds(), outcomes)
}
