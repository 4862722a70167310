package demo

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// The incident scenario's agent, its kill switch and its override flag.
const (
	accountService     = "account-agent"
	accountEnvironment = "prod"
	accountVersion     = "1.8.2"
	crmKillSwitch      = "crm-tool-enabled"
	accountRetryFlag   = "override." + accountService + ".retry_budget"
)

// incidentView is the part of an incident (GET /api/v1/incidents/{id}) the
// story reads.
type incidentView struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Service     string `json:"service"`
	Environment string `json:"environment"`
	Severity    string `json:"severity"`
	State       string `json:"state"`
	Runbook     string `json:"runbook"`
	Alerts      []struct {
		Key    string            `json:"key"`
		Source string            `json:"source"`
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
	Timeline []struct {
		At    time.Time `json:"at"`
		Actor string    `json:"actor"`
		Type  string    `json:"type"`
		Text  string    `json:"text"`
	} `json:"timeline"`
}

// crmState is what account-agent's CRM is doing: down from outage.Start to
// outage.End, or fine when outage is nil.
type crmState struct {
	mu     sync.Mutex
	outage *Incident
}

func (c *crmState) set(inc *Incident) {
	c.mu.Lock()
	c.outage = inc
	c.mu.Unlock()
}

func (c *crmState) get() *Incident {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.outage
}

// flagResult is one flag of an OFREP bulk evaluation; a flag without a value
// (disabled, or an error) leaves the caller's default in force.
type flagResult struct {
	Key    string `json:"key"`
	Value  any    `json:"value"`
	Reason string `json:"reason"`
}

// readFlags evaluates account-agent's flags over OFREP, as an OpenFeature
// client would, and returns how to apply them: without an answer the code
// defaults hold (no CRM, the agent's own retry budget).
func (s *opsRun) readFlags(ctx context.Context, key string) (crmOn bool, retries int) {
	crmOn, retries = false, -1
	body := map[string]any{"context": map[string]any{"targetingKey": key, "service": accountService, "agentVersion": accountVersion}}
	var res struct {
		Flags []flagResult `json:"flags"`
	}
	if err := s.agent.call(ctx, "POST", "/ofrep/v1/evaluate/flags", body, &res); err != nil {
		return crmOn, retries
	}
	for _, f := range res.Flags {
		switch f.Key {
		case crmKillSwitch:
			if v, ok := f.Value.(bool); ok {
				crmOn = v
			}
		case accountRetryFlag:
			if v, ok := f.Value.(float64); ok && v >= 0 && v <= 100 && v == float64(int(v)) {
				retries = int(v)
			}
		}
	}
	return crmOn, retries
}

// incident tells the incident scenario: account-agent answers questions,
// reading its flags for each; the CRM goes down; the tool-failure rule opens
// an incident, which day2 announces to the webhook sink; the on-call engineer
// acknowledges it and turns the CRM kill switch off; the CRM recovers, the
// switch is reset, and the incident is resolved and its postmortem drafted.
func (s *opsRun) incident(ctx context.Context, agents *sync.WaitGroup) {
	const scenario = "incidents"
	stream := Stream{Service: accountService, Version: accountVersion, Environment: accountEnvironment}
	// A kill switch left off by an earlier demo on the same data would hide
	// the outage: start from the configuration's flags.
	if err := s.resetFlag(ctx, crmKillSwitch, "the demo starts its incident story again"); err != nil {
		s.fail("%s: %v", scenario, err)
		return
	}
	crm := &crmState{}
	agent := s.newAnswerAgent(accountService, accountEnvironment, accountVersion,
		map[string]profile{accountVersion: accountProfile}, s.t.accountRate, s.ops.opts.Seed+1)
	agent.prepare = func(ctx context.Context, key string) func(*Generator) {
		crmOn, retries := s.readFlags(ctx, key)
		outage := crm.get()
		return func(g *Generator) {
			g.SetToolEnabled("crm", crmOn)
			g.SetRetryBudget(retries)
			g.SetIncident(outage)
		}
	}
	agents.Go(func() { agent.loop(ctx) })
	s.say(scenario, "%s %s answers %.0f questions a second; it reads the flags %s and %s for each",
		accountService, accountVersion, s.t.accountRate, crmKillSwitch, accountRetryFlag)
	if sleep(ctx, s.t.outageAfter) != nil {
		return
	}

	outage := &Incident{Name: "crm outage", Tool: "crm", ReasonCode: "crm_unavailable", Start: s.now(), End: never,
		Down: map[Stream]float64{stream: 1}}
	crm.set(outage)
	s.say(scenario, "the CRM goes down: every call %s makes to it answers HTTP 503 until its retries run out", accountService)

	// Detection: the alert rule on tool_failure opens an incident.
	var inc incidentView
	q := url.Values{"service": {accountService}, "state": {"open"}}
	err := s.pollUntil(ctx, "an incident of "+accountService, func() (bool, error) {
		var list struct {
			Incidents []incidentView `json:"incidents"`
		}
		if err := s.agent.call(ctx, "GET", "/api/v1/incidents?"+q.Encode(), nil, &list); err != nil {
			return false, err
		}
		// The rule's alert and the service's SLO alerts carry no environment:
		// they group into one incident.
		if len(list.Incidents) > 0 {
			inc = list.Incidents[0]
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		s.fail("%s: %v", scenario, err)
		return
	}
	detected := s.now().Sub(outage.Start)
	s.say(scenario, "incident %s opened %s after the CRM went down (%s): %s; runbook %s (/incidents/%s)",
		inc.ID, detected.Round(time.Second), inc.Severity, inc.Title, inc.Runbook, inc.ID)
	result := &IncidentResult{ID: inc.ID, Title: inc.Title, State: inc.State}
	s.record(func(r *OpsReport) { r.Incident = result })
	update := func(f func(r *IncidentResult)) {
		s.record(func(r *OpsReport) { f(r.Incident) })
	}

	// Notification: day2 posts incident.triggered to the sink (which prints it).
	wctx, cancel := context.WithTimeout(ctx, s.t.patience)
	_, err = s.ops.sink.wait(wctx, func(m *WebhookMessage) bool {
		return m.Event == "incident.triggered" && m.IncidentID == inc.ID && m.SignatureOK
	})
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		s.fail("%s: no signed incident.triggered for %s reached the webhook sink at %s", scenario, inc.ID, s.ops.sink.url)
	}

	// Response: acknowledge, pull the lever, tell people the impact.
	act := func(action string, body any) bool {
		var got incidentView
		if err := s.agent.call(ctx, "POST", "/api/v1/incidents/"+inc.ID+"/"+action, body, &got); err != nil {
			if ctx.Err() == nil {
				s.fail("%s: %s %s: %v", scenario, action, inc.ID, err)
			}
			return false
		}
		inc.State = got.State
		update(func(r *IncidentResult) { r.State = got.State })
		return true
	}
	if !act("ack", map[string]string{"reason": "on it: account-agent's CRM calls answer 503"}) {
		return
	}
	s.say(scenario, "%s acknowledged", inc.ID)
	lever := map[string]any{"lever": "flag", "flag": crmKillSwitch, "on": false,
		"reason": "the CRM is down: answer from the knowledge base instead of waiting for it"}
	if !act("mitigate", lever) {
		return
	}
	update(func(r *IncidentResult) { r.Lever = "flag " + crmKillSwitch + " off" })
	s.say(scenario, "%s %s: lever pulled, kill switch %s off; %s stops calling the CRM and answers from the knowledge base",
		inc.ID, inc.State, crmKillSwitch, accountService)
	act("note", map[string]string{"text": "impact: while the CRM was down, account-agent answered without the customer's account data; no question was lost"})

	// Recovery: the CRM comes back; the switch goes back to the configuration.
	if sleep(ctx, s.t.recovery) != nil {
		return
	}
	ended := *outage
	ended.End = s.now()
	crm.set(&ended)
	s.say(scenario, "the CRM is back after %s", ended.End.Sub(ended.Start).Round(time.Second))
	if err := s.resetFlag(ctx, crmKillSwitch, "the CRM is back: "+inc.ID); err != nil {
		s.fail("%s: %v", scenario, err)
		return
	}
	s.say(scenario, "kill switch %s reset to the configuration (on); %s calls the CRM again", crmKillSwitch, accountService)
	if sleep(ctx, s.t.verify) != nil {
		return
	}
	if !act("resolve", map[string]string{"reason": "the CRM answers again and account-agent's tool calls succeed"}) {
		return
	}
	s.say(scenario, "%s resolved", inc.ID)

	var pm string
	if err := s.agent.call(ctx, "GET", "/api/v1/incidents/"+inc.ID+"/postmortem", nil, &pm); err != nil {
		if ctx.Err() == nil {
			s.fail("%s: postmortem of %s: %v", scenario, inc.ID, err)
		}
		return
	}
	update(func(r *IncidentResult) { r.Postmortem = pm })
	s.say(scenario, "postmortem draft of %s, in part (all of it: GET /api/v1/incidents/%s/postmortem, or day2 incident postmortem %s):\n    %s",
		inc.ID, inc.ID, inc.ID, strings.ReplaceAll(excerpt(pm, 12, "Impact", "Resolution", "Detection", "Timeline"), "\n", "\n    "))
}

// excerpt returns the title of a Markdown document and the non-empty lines of
// its "## " sections named in sections, at most limit lines of each.
func excerpt(doc string, limit int, sections ...string) string {
	var out []string
	keep, n := false, 0
	for i, line := range strings.Split(doc, "\n") {
		switch {
		case i == 0:
			out = append(out, line)
		case strings.HasPrefix(line, "## "):
			keep, n = slices.Contains(sections, strings.TrimPrefix(line, "## ")), 0
			if keep {
				out = append(out, line)
			}
		case keep && strings.TrimSpace(line) != "":
			if n++; n <= limit {
				out = append(out, line)
			} else if n == limit+1 {
				out = append(out, "...")
			}
		}
	}
	return strings.Join(out, "\n")
}

// resetFlag removes the run-time change of flag key, putting the
// configuration's definition back in force; a flag without one is left as
// it is.
func (s *opsRun) resetFlag(ctx context.Context, key, reason string) error {
	path := "/api/v1/flags/" + url.PathEscape(key) + "?" + url.Values{"reason": {reason}}.Encode()
	if err := s.agent.call(ctx, "DELETE", path, nil, nil); err != nil && statusOf(err) != 404 {
		return fmt.Errorf("reset flag %s: %w", key, err)
	}
	return nil
}
