package demo

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/app"
	"github.com/day2ops/day2/approval"
	"github.com/day2ops/day2/incident"
	"github.com/day2ops/day2/release"
)

// getJSON reads an API answer into out, failing the test on any error.
func getJSON(t *testing.T, base, path string, out any) {
	t.Helper()
	c := &apiClient{base: base, hc: http.DefaultClient}
	if err := c.call(context.Background(), "GET", path, nil, out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// TestOpsStory tells the operations story, compressed, against a real day2
// (app.New on port 0, SQLite in a temporary directory) and checks through the
// API what a user would: one canary rolled back and one promoted by the judge,
// approvals of every tier with some decided by the approver and some expired,
// and an incident opened by the alert rule, announced to the webhook sink with
// a valid signature, mitigated with a lever, resolved, with a postmortem.
func TestOpsStory(t *testing.T) {
	if testing.Short() {
		t.Skip("tells the whole operations story (about 30 s)")
	}
	var out syncBuffer
	ops, err := NewOps(OpsOptions{Out: &out, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer ops.Close()
	ops.timing = testOpsTiming
	cfgDir := t.TempDir()
	if err := WriteConfig(cfgDir, ops.ConfigOptions()); err != nil {
		t.Fatal(err)
	}

	// The alert rule reads whole minutes, so the story's clock runs at real
	// speed but starts 20 s before a minute ends: the CRM outage, a second in,
	// fills most of that minute, and the rule sees it when the minute is over
	// instead of up to a minute later.
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := app.New(ctx, app.Options{
		HTTPAddr: "127.0.0.1:0", DataDir: t.TempDir(), ConfigDir: cfgDir, EvalInterval: time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("day2 stopped with %v", err)
		}
	}()
	real := time.Now()
	offset.Store(int64((40*time.Second - real.Sub(real.Truncate(time.Minute)) + time.Minute) % time.Minute))

	demoCtx, stopDemo := context.WithCancel(ctx)
	defer stopDemo()
	type result struct {
		st  Stats
		err error
	}
	ran := make(chan result, 1)
	started := time.Now()
	go func() {
		st, err := Run(demoCtx, Config{Endpoint: a.HTTPURL(), API: a.HTTPURL(), Ops: ops, Seed: 1, NoIncident: true, Out: &out, Now: now})
		ran <- result{st, err}
	}()
	select {
	case <-ops.Done():
	case <-time.After(90 * time.Second):
		t.Fatalf("the story is not told after 90 s:\n%s", out.String())
	}
	told := time.Since(started)
	stopDemo()
	res := <-ran
	t.Logf("story told in %s; output:\n%s", told.Round(100*time.Millisecond), out.String())
	if res.err != nil {
		t.Fatalf("Run: %v", res.err)
	}
	rep := ops.Report()
	if !rep.Finished || len(rep.Errors) > 0 {
		t.Errorf("report: finished %v, errors %q", rep.Finished, rep.Errors)
	}
	if res.st.Ops == nil || !res.st.Ops.Finished {
		t.Errorf("Stats.Ops = %+v, want the finished story", res.st.Ops)
	}
	api := a.HTTPURL()

	t.Run("releases", func(t *testing.T) {
		var list struct {
			Rollouts []release.Rollout `json:"rollouts"`
		}
		getJSON(t, api, "/api/v1/rollouts?service="+kbService, &list)
		states := map[string]release.Rollout{}
		for _, ro := range list.Rollouts {
			states[ro.Candidate] = ro
		}
		bad, good := states[kbV240], states[kbV241]
		if bad.State != release.StateRolledBack || !strings.Contains(bad.Reason, "tool failure") {
			t.Errorf("%s ended %s (%s), want rolled back for its tool failures", kbV240, bad.State, bad.Reason)
		}
		if good.State != release.StatePromoted {
			t.Errorf("%s ended %s (%s), want promoted", kbV241, good.State, good.Reason)
		}
		for _, ro := range []release.Rollout{bad, good} {
			if n := len(ro.History); n == 0 || ro.History[n-1].Actor != release.JudgeActor {
				t.Errorf("rollout %s of %s was not ended by the judge: %+v", ro.ID, ro.Candidate, ro.History)
			}
		}
		// The agent sent the versions and arms day2 assigned.
		var tasks struct {
			Tasks []day2.Task `json:"tasks"`
		}
		getJSON(t, api, "/api/v1/tasks?service="+kbService+"&version="+kbV240+"&limit=200", &tasks)
		candidates := 0
		for _, tk := range tasks.Tasks {
			if tk.Arm == day2.ArmCandidate {
				candidates++
			}
		}
		if candidates == 0 {
			t.Errorf("none of %d tasks of %s ran as the candidate arm", len(tasks.Tasks), kbV240)
		}
		if rolled := rolloutsIn(rep, release.StateRolledBack); rolled != 1 || rolloutsIn(rep, release.StatePromoted) != 1 {
			t.Errorf("report rollouts %+v, want one rolled back and one promoted", rep.Rollouts)
		}
	})

	t.Run("approvals", func(t *testing.T) {
		var list struct {
			Approvals []approval.Request `json:"approvals"`
		}
		getJSON(t, api, "/api/v1/approvals?service=invoice-agent&limit=100", &list)
		tiers := map[int]int{}
		var auto, byApprover, rejected, expired int
		for _, r := range list.Approvals {
			tiers[r.Tier]++
			switch {
			case r.State == approval.StateApproved && r.AutoApproved:
				auto++
			case r.State == approval.StateApproved && r.DecidedBy != "":
				byApprover++
			case r.State == approval.StateRejected:
				rejected++
			case r.State == approval.StateExpired:
				expired++
			default:
				t.Errorf("request %s is %s", r.ID, r.State)
			}
			// Each request belongs to a real traced task.
			var task day2.Task
			getJSON(t, api, "/api/v1/tasks/"+r.TaskID, &task)
			if task.Service != "invoice-agent" || task.Success == nil {
				t.Errorf("the task of %s is %+v, want a finished invoice-agent task", r.ID, task)
			} else if approved := r.State == approval.StateApproved; *task.Success != approved {
				t.Errorf("request %s was %s but its task succeeded=%v", r.ID, r.State, *task.Success)
			}
		}
		if len(list.Approvals) != len(approvalCases) || tiers[0] == 0 || tiers[1] == 0 || tiers[2] == 0 {
			t.Errorf("%d requests by tier %v, want %d covering tiers 0, 1 and 2", len(list.Approvals), tiers, len(approvalCases))
		}
		if auto == 0 || byApprover == 0 || rejected == 0 || expired == 0 {
			t.Errorf("%d approved at once, %d by the approver, %d rejected, %d expired; want some of each", auto, byApprover, rejected, expired)
		}
	})

	t.Run("incident", func(t *testing.T) {
		var list struct {
			Incidents []incident.Incident `json:"incidents"`
		}
		getJSON(t, api, "/api/v1/incidents?service="+accountService, &list)
		if len(list.Incidents) != 1 {
			t.Fatalf("%s has %d incidents, want 1: %+v", accountService, len(list.Incidents), list.Incidents)
		}
		var inc incident.Incident
		getJSON(t, api, "/api/v1/incidents/"+list.Incidents[0].ID, &inc)
		ruleAlert := false
		for _, al := range inc.Alerts {
			ruleAlert = ruleAlert || al.Key == "rule:account-agent-tool-failures"
		}
		if inc.State != incident.StateResolved || inc.Runbook != "tool-failure" || !ruleAlert {
			t.Errorf("incident %s: state %s, runbook %s, alerts %+v; want resolved, tool-failure, the alert rule's", inc.ID, inc.State, inc.Runbook, inc.Alerts)
		}
		var mitigation *incident.Entry
		for i := range inc.Timeline {
			if e := &inc.Timeline[i]; e.Type == incident.EntryMitigation {
				mitigation = e
			}
		}
		if mitigation == nil || !strings.Contains(mitigation.Text, crmKillSwitch) {
			t.Errorf("no mitigation with %s on the timeline: %+v", crmKillSwitch, inc.Timeline)
		}
		var triggered *WebhookMessage
		for i, m := range rep.Webhooks {
			if m.Event == "incident.triggered" && m.IncidentID == inc.ID {
				triggered = &rep.Webhooks[i]
			}
			if !m.SignatureOK {
				t.Errorf("webhook %s (%s) had a bad signature", m.Event, m.Delivery)
			}
		}
		if triggered == nil {
			t.Fatalf("the sink received no incident.triggered for %s; got %d messages", inc.ID, len(rep.Webhooks))
		}
		var body struct {
			Event    string `json:"event"`
			Incident struct {
				ID, Service string
			} `json:"incident"`
		}
		if err := json.Unmarshal(triggered.Body, &body); err != nil || body.Event != "incident.triggered" || body.Incident.Service != accountService {
			t.Errorf("incident.triggered body %s (%v)", triggered.Body, err)
		}
		var pm string
		c := &apiClient{base: api, hc: http.DefaultClient}
		if err := c.call(context.Background(), "GET", "/api/v1/incidents/"+inc.ID+"/postmortem", nil, &pm); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(pm, "Timeline") || !strings.Contains(pm, crmKillSwitch) || !strings.Contains(pm, "impact: while the CRM was down") {
			t.Errorf("the postmortem lacks the timeline, the lever or the note:\n%s", pm)
		}
		if rep.Incident == nil || rep.Incident.Postmortem != pm {
			t.Errorf("the report's incident %+v lacks the postmortem", rep.Incident)
		}
	})

	for _, want := range []string{"ROLLED BACK", "PROMOTED", "signature ok", "approved by", "expired after", "postmortem draft of"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the story's output lacks %q", want)
		}
	}
	var summary strings.Builder
	res.st.Print(&summary)
	for _, want := range []string{
		"operations story (told):",
		"releases:  kb-answer-agent 2.4.0 rolled_back, kb-answer-agent 2.4.1 promoted",
		"approvals: 8 requests: 2 approved at once, 3 approved by a person, 1 rejected, 2 expired",
		"incident:  in_", "mitigated with flag crm-tool-enabled off", "all signatures ok",
	} {
		if !strings.Contains(summary.String(), want) {
			t.Errorf("the summary lacks %q:\n%s", want, summary.String())
		}
	}
}

func rolloutsIn(r OpsReport, state string) int {
	n := 0
	for _, ro := range r.Rollouts {
		if ro.State == state {
			n++
		}
	}
	return n
}

// The sink does what the notification guide asks of a receiver: only a
// message signed with the secret is accepted, and a repeated delivery once.
func TestWebhookSinkChecksSignatures(t *testing.T) {
	var out syncBuffer
	s, err := startWebhookSink("s3cr3t", &out)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	body := []byte(`{"event":"incident.triggered","service":"account-agent","environment":"","title":"CRM down","incident":{"id":"in_1"}}`)
	sign := func(secret string) string {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		return "sha256=" + hex.EncodeToString(mac.Sum(nil))
	}
	post := func(sig, delivery string) int {
		req, _ := http.NewRequest("POST", s.url, strings.NewReader(string(body)))
		req.Header.Set("X-Day2-Event", "incident.triggered")
		req.Header.Set("X-Day2-Delivery", delivery)
		if sig != "" {
			req.Header.Set("X-Day2-Signature-256", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		name, sig, delivery string
		want                int
	}{
		{"unsigned", "", "ob_1", http.StatusUnauthorized},
		{"signed with another secret", sign("other"), "ob_1", http.StatusUnauthorized},
		{"signed", sign("s3cr3t"), "ob_1", http.StatusAccepted},
		{"the same delivery again", sign("s3cr3t"), "ob_1", http.StatusNoContent},
		{"another delivery", sign("s3cr3t"), "ob_2", http.StatusAccepted},
	} {
		if got := post(c.sig, c.delivery); got != c.want {
			t.Errorf("%s: HTTP %d, want %d", c.name, got, c.want)
		}
	}
	var ok []string
	for _, m := range s.messages() {
		if m.SignatureOK {
			ok = append(ok, m.Delivery)
			if m.IncidentID != "in_1" || m.Service != "account-agent" {
				t.Errorf("message %+v misread", m)
			}
		}
	}
	if strings.Join(ok, ",") != "ob_1,ob_2" {
		t.Errorf("signed messages kept: %v, want ob_1 and ob_2 once each", ok)
	}
	if got := out.String(); !strings.Contains(got, "signature ok") || !strings.Contains(got, "REFUSED: bad signature") {
		t.Errorf("the sink printed:\n%s", got)
	}
}

func TestExcerpt(t *testing.T) {
	doc := "# Postmortem: CRM down\n\n## Summary\n\nsummary\n\n## Impact\n\n- a\n- b\n- c\n\n## Timeline\n\n- 10:00 x\n"
	for _, c := range []struct {
		name     string
		limit    int
		sections []string
		want     string
	}{
		{"the title and the sections asked for", 5, []string{"Impact", "Timeline"}, "# Postmortem: CRM down\n## Impact\n- a\n- b\n- c\n## Timeline\n- 10:00 x"},
		{"long sections cut", 2, []string{"Impact"}, "# Postmortem: CRM down\n## Impact\n- a\n- b\n..."},
		{"a section that is not there", 5, []string{"Trigger"}, "# Postmortem: CRM down"},
	} {
		if got := excerpt(doc, c.limit, c.sections...); got != c.want {
			t.Errorf("%s: got\n%s\nwant\n%s", c.name, got, c.want)
		}
	}
}
