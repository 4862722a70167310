package app_test

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/day2ops/day2/internal/pgtest"
)

// startServeWith starts `day2 serve` on a free loopback port with the given
// store and config flags, and waits until it is ready.
func startServeWith(t *testing.T, bin string, flags ...string) *serveProc {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := &serveProc{url: "http://" + addr, log: &bytes.Buffer{}}
	args := append([]string{"serve", "--http", addr, "--otlp-http", "", "--otlp-grpc", "", "--log-level", "warn"}, flags...)
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	waitFor(t, 60*time.Second, "day2 serve is ready", func() (bool, string) {
		resp, err := http.Get(p.url + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	return p
}

// alertmanagerAlert is an Alertmanager notification with one firing alert.
func alertmanagerAlert(service, fingerprint string) string {
	return fmt.Sprintf(`{"version": "4", "status": "firing", "receiver": "day2",
 "groupLabels": {"alertname": "AgentErrors"}, "commonLabels": {}, "commonAnnotations": {},
 "externalURL": "http://alertmanager.example.com:9093",
 "alerts": [{"status": "firing", "labels": {"alertname": "AgentErrors", "service": %q, "environment": "prod", "severity": "critical"},
   "annotations": {"summary": "%s fails its tool calls"}, "startsAt": %q, "endsAt": "0001-01-01T00:00:00Z",
   "generatorURL": "", "fingerprint": %q}]}`, service, service, time.Now().UTC().Format(time.RFC3339), fingerprint)
}

// deliveryView is one outbox message as GET /api/v1/notifications shows it.
type deliveryView struct {
	ID       string `json:"id"`
	Event    string `json:"event"`
	Service  string `json:"service"`
	State    string `json:"state"`
	Attempts int    `json:"attempts"`
}

func listDeliveries(t *testing.T, baseURL string) []deliveryView {
	t.Helper()
	var ans struct {
		Notifications []deliveryView `json:"notifications"`
	}
	apiJSON(t, "GET", baseURL+"/api/v1/notifications", nil, 200, &ans)
	return ans.Notifications
}

// TestNotificationsAreNotDuplicatedAcrossKill opens two incidents through
// Alertmanager on a real `day2 serve` whose webhook receiver is failing: it
// answers 503 to every message about refund-agent (the message stays pending
// between attempts) and holds the first message about billing-agent without
// answering (the message is mid-send). The process is killed with SIGKILL in
// that state and restarted on the same store, the receiver now accepting.
// Each message must then be accepted exactly once: refund-agent's at the next
// pass, billing-agent's when the dead sender's 30-second lease runs out, with
// the delivery id of the interrupted attempt.
func TestNotificationsAreNotDuplicatedAcrossKill(t *testing.T) {
	bin := day2Binary(t)
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		outboxSurvivesKill(t, bin, "--data", t.TempDir())
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		outboxSurvivesKill(t, bin, "--data", t.TempDir(), "--db", pgtest.DSN(t))
	})
}

func outboxSurvivesKill(t *testing.T, bin string, store ...string) {
	const secret = "crash-hook-secret-0123"
	hook := newHookReceiver(t, secret)
	hung := make(chan hookDelivery, 1)
	var once sync.Once
	hook.setRespond(func(d hookDelivery, r *http.Request) int {
		switch d.Service {
		case "refund-agent":
			return http.StatusServiceUnavailable
		case "billing-agent":
			first := false
			once.Do(func() { first = true })
			if first {
				hung <- d
				<-r.Context().Done() // until the sender dies
				return 0
			}
		}
		return http.StatusAccepted
	})
	cfg := writeConfig(t, map[string]string{"notifier.yaml": webhookNotifier("oncall-webhook", hook.srv.URL, secret)})
	flags := append(append([]string(nil), store...), "--config", cfg)

	srv := startServeWith(t, bin, flags...)
	apiJSON(t, "POST", srv.url+"/api/v1/alerts/alertmanager", alertmanagerAlert("refund-agent", "a1b2c3d4e5f60718"), 200, nil)
	waitFor(t, 15*time.Second, "refund-agent's message is refused once", func() (bool, string) {
		for _, d := range hook.deliveries() {
			if d.Service == "refund-agent" && d.Status == http.StatusServiceUnavailable {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", hook.deliveries())
	})
	apiJSON(t, "POST", srv.url+"/api/v1/alerts/alertmanager", alertmanagerAlert("billing-agent", "0f1e2d3c4b5a6978"), 200, nil)
	var held hookDelivery
	select {
	case held = <-hung:
	case <-time.After(15 * time.Second):
		t.Fatalf("billing-agent's message was not sent; log:\n%s", srv.log)
	}
	claimed := time.Now()
	states := map[string]string{}
	for _, d := range listDeliveries(t, srv.url) {
		states[d.Service] = d.State
	}
	if states["billing-agent"] != "sending" || states["refund-agent"] == "sent" || states["refund-agent"] == "failed" {
		t.Fatalf("before the kill the outbox is %v, want billing-agent sending and refund-agent not done", states)
	}

	killNine(t, srv)
	hook.setRespond(nil) // the receiver recovers
	again := startServeWith(t, bin, flags...)

	accepted := func(service string) []hookDelivery {
		return hook.accepted(func(d hookDelivery) bool { return d.Service == service && d.Event == "incident.triggered" })
	}
	waitFor(t, 20*time.Second, "refund-agent's message is delivered after the restart", func() (bool, string) {
		return len(accepted("refund-agent")) > 0, fmt.Sprintf("%+v", hook.deliveries())
	})
	waitFor(t, 50*time.Second, "billing-agent's message is delivered after the lease", func() (bool, string) {
		return len(accepted("billing-agent")) > 0, fmt.Sprintf("%+v", listDeliveries(t, again.url))
	})
	t.Logf("the interrupted message was delivered %s after its claim", time.Since(claimed).Round(100*time.Millisecond))
	var ds []deliveryView
	waitFor(t, 15*time.Second, "every message is sent", func() (bool, string) {
		ds = listDeliveries(t, again.url)
		for _, d := range ds {
			if d.State != "sent" {
				return false, fmt.Sprintf("%+v", ds)
			}
		}
		return true, ""
	})

	// Nothing is left to send, so the counts below are final.
	if len(ds) != 2 {
		t.Errorf("the outbox holds %d messages, want 2: %+v", len(ds), ds)
	}
	perID := map[string]int{}
	for _, d := range hook.accepted(func(hookDelivery) bool { return true }) {
		perID[d.ID]++
		if !d.SignedOK {
			t.Errorf("delivery %s is not signed correctly", d.ID)
		}
	}
	for id, n := range perID {
		if n != 1 {
			t.Errorf("delivery %s was accepted %d times, want once", id, n)
		}
	}
	for _, service := range []string{"refund-agent", "billing-agent"} {
		if n := len(accepted(service)); n != 1 {
			t.Errorf("%s: incident.triggered accepted %d times, want exactly once", service, n)
		}
	}
	if got := accepted("billing-agent"); len(got) == 1 && got[0].ID != held.ID {
		t.Errorf("billing-agent's message was accepted as delivery %s, but the interrupted attempt was %s; a retry keeps its id", got[0].ID, held.ID)
	}
	t.Logf("receiver saw %d requests for 2 messages: %+v", len(hook.deliveries()), hook.deliveries())
}
