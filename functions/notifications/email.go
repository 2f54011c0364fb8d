package notifications

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	mail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"github.com/edugrid/edugrid/shared/id"
)

// SMTPConfig says how email leaves: a submission server reached over TLS.
type SMTPConfig struct {
	// Addr is host:port of the submission server; port 465 speaks TLS from the first byte, any other
	// port must offer STARTTLS (mail is never sent in clear text).
	Addr     string
	Username string
	Password string
	// From is the envelope and header sender, e.g. "Sunrise Academy <no-reply@edugrid.example>".
	From string
	// TLS overrides the TLS settings (tests and the local stack trust their own certificate with it).
	TLS *tls.Config
	// Connections bounds the SMTP connections kept open; 8 when 0.
	Connections int
}

// SMTP sends email through one submission server, keeping up to Connections connections open between
// sends. Build it with NewSMTP.
type SMTP struct {
	cfg    SMTPConfig
	client *mail.Client
	idle   chan *smtp.Client
	slots  chan struct{}
	domain string
}

// NewSMTP returns an SMTP sender for cfg without connecting. Credentials stay inside it: no error or
// delivery reason carries them.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	host, portText, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("notifications: SMTP address %q is not host:port", cfg.Addr)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("notifications: SMTP port %q is not a number", portText)
	}
	if cfg.From == "" {
		return nil, errors.New("notifications: SMTP needs a sender address")
	}
	opts := []mail.Option{mail.WithPort(port), mail.WithTimeout(15 * time.Second)}
	if port == 465 {
		opts = append(opts, mail.WithSSL())
	} else {
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if cfg.TLS != nil {
		opts = append(opts, mail.WithTLSConfig(cfg.TLS))
	} else {
		opts = append(opts, mail.WithTLSConfig(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}))
	}
	if cfg.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthPlain), mail.WithUsername(cfg.Username), mail.WithPassword(cfg.Password))
	}
	c, err := mail.NewClient(host, opts...)
	if err != nil {
		return nil, fmt.Errorf("notifications: SMTP client: %w", err)
	}
	n := cfg.Connections
	if n <= 0 {
		n = 8
	}
	domain := "edugrid.local"
	if m := mail.NewMsg(); m.From(cfg.From) == nil {
		if addrs := m.GetFrom(); len(addrs) > 0 {
			if at := lastAt(addrs[0].Address); at != "" {
				domain = at
			}
		}
	} else {
		return nil, fmt.Errorf("notifications: SMTP sender %q is not an address", cfg.From)
	}
	return &SMTP{cfg: cfg, client: c, idle: make(chan *smtp.Client, n), slots: make(chan struct{}, n), domain: domain}, nil
}

func lastAt(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == '@' {
			return addr[i+1:]
		}
	}
	return ""
}

// Provider implements Sender.
func (s *SMTP) Provider() string { return "smtp" }

// Send implements Sender: it sends m as a multipart message (text and HTML) and returns its Message-ID.
// A recipient or message the server refuses permanently (5xx) is a permanent failure; a connection
// failure or a 4xx answer is transient.
func (s *SMTP) Send(ctx context.Context, m Message) (string, error) {
	msg := mail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return "", Permanent("the sender address is not valid")
	}
	if err := msg.To(m.To); err != nil {
		return "", Permanent("the recipient address is not valid")
	}
	msg.Subject(m.Subject)
	msgID := id.New() + "@" + s.domain
	msg.SetMessageIDWithValue(msgID)
	msg.SetGenHeader("X-Edugrid-Delivery", m.Ref)
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	}

	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return "", Transient("waiting for an SMTP connection: %v", ctx.Err())
	}
	defer func() { <-s.slots }()
	var conn *smtp.Client
	select {
	case conn = <-s.idle:
	default:
	}
	if conn == nil {
		var err error
		if conn, err = s.client.DialToSMTPClientWithContext(ctx); err != nil {
			return "", Transient("could not connect to the mail server: %s", safeNetError(err))
		}
	}
	err := s.client.SendWithSMTPClient(conn, msg)
	if err != nil {
		_ = s.client.CloseWithSMTPClient(conn)
		var se *mail.SendError
		if errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500 {
			return "", Permanent("the mail server refused the message (%d)", se.ErrorCode())
		}
		return "", Transient("the mail server did not take the message: %s", safeNetError(err))
	}
	select {
	case s.idle <- conn:
	default:
		_ = s.client.CloseWithSMTPClient(conn)
	}
	return "<" + msgID + ">", nil
}

// Close closes the idle connections.
func (s *SMTP) Close() {
	for {
		select {
		case c := <-s.idle:
			_ = s.client.CloseWithSMTPClient(c)
		default:
			return
		}
	}
}

// safeNetError keeps an error's kind without anything a server might have echoed back (a username).
func safeNetError(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "cancelled"
	}
	var se *mail.SendError
	if errors.As(err, &se) && se.ErrorCode() > 0 {
		return "answer " + strconv.Itoa(se.ErrorCode())
	}
	return "connection failed"
}
