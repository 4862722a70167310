package app_test

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/day2ops/day2/app"
)

const invoicePolicy = `apiVersion: day2/v1
kind: ApprovalPolicy
metadata: {name: invoices}
spec:
  service: invoice-agent
  rules:
    - {action: pay_invoice, tier: 2, when: "amount > 500"}
    - {action: pay_invoice, tier: 1}
  approvers:
    tier1: {groups: [ops, manager]}
    tier2: {groups: [manager]}
  timeout: 1h
`

// approvalView is the part of an approval request's JSON the tests read.
type approvalView struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Tier   int    `json:"tier"`
	TaskID string `json:"task_id"`
}

// escalationSLO returns the SLI and the bad events (error budget consumed)
// of the service's escalation-rate SLO as the API reports them now.
func escalationSLO(t *testing.T, a *app.App, service string) (sli *float64, bad float64) {
	t.Helper()
	var ans sloAnswer
	getJSON(t, a.HTTPURL()+"/api/v1/slos?service="+service, &ans)
	for _, s := range ans.SLOs {
		if s.Name == service+"/escalation-rate" {
			return s.SLI, s.ErrorBudget.Consumed
		}
	}
	t.Fatalf("no %s/escalation-rate SLO in %+v", service, ans.SLOs)
	return nil, 0
}

// TestTier2ApprovalMarksItsTaskEscalated sends 20 tasks of invoice-agent
// through the OTel SDK, each with the outcome escalation=false, then asks for
// a Tier 2 approval with the trace id of one of them. That task must then be
// escalated in GET /api/v1/tasks/{id}, and the escalation-rate SLO must count
// it: 1 bad event of 20 (SLI 0.95) instead of none. A 21st task asks while it
// runs, before its telemetry reaches day2, and counts too (2 of 21).
func TestTier2ApprovalMarksItsTaskEscalated(t *testing.T) {
	onBothStores(t, approvalMarksEscalated)
}

func approvalMarksEscalated(t *testing.T, opts app.Options) {
	const service = "invoice-agent"
	opts.ConfigDir = writeConfig(t, map[string]string{"approvals.yaml": invoicePolicy})
	a := startApp(t, opts)

	agents := newAgentSender(t, a.OTLPHTTPURL(), service, "prod")
	t0 := time.Now().Add(-12 * time.Minute)
	var tasks []agentTask
	for i := range 20 {
		tasks = append(tasks, agentTask{version: "2.3.1", key: fmt.Sprintf("invoice-%d", i), start: t0.Add(time.Duration(i) * 30 * time.Second),
			success: true, toolCalls: 1})
	}
	ids := agents.send(tasks...)
	taskID := ids[7].String()

	var task struct {
		Escalated bool `json:"escalated"`
		Success   bool `json:"success"`
	}
	getJSON(t, a.HTTPURL()+"/api/v1/tasks/"+taskID, &task)
	if task.Escalated || !task.Success {
		t.Fatalf("before the approval the task is %+v, want successful and not escalated", task)
	}
	waitFor(t, 15*time.Second, "the escalation-rate SLO sees 20 clean tasks", func() (bool, string) {
		sli, bad := escalationSLO(t, a, service)
		return sli != nil && *sli == 1 && bad == 0, fmt.Sprintf("SLI %s, bad %v", fmtRate(sli), bad)
	})

	var req approvalView
	apiJSON(t, "POST", a.HTTPURL()+"/api/v1/approvals", map[string]any{
		"service": service, "environment": "prod", "action": "pay_invoice", "amount": 900, "task_id": taskID,
		"context": map[string]any{"prompt": "Pay invoice INV-42 from ACME", "confidence": 0.95, "in_policy": true},
	}, 201, &req)
	if req.State != "pending" || req.Tier != 2 || req.TaskID != taskID {
		t.Fatalf("approval request = %+v, want a pending Tier 2 request for task %s", req, taskID)
	}

	waitFor(t, 15*time.Second, "the task counts as escalated", func() (bool, string) {
		getJSON(t, a.HTTPURL()+"/api/v1/tasks/"+taskID, &task)
		return task.Escalated, fmt.Sprintf("%+v", task)
	})
	if !task.Success {
		t.Errorf("the approval changed the task's outcome: %+v", task)
	}
	waitFor(t, 15*time.Second, "the escalation-rate SLO counts the escalation", func() (bool, string) {
		sli, bad := escalationSLO(t, a, service)
		return sli != nil && math.Abs(*sli-19.0/20) < 1e-9 && bad == 1, fmt.Sprintf("SLI %s, bad %v", fmtRate(sli), bad)
	})
	// An agent usually asks mid-task, before its telemetry is exported: the
	// approval reaches day2 first and the outcome (escalation=false) later.
	var early approvalView
	ask := agentTask{version: "2.3.1", key: "invoice-early", start: time.Now().Add(-2 * time.Minute), success: true, toolCalls: 1,
		during: func(id trace.TraceID) {
			apiJSON(t, "POST", a.HTTPURL()+"/api/v1/approvals", map[string]any{
				"service": service, "environment": "prod", "action": "pay_invoice", "amount": 700, "task_id": id.String(),
			}, 201, &early)
		}}
	earlyID := agents.send(ask)[0].String()
	if early.Tier != 2 || early.TaskID != earlyID {
		t.Fatalf("mid-task approval request = %+v, want Tier 2 for task %s", early, earlyID)
	}
	waitFor(t, 15*time.Second, "the task that asked mid-task counts as escalated", func() (bool, string) {
		getJSON(t, a.HTTPURL()+"/api/v1/tasks/"+earlyID, &task)
		return task.Escalated && task.Success, fmt.Sprintf("%+v", task)
	})
	waitFor(t, 15*time.Second, "the escalation-rate SLO counts both escalations", func() (bool, string) {
		sli, bad := escalationSLO(t, a, service)
		return sli != nil && math.Abs(*sli-19.0/21) < 1e-9 && bad == 2, fmt.Sprintf("SLI %s, bad %v", fmtRate(sli), bad)
	})

	// The other tasks are untouched.
	var other struct {
		Escalated bool `json:"escalated"`
	}
	getJSON(t, a.HTTPURL()+"/api/v1/tasks/"+ids[8].String(), &other)
	if other.Escalated {
		t.Error("a task without an approval request is escalated")
	}
}

// TestApprovalLongPollReturnsOnDecision parks GET /api/v1/approvals/{id}?wait=5s
// and decides the request from another client: the poll must answer with the
// decision at once, not at the end of its wait. A poll without a decision
// answers pending after its wait.
func TestApprovalLongPollReturnsOnDecision(t *testing.T) {
	onBothStores(t, longPollReturnsOnDecision)
}

func longPollReturnsOnDecision(t *testing.T, opts app.Options) {
	opts.ConfigDir = writeConfig(t, map[string]string{"approvals.yaml": invoicePolicy})
	a := startApp(t, opts)
	var req approvalView
	apiJSON(t, "POST", a.HTTPURL()+"/api/v1/approvals", `{"service": "invoice-agent", "action": "pay_invoice", "amount": 2500,
		"context": {"prompt": "Pay invoice INV-77"}}`, 201, &req)
	if req.State != "pending" || req.Tier != 2 {
		t.Fatalf("approval request = %+v, want pending Tier 2", req)
	}
	pollURL := a.HTTPURL() + "/api/v1/approvals/" + req.ID

	start := time.Now()
	var idle approvalView
	apiJSON(t, "GET", pollURL+"?wait=1s", nil, 200, &idle)
	if waited := time.Since(start); idle.State != "pending" || waited < 900*time.Millisecond || waited > 4*time.Second {
		t.Fatalf("an undecided poll with wait=1s answered %s after %s, want pending after about 1s", idle.State, waited)
	}

	type polled struct {
		req approvalView
		at  time.Time
		err error
	}
	done := make(chan polled, 1)
	start = time.Now()
	go func() {
		var p polled
		resp, err := apiClient.Get(pollURL + "?wait=5s")
		if err == nil {
			if resp.StatusCode != 200 {
				err = fmt.Errorf("status %s", resp.Status)
			} else {
				err = json.NewDecoder(resp.Body).Decode(&p.req)
			}
			resp.Body.Close()
		}
		p.at, p.err = time.Now(), err
		done <- p
	}()
	// Give the poll time to reach the server and park; whether it did is
	// checked below from how long it took.
	time.Sleep(300 * time.Millisecond)
	decider := a.HTTPURL() + "/api/v1/approvals/" + req.ID + "/decision"
	decided := time.Now()
	apiJSON(t, "POST", decider, `{"decision": "approve", "comment": "matches PO-7"}`, 200, nil)

	select {
	case p := <-done:
		if p.err != nil {
			t.Fatalf("long poll: %v", p.err)
		}
		latency := p.at.Sub(decided)
		t.Logf("the long poll answered %s after the decision was asked for (%s after the poll started)", latency, p.at.Sub(start))
		if p.req.State != "approved" {
			t.Errorf("the long poll answered %s, want approved", p.req.State)
		}
		if latency < 0 {
			t.Errorf("the poll answered %s before the decision was asked for", -latency)
		}
		if latency > time.Second {
			t.Errorf("the long poll answered %s after the decision, want at once", latency)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the long poll did not answer")
	}
}
