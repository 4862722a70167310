package approval

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/day2ops/day2/notify"
)

// callbackAttempts is how many times a callback is tried; callbackBackoff is
// the wait before the second attempt, doubling after.
const (
	callbackAttempts = 4
	callbackBackoff  = time.Second
)

// callback posts the final request r to its callback URL, in the background,
// signed like day2's webhooks: X-Day2-Signature-256 is "sha256=" and the hex
// HMAC-SHA256 of the raw body keyed with Options.CallbackSecret, and
// X-Day2-Timestamp the Unix time of the attempt. It is best effort: a few
// attempts with backoff, and nothing is kept across a restart; the agent's poll
// (GET /api/v1/approvals/{id}) is the reliable way to learn the outcome.
func (s *Service) callback(r Request) {
	if s.secret == "" {
		return
	}
	body, err := json.Marshal(r)
	if err != nil {
		s.log.Error("approval callback not sent", "id", r.ID, "err", err)
		return
	}
	s.calls.Add(1)
	go func() {
		defer s.calls.Done()
		wait := callbackBackoff
		for attempt := 1; ; attempt++ {
			status, err := s.post(r.CallbackURL, r.ID+"/"+r.State, body)
			if err == nil && status < 300 {
				s.log.Info("approval callback sent", "id", r.ID, "state", r.State, "status", status, "attempt", attempt)
				return
			}
			retry := err != nil || status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout
			if !retry || attempt == callbackAttempts {
				s.log.Warn("approval callback failed", "id", r.ID, "url", r.CallbackURL, "status", status, "err", err, "attempts", attempt)
				return
			}
			time.Sleep(wait)
			wait *= 2
		}
	}()
}

// post sends one callback attempt and returns the answer's status.
func (s *Service) post(url, delivery string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "day2-approvals")
	req.Header.Set(notify.HeaderSignature, notify.Sign(s.secret, body))
	req.Header.Set(notify.HeaderTimestamp, strconv.FormatInt(time.Now().Unix(), 10))
	req.Header.Set(notify.HeaderEvent, EventDecided)
	req.Header.Set(notify.HeaderDelivery, delivery)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Close waits for the callbacks in flight to finish.
func (s *Service) Close() {
	s.calls.Wait()
}
