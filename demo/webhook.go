package demo

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// WebhookMessage is one notification the demo's webhook sink received.
type WebhookMessage struct {
	// Event and Delivery are the X-Day2-Event and X-Day2-Delivery headers.
	Event    string `json:"event"`
	Delivery string `json:"delivery"`
	// SignatureOK reports whether X-Day2-Signature-256 is the HMAC-SHA256 of
	// the body under the notifier's secret. Messages without it are refused.
	SignatureOK bool   `json:"signature_ok"`
	Service     string `json:"service"`
	Environment string `json:"environment"`
	Severity    string `json:"severity"`
	Title       string `json:"title"`
	// IncidentID or ApprovalID names what the message is about.
	IncidentID string `json:"incident_id,omitempty"`
	ApprovalID string `json:"approval_id,omitempty"`
	// Body is the raw JSON document.
	Body json.RawMessage `json:"body"`
}

// webhookSink is the local receiver of the webhook notifier the demo
// configures. It does what the notification guide asks of a receiver: it
// checks the signature over the raw body in constant time, drops repeated
// deliveries, and answers at once; then it prints the message.
type webhookSink struct {
	secret string
	out    io.Writer
	url    string
	srv    *http.Server
	served chan struct{}

	mu      sync.Mutex
	got     []WebhookMessage
	seen    map[string]bool
	changed chan struct{} // closed and replaced when a message arrives
}

// maxWebhookBody bounds a notification; day2's are a few kilobytes.
const maxWebhookBody = 1 << 20

// startWebhookSink listens on a free loopback port.
func startWebhookSink(secret string, out io.Writer) (*webhookSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: start the webhook sink: %w", err)
	}
	s := &webhookSink{
		secret: secret, out: out, url: "http://" + ln.Addr().String() + "/day2",
		seen: map[string]bool{}, changed: make(chan struct{}), served: make(chan struct{}),
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

func (s *webhookSink) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	<-s.served
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// validSignature reports whether header is "sha256=" and the hex HMAC-SHA256
// of body under secret, compared in constant time.
func validSignature(secret string, body []byte, header string) bool {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(want), []byte(header))
}

func (s *webhookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST notifications here", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
	if err != nil {
		http.Error(w, "read error", http.StatusBadRequest)
		return
	}
	m := WebhookMessage{
		Event: r.Header.Get("X-Day2-Event"), Delivery: r.Header.Get("X-Day2-Delivery"),
		SignatureOK: validSignature(s.secret, body, r.Header.Get("X-Day2-Signature-256")),
		Body:        json.RawMessage(body),
	}
	var doc struct {
		Service     string `json:"service"`
		Environment string `json:"environment"`
		Severity    string `json:"severity"`
		Title       string `json:"title"`
		Incident    *struct {
			ID string `json:"id"`
		} `json:"incident"`
		Approval *struct {
			ID string `json:"id"`
		} `json:"approval"`
	}
	if err := json.Unmarshal(body, &doc); err != nil && m.SignatureOK {
		http.Error(w, "the body is not JSON", http.StatusBadRequest)
		return
	}
	m.Service, m.Environment, m.Severity, m.Title = doc.Service, doc.Environment, doc.Severity, doc.Title
	if doc.Incident != nil {
		m.IncidentID = doc.Incident.ID
	}
	if doc.Approval != nil {
		m.ApprovalID = doc.Approval.ID
	}

	s.mu.Lock()
	repeat := m.SignatureOK && s.seen[m.Delivery]
	if !repeat {
		if m.SignatureOK {
			s.seen[m.Delivery] = true
		}
		s.got = append(s.got, m)
		close(s.changed)
		s.changed = make(chan struct{})
	}
	s.mu.Unlock()
	switch {
	case !m.SignatureOK:
		fmt.Fprintf(s.out, "webhook: %s (delivery %s) REFUSED: bad signature\n", m.Event, m.Delivery)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	case repeat:
		w.WriteHeader(http.StatusNoContent) // day2 delivers at least once
		return
	}
	w.WriteHeader(http.StatusAccepted)
	s.print(&m)
}

// print shows a message in one line, or in full when it opens an incident of
// the story's incident scenario.
func (s *webhookSink) print(m *WebhookMessage) {
	where := m.Service
	if m.Environment != "" {
		where += " (" + m.Environment + ")"
	}
	if m.Event != "incident.triggered" || m.Service != accountService {
		fmt.Fprintf(s.out, "webhook: %s %s: %s (signature ok)\n", m.Event, where, m.Title)
		return
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, m.Body, "    ", "  "); err != nil {
		pretty.Write(m.Body)
	}
	fmt.Fprintf(s.out, "webhook: %s %s, delivery %s, signature ok:\n    %s\n", m.Event, where, m.Delivery,
		strings.TrimRight(pretty.String(), "\n"))
}

// messages returns what the sink received, in order.
func (s *webhookSink) messages() []WebhookMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]WebhookMessage(nil), s.got...)
}

// wait returns the first message for which match is true, waiting for one
// until ctx ends.
func (s *webhookSink) wait(ctx context.Context, match func(*WebhookMessage) bool) (WebhookMessage, error) {
	for {
		s.mu.Lock()
		for i := range s.got {
			if match(&s.got[i]) {
				m := s.got[i]
				s.mu.Unlock()
				return m, nil
			}
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return WebhookMessage{}, ctx.Err()
		}
	}
}
