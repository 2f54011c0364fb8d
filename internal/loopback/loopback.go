// Package loopback runs stand-ins for the notification providers on the loopback interface: a real SMTP
// server (github.com/emersion/go-smtp) that speaks STARTTLS with a certificate of its own and PLAIN
// authentication, and one HTTP server that answers as MSG91's Flow API, Twilio's Messages API and Meta's
// WhatsApp Cloud API document their answers. Every message any of them accepts lands in one Outbox, which
// the local stack shows at /dev/messages. Tests and the local stack use it; nothing deployed does.
package loopback

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"math/big"
	"net"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Message is one message a stand-in accepted.
type Message struct {
	Seq        int       `json:"seq"`
	Channel    string    `json:"channel"`
	Provider   string    `json:"provider"`
	ProviderID string    `json:"provider_id"`
	To         string    `json:"to"`
	From       string    `json:"from,omitempty"`
	Subject    string    `json:"subject,omitempty"`
	Text       string    `json:"text"`
	HTML       string    `json:"html,omitempty"`
	Template   string    `json:"template,omitempty"`
	Params     []string  `json:"params,omitempty"`
	At         time.Time `json:"at"`
}

// Outbox keeps every accepted message in order. Safe for concurrent use.
type Outbox struct {
	mu   sync.Mutex
	msgs []Message
	// max bounds what is kept (the oldest go first); 0 keeps everything.
	max int
}

func (o *Outbox) add(m Message) {
	o.mu.Lock()
	defer o.mu.Unlock()
	m.Seq = len(o.msgs) + 1
	if len(o.msgs) > 0 {
		m.Seq = o.msgs[len(o.msgs)-1].Seq + 1
	}
	m.At = time.Now().UTC()
	o.msgs = append(o.msgs, m)
	if o.max > 0 && len(o.msgs) > o.max {
		o.msgs = append([]Message(nil), o.msgs[len(o.msgs)-o.max:]...)
	}
}

// Messages returns a copy of every kept message, oldest first.
func (o *Outbox) Messages() []Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Message(nil), o.msgs...)
}

// Len returns how many messages are kept.
func (o *Outbox) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.msgs)
}

// Credentials are what the stand-ins accept; anything else is refused as the providers refuse it.
type Credentials struct {
	SMTPUser, SMTPPassword string
	MSG91AuthKey           string
	TwilioSID, TwilioToken string
	WhatsAppToken, PhoneID string
}

// DefaultCredentials are the stand-ins' credentials unless told otherwise.
var DefaultCredentials = Credentials{SMTPUser: "edugrid", SMTPPassword: "loopback-password", MSG91AuthKey: "loopback-msg91-key",
	TwilioSID: "AC00000000000000000000000000000000", TwilioToken: "loopback-twilio-token",
	WhatsAppToken: "loopback-whatsapp-token", PhoneID: "100000000000001"}

// Servers are the running stand-ins.
type Servers struct {
	Outbox *Outbox
	Creds  Credentials
	// SMTPAddr is host:port of the SMTP server; ClientTLS trusts its certificate.
	SMTPAddr  string
	ClientTLS *tls.Config
	// HTTPURL is the base URL of the HTTP stand-ins: MSG91 at /api/v5/flow/, Twilio at /2010-04-01/...,
	// WhatsApp at /v21.0/{phone-number-id}/messages.
	HTTPURL string

	smtp   *smtp.Server
	ln     net.Listener
	http   *httptest.Server
	faults faults
}

// Start starts the stand-ins on 127.0.0.1 with creds; keep is how many messages the outbox holds (0: all).
func Start(creds Credentials, keep int) (*Servers, error) {
	cert, pool, err := selfSigned()
	if err != nil {
		return nil, err
	}
	s := &Servers{Outbox: &Outbox{max: keep}, Creds: creds}
	s.ClientTLS = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	srv := smtp.NewServer(&backend{s: s})
	srv.Domain = "loopback.edugrid.local"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.MaxMessageBytes = 1 << 20
	srv.MaxRecipients = 10
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	s.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("loopback: listen for SMTP: %w", err)
	}
	s.smtp, s.SMTPAddr = srv, s.ln.Addr().String()
	go func() { _ = srv.Serve(s.ln) }()
	s.http = httptest.NewServer(s.handler())
	s.HTTPURL = s.http.URL
	return s, nil
}

// Close stops the stand-ins.
func (s *Servers) Close() {
	s.http.Close()
	_ = s.smtp.Close()
}

// FailNext makes the next n requests to provider ("smtp", "msg91", "twilio", "whatsapp") fail with the
// HTTP status (or for smtp, the reply code) given: 500 or 429 for transient failures.
func (s *Servers) FailNext(provider string, n, status int) { s.faults.set(provider, n, status) }

// Calls returns how many requests provider received, accepted or not.
func (s *Servers) Calls(provider string) int { return s.faults.calls(provider) }

// Refuse makes every provider refuse messages to to (an address or E.164 number) as undeliverable.
func (s *Servers) Refuse(to string) { s.faults.refuse(to) }

type faults struct {
	mu      sync.Mutex
	pending map[string][2]int
	count   map[string]int
	refused map[string]bool
}

func (f *faults) set(p string, n, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pending == nil {
		f.pending = map[string][2]int{}
	}
	f.pending[p] = [2]int{n, status}
}

func (f *faults) refuse(to string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refused == nil {
		f.refused = map[string]bool{}
	}
	f.refused[to] = true
}

func (f *faults) refuses(to string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refused[to]
}

// take counts a call and returns the failure status it should get, or 0.
func (f *faults) take(p string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.count == nil {
		f.count = map[string]int{}
	}
	f.count[p]++
	if v, ok := f.pending[p]; ok && v[0] > 0 {
		v[0]--
		f.pending[p] = v
		return v[1]
	}
	return 0
}

func (f *faults) calls(p string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count[p]
}

func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "edugrid loopback"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
