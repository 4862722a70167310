package incident

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/notify"
)

func TestABurstOfAlertsForOneOutageIsOneIncidentWithBatchedUpdates(t *testing.T) {
	e := newEnv(t, nil)
	// 100 alerts over 100 seconds, as Alertmanager, rules and canaries would
	// send them about one outage: 10 distinct alerts, each repeated.
	sources := []string{SourceRule, SourceSLO, SourceAlertmanager, SourceCanary}
	for i := range 100 {
		a := alert(fmt.Sprintf("alert-%d", i%10), "prod")
		a.Source = sources[i%len(sources)]
		e.ingest(t, a)
		e.clock.Advance(time.Second)
	}
	inc := e.only(t)
	if inc.State != StateTriggered || inc.Service != "support-triage" || inc.Environment != "prod" || inc.Severity != SeverityPage {
		t.Fatalf("incident %+v: want triggered page of support-triage prod", inc)
	}
	if !strings.Contains(inc.Title, "alert-0") {
		t.Errorf("title %q: want the first alert's summary", inc.Title)
	}
	if len(inc.Alerts) != 10 || len(entries(inc, EntryAlert)) != 10 {
		t.Errorf("%d alerts and %d alert entries on the timeline; want 10 of each (repeats add none)", len(inc.Alerts), len(entries(inc, EntryAlert)))
	}
	if n := e.out.count(notify.EventIncidentTriggered, inc.ID); n != 1 {
		t.Errorf("%d triggered notifications, want 1", n)
	}
	if n := e.out.count(notify.EventIncidentUpdated, ""); n != 0 {
		t.Errorf("%d update notifications within the first group interval, want 0", n)
	}
	if !inc.UpdatePending {
		t.Errorf("alerts joined, but no update is pending")
	}

	// The batched update goes out once the group interval since the triggered
	// message has passed, and only once.
	e.clock.Set(t0.Add(4 * time.Minute))
	e.tick(t)
	if n := e.out.count(notify.EventIncidentUpdated, ""); n != 0 {
		t.Fatalf("update sent %d times 4 minutes after opening; the group interval is 5m", n)
	}
	e.clock.Set(t0.Add(5 * time.Minute))
	e.tick(t)
	e.tick(t)
	if n := e.out.count(notify.EventIncidentUpdated, inc.ID); n != 1 {
		t.Fatalf("%d updates after the group interval, want 1", n)
	}
	if s := e.out.last().Summary; !strings.Contains(s, "alert firing") {
		t.Errorf("update summary %q does not tell which alerts joined", s)
	}

	// A later change waits for the next interval.
	e.clock.Set(t0.Add(6 * time.Minute))
	e.ingest(t, alert("late-alert", "prod"))
	e.clock.Set(t0.Add(9 * time.Minute))
	e.tick(t)
	if n := e.out.count(notify.EventIncidentUpdated, inc.ID); n != 1 {
		t.Fatalf("%d updates 4 minutes after the last one, want still 1", n)
	}
	e.clock.Set(t0.Add(10 * time.Minute))
	e.tick(t)
	if n := e.out.count(notify.EventIncidentUpdated, inc.ID); n != 2 {
		t.Fatalf("%d updates one interval after the last one, want 2", n)
	}
	if got, want := e.outboxRecords(t), len(e.out.msgs); got != want {
		t.Errorf("%d outbox records for %d messages; each message must be stored with its change", got, want)
	}
	if e.out.kicks.Load() == 0 {
		t.Errorf("the outbox was never told to deliver")
	}

	// Another environment is another incident.
	e.ingest(t, alert("alert-0", "staging"))
	if incs := e.list(t, Filter{State: "open"}); len(incs) != 2 {
		t.Fatalf("open incidents %s; want prod and staging", titles(incs))
	}

	// After the prod incident is resolved, a new alert opens a new one.
	if _, err := e.svc.Resolve(bg, "alice", inc.ID, "CRM recovered"); err != nil {
		t.Fatal(err)
	}
	e.ingest(t, alert("alert-0", "prod"))
	open := e.list(t, Filter{State: "open", Service: "support-triage"})
	if len(open) != 2 {
		t.Fatalf("open incidents %s; want the staging one and a new prod one", titles(open))
	}
	for _, o := range open {
		if o.ID == inc.ID {
			t.Fatalf("the resolved incident %s took the new alert", inc.ID)
		}
	}
	if got := e.get(t, inc.ID); got.State != StateResolved || len(got.Alerts) != 11 {
		t.Errorf("resolved incident changed: state %s, %d alerts", got.State, len(got.Alerts))
	}
}

func TestAlertsOfOneRequestOpenOneIncidentToldInTheTriggeredMessage(t *testing.T) {
	e := newEnv(t, nil)
	var batch []Alert
	for i := range 100 {
		batch = append(batch, alert(fmt.Sprintf("k%d", i%25), "prod"))
	}
	e.ingest(t, batch...)
	inc := e.only(t)
	if len(inc.Alerts) != 25 || inc.UpdatePending {
		t.Fatalf("%d alerts, update pending %v; want 25 and nothing pending", len(inc.Alerts), inc.UpdatePending)
	}
	if n := e.out.count(notify.EventIncidentTriggered, inc.ID); n != 1 {
		t.Fatalf("%d triggered messages, want 1", n)
	}
	if s := e.out.last().Summary; !strings.Contains(s, "(25 alerts)") {
		t.Errorf("triggered summary %q does not count the alerts", s)
	}
}

func TestConcurrentAlertsOfOneGroupOpenOneIncident(t *testing.T) {
	e := newEnv(t, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- e.svc.Ingest(bg, []Alert{alert(fmt.Sprintf("k%d", i), "prod")})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	inc := e.only(t)
	if len(inc.Alerts) != 8 {
		t.Fatalf("%d alerts in the incident, want all 8", len(inc.Alerts))
	}
	if n := e.stored(t, notify.EventIncidentTriggered); n != 1 {
		t.Fatalf("%d triggered messages stored, want 1", n)
	}
}

func TestAllAlertsResolvedIsRecordedButAPersonResolves(t *testing.T) {
	e := newEnv(t, nil)
	a, b := alert("a", "prod"), alert("b", "prod")
	e.ingest(t, a, b)
	a.Status = StatusResolved
	e.ingest(t, a)
	e.ingest(t, a) // a repeat changes nothing
	inc := e.only(t)
	if n := len(entries(inc, EntryAlert)); n != 3 {
		t.Fatalf("%d alert entries, want 3 (two firing, one resolved): %+v", n, inc.Timeline)
	}
	b.Status = StatusResolved
	e.ingest(t, b)
	inc = e.only(t)
	if inc.State != StateTriggered || inc.AllAlertsResolvedAt.IsZero() {
		t.Fatalf("state %s, all resolved at %v; want the incident open with every alert resolved", inc.State, inc.AllAlertsResolvedAt)
	}
	if last := inc.Timeline[len(inc.Timeline)-1]; !strings.Contains(last.Text, "all alerts resolved") {
		t.Errorf("last entry %q; want all alerts resolved", last.Text)
	}
	b.Status = StatusFiring
	e.ingest(t, b)
	if inc = e.only(t); !inc.AllAlertsResolvedAt.IsZero() || inc.Firing() != 1 {
		t.Errorf("alert firing again: all resolved at %v, %d firing", inc.AllAlertsResolvedAt, inc.Firing())
	}
}

func TestAPageAlertRaisesATicketIncident(t *testing.T) {
	e := newEnv(t, nil)
	a := alert("slow", "prod")
	a.Severity = SeverityTicket
	e.ingest(t, a)
	if inc := e.only(t); inc.Severity != SeverityTicket {
		t.Fatalf("severity %s, want ticket", inc.Severity)
	}
	e.ingest(t, alert("failing", "prod"))
	if inc := e.only(t); inc.Severity != SeverityPage {
		t.Fatalf("severity %s after a page alert joined, want page", inc.Severity)
	}
}

func TestResolvedAlertWithoutIncidentAndInvalidAlerts(t *testing.T) {
	e := newEnv(t, nil)
	a := alert("a", "prod")
	a.Status = StatusResolved
	e.ingest(t, a)
	if incs := e.list(t, Filter{}); len(incs) != 0 {
		t.Fatalf("a resolved alert opened %s", titles(incs))
	}
	for name, edit := range map[string]func(*Alert){
		"no key":       func(a *Alert) { a.Key = "" },
		"no service":   func(a *Alert) { a.Service = " " },
		"bad status":   func(a *Alert) { a.Status = "open" },
		"bad severity": func(a *Alert) { a.Severity = "critical" },
	} {
		a := alert("a", "prod")
		edit(&a)
		err := e.svc.Ingest(bg, []Alert{alert("ok", "prod"), a})
		wantCode(t, name, err, day2.EInvalid)
	}
	if incs := e.list(t, Filter{}); len(incs) != 0 {
		t.Fatalf("a batch with an invalid alert opened %s", titles(incs))
	}
}

func TestGroupingByOtherLabels(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Grouping = []string{"service", "cluster"} })
	a, b := alert("a", "prod"), alert("b", "staging")
	a.Labels = map[string]string{"cluster": "eu"}
	b.Labels = map[string]string{"cluster": "eu"}
	e.ingest(t, a, b)
	inc := e.only(t)
	if inc.GroupKey != `service="support-triage",cluster="eu"` || len(inc.Alerts) != 2 {
		t.Fatalf("group key %q with %d alerts; want both alerts of cluster eu", inc.GroupKey, len(inc.Alerts))
	}
}

func TestSLOTransitionsBecomeAlerts(t *testing.T) {
	at := t0.Add(-3 * time.Minute)
	fire := day2.AlertTransition{Key: "slo:support-triage/task-success:page", SLO: "support-triage/task-success", Service: "support-triage",
		Severity: "page", From: "inactive", To: "firing", At: at, Details: "burn 1h=15.2 5m=20.1 >= 13.44"}
	a, ok := FromSLOTransition(fire)
	if !ok || a.Status != StatusFiring || a.Severity != SeverityPage || a.Key != fire.Key || !a.StartsAt.Equal(at) || a.Labels["slo"] != fire.SLO {
		t.Fatalf("firing transition gave %+v %v", a, ok)
	}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	res := fire
	res.From, res.To = "firing", "resolved"
	if a, ok := FromSLOTransition(res); !ok || a.Status != StatusResolved {
		t.Fatalf("resolved transition gave %+v %v", a, ok)
	}
	pend := fire
	pend.To = "pending"
	if _, ok := FromSLOTransition(pend); ok {
		t.Fatalf("a pending transition gave an alert")
	}

	// The runbook named after the SLO is matched.
	e := newEnv(t, func(o *Options) { o.Runbooks = map[string]string{"task-success": "slo runbook"} })
	e.ingest(t, a)
	if inc := e.only(t); inc.Runbook != "task-success" || inc.Environment != "" {
		t.Fatalf("incident %+v", inc)
	}
}

func TestAnUnmitigatedIncidentIsRepeatedAfterTheRepeatInterval(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.RepeatInterval = time.Hour })
	e.ingest(t, alert("crm-down", "prod"))
	inc := e.only(t)
	e.clock.Set(t0.Add(59 * time.Minute))
	e.tick(t)
	if n := e.out.count(notify.EventIncidentUpdated, inc.ID); n != 0 {
		t.Fatalf("%d repeats before the repeat interval, want 0", n)
	}
	e.clock.Set(t0.Add(time.Hour))
	e.tick(t)
	e.tick(t)
	if n := e.out.count(notify.EventIncidentUpdated, inc.ID); n != 1 {
		t.Fatalf("%d repeats after one repeat interval of silence, want 1", n)
	}
	if s := e.out.last().Summary; !strings.Contains(s, "Reminder: still triggered after 1h") {
		t.Errorf("repeat summary %q", s)
	}
	if got := entries(e.get(t, inc.ID), EntryReminder); len(got) != 1 {
		t.Errorf("%d reminder entries on the timeline, want 1", len(got))
	}
	// Once mitigated, nobody is paged again.
	if _, err := e.svc.Mitigate(bg, "alice", inc.ID, LeverRequest{Reason: "failed over"}); err != nil {
		t.Fatal(err)
	}
	sent := e.out.count(notify.EventIncidentUpdated, inc.ID)
	e.clock.Set(t0.Add(5 * time.Hour))
	e.tick(t)
	if n := e.out.count(notify.EventIncidentUpdated, inc.ID); n != sent {
		t.Fatalf("a mitigated incident was repeated (%d -> %d updates)", sent, n)
	}
}

func TestAnAlertWithoutEnvironmentJoinsTheServicesOnlyOpenIncident(t *testing.T) {
	e := newEnv(t, nil)
	e.ingest(t, alert("tool-failure-rule", "prod"))
	slo := alert("slo:support-triage/tool-failure:page", "")
	slo.Source = SourceSLO
	e.ingest(t, slo)
	inc := e.only(t)
	if len(inc.Alerts) != 2 {
		t.Fatalf("the SLO alert did not join the prod incident: %d alerts", len(inc.Alerts))
	}
	// With two open incidents of the service it is not clear which outage an
	// alert without an environment belongs to: it gets its own.
	e.ingest(t, alert("tool-failure-rule", "staging"))
	other := alert("slo:support-triage/task-success:page", "")
	e.ingest(t, other)
	if incs := e.list(t, Filter{State: "open"}); len(incs) != 3 {
		t.Fatalf("open incidents %s; want prod, staging and one for the service as a whole", titles(incs))
	}
}
