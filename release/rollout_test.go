package release

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/day2ops/day2"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

func canaryRequest() StartRequest {
	return StartRequest{Service: "invoice-agent", Baseline: "2.3.1", Candidate: "2.4.0",
		Strategy: Strategy{Type: StrategyCanary, Steps: []int{5, 25, 50, 100}}}
}

func TestStartRequestDefaults(t *testing.T) {
	req := StartRequest{Service: "invoice-agent", Baseline: "2.3.1", Candidate: "2.4.0"}
	if err := req.normalize(); err != nil {
		t.Fatal(err)
	}
	if req.Environment != "prod" || req.Strategy.Type != StrategyCanary || fmt.Sprint(req.Strategy.Steps) != "[5 25 50 100]" ||
		req.Strategy.StepDuration.D() != 10*time.Minute || req.Strategy.MinSamples != 100 || req.Judge.Interval.D() != time.Minute {
		t.Fatalf("defaults not applied: %+v", req)
	}
	if req.Judge.Thresholds.MaxLooks != 10 {
		t.Errorf("max_looks = %d, want one look per interval of a step (10)", req.Judge.Thresholds.MaxLooks)
	}

	// A long step judged often plans at most the judge's limit of looks, so the
	// thresholds stay valid and the judge decides.
	long := StartRequest{Service: "invoice-agent", Baseline: "2.3.1", Candidate: "2.4.0"}
	long.Strategy.StepDuration = day2.Duration(10 * time.Minute)
	long.Judge.Interval = day2.Duration(time.Second)
	if err := long.normalize(); err != nil {
		t.Fatal(err)
	}
	if got := long.Judge.Thresholds.MaxLooks; got != 100 {
		t.Errorf("max_looks of a 10m step judged every 1s = %d, want the limit 100", got)
	}
	if err := long.Judge.Thresholds.Validate(); err != nil {
		t.Errorf("the planned thresholds do not validate: %v", err)
	}
}

func TestStartRequestValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(r *StartRequest)
		want string
	}{
		{"service missing", func(r *StartRequest) { r.Service = "" }, "service is required"},
		{"service with a slash", func(r *StartRequest) { r.Service = "a/b" }, "not a valid name"},
		{"environment with a space", func(r *StartRequest) { r.Environment = "pr od" }, "environment"},
		{"baseline missing", func(r *StartRequest) { r.Baseline = "" }, "baseline is required"},
		{"candidate with a space", func(r *StartRequest) { r.Candidate = "2 4" }, "candidate"},
		{"same versions", func(r *StartRequest) { r.Candidate = r.Baseline }, "both"},
		{"unknown strategy", func(r *StartRequest) { r.Strategy.Type = "blue-green" }, "use canary, rings or shadow"},
		{"step over 100", func(r *StartRequest) { r.Strategy.Steps = []int{5, 150} }, "from 1 to 100"},
		{"step zero", func(r *StartRequest) { r.Strategy.Steps = []int{0, 50} }, "from 1 to 100"},
		{"steps not increasing", func(r *StartRequest) { r.Strategy.Steps = []int{5, 50, 25} }, "increase strictly"},
		{"steps repeated", func(r *StartRequest) { r.Strategy.Steps = []int{5, 5} }, "increase strictly"},
		{"canary with share", func(r *StartRequest) { r.Strategy.Share = 10 }, "takes steps"},
		{"rings without rings", func(r *StartRequest) { r.Strategy = Strategy{Type: StrategyRings} }, "needs rings"},
		{"rings with steps", func(r *StartRequest) {
			r.Strategy = Strategy{Type: StrategyRings, Steps: []int{5}, Rings: []Ring{{Name: "org"}}}
		}, "not steps"},
		{"ring without name", func(r *StartRequest) {
			r.Strategy = Strategy{Type: StrategyRings, Rings: []Ring{{Name: ""}}}
		}, "rings[0].name is required"},
		{"ring names repeated", func(r *StartRequest) {
			r.Strategy = Strategy{Type: StrategyRings, Rings: []Ring{{Name: "a", Match: map[string][]string{"t": {"x"}}}, {Name: "a"}}}
		}, "used twice"},
		{"everyone ring not last", func(r *StartRequest) {
			r.Strategy = Strategy{Type: StrategyRings, Rings: []Ring{{Name: "org"}, {Name: "pilot", Match: map[string][]string{"t": {"x"}}}}}
		}, "only the last ring"},
		{"ring attribute without values", func(r *StartRequest) {
			r.Strategy = Strategy{Type: StrategyRings, Rings: []Ring{{Name: "a", Match: map[string][]string{"tenant": {}}}}}
		}, "lists no values"},
		{"shadow without share", func(r *StartRequest) { r.Strategy = Strategy{Type: StrategyShadow} }, "share is 0"},
		{"shadow share over 100", func(r *StartRequest) { r.Strategy = Strategy{Type: StrategyShadow, Share: 101} }, "1 to 100"},
		{"shadow with steps", func(r *StartRequest) { r.Strategy.Type = StrategyShadow }, "takes share"},
		{"negative step duration", func(r *StartRequest) { r.Strategy.StepDuration = -1 }, "step_duration is negative"},
		{"negative min samples", func(r *StartRequest) { r.Strategy.MinSamples = -5 }, "min_samples is -5"},
		{"judge interval too short", func(r *StartRequest) { r.Judge.Interval = day2.Duration(time.Millisecond) }, "1s to 24h"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := canaryRequest()
			tc.edit(&req)
			err := req.normalize()
			if day2.ErrorCode(err) != day2.EInvalid || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("normalize = %v, want EInvalid containing %q", err, tc.want)
			}
		})
	}
}

func TestParseStartRequest(t *testing.T) {
	doc := `{"service": "invoice-agent", "environment": "prod", "baseline": "2.3.1", "candidate": "2.4.0",
		"strategy": {"type": "canary", "steps": [5, 25, 50, 100], "step_duration": "10m", "min_samples": 200},
		"judge": {"interval": "30s", "alpha": 0.01, "min_samples": 50}, "reason": "new escalation rule"}`
	req, err := ParseStartRequest([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if req.Strategy.StepDuration.D() != 10*time.Minute || req.Strategy.MinSamples != 200 || req.Judge.Interval.D() != 30*time.Second ||
		req.Judge.Thresholds.Alpha != 0.01 || req.Judge.Thresholds.MinSamples != 50 || req.Reason != "new escalation rule" {
		t.Fatalf("parsed %+v", req)
	}
	// The judge's thresholds and interval marshal back side by side.
	raw, _ := json.Marshal(req.Judge)
	if !strings.Contains(string(raw), `"interval":"30s"`) || !strings.Contains(string(raw), `"alpha":0.01`) {
		t.Fatalf("judge JSON %s", raw)
	}
	for _, bad := range []string{
		`{"service": "a", "strategy": {"type": "canary", "stepz": [5]}}`,
		`{"service": "a", "judge": {"alpah": 0.1}}`,
		`{"service": "a", "judge": {"interval": "soon"}}`,
		`{"service": "a"} {"service": "b"}`,
		`[1]`,
	} {
		if _, err := ParseStartRequest([]byte(bad)); day2.ErrorCode(err) != day2.EInvalid {
			t.Errorf("ParseStartRequest(%s) = %v, want EInvalid", bad, err)
		}
	}
}

func started(t *testing.T, req StartRequest) Rollout {
	t.Helper()
	if err := req.normalize(); err != nil {
		t.Fatal(err)
	}
	return newRollout("ro_test", "alice", req, t0)
}

func TestStateMachine(t *testing.T) {
	type step struct {
		action    string
		wantState string
		wantErr   string // substring of an EConflict error; the state must not change
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"pause then resume then promote", []step{
			{ActionPause, StatePaused, ""}, {ActionResume, StateRunning, ""}, {ActionPromote, StatePromoted, ""}}},
		{"resume while running conflicts", []step{{ActionResume, StateRunning, "is running; only a paused rollout can resume"}}},
		{"pause twice conflicts", []step{{ActionPause, StatePaused, ""}, {ActionPause, StatePaused, "already paused"}}},
		{"a paused rollout rolls back", []step{{ActionPause, StatePaused, ""}, {ActionRollback, StateRolledBack, ""}}},
		{"nothing after a rollback", []step{
			{ActionRollback, StateRolledBack, ""}, {ActionResume, StateRolledBack, "is rolled_back"},
			{ActionPromote, StateRolledBack, "is rolled_back"}, {ActionRollback, StateRolledBack, "is rolled_back"}}},
		{"nothing after a promotion", []step{{ActionPromote, StatePromoted, ""}, {ActionPause, StatePromoted, "is promoted"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := started(t, canaryRequest())
			now := t0
			for _, st := range tc.steps {
				now = now.Add(time.Minute)
				err := r.act(st.action, "bob", "because", now)
				if st.wantErr != "" {
					if day2.ErrorCode(err) != day2.EConflict || !strings.Contains(err.Error(), st.wantErr) {
						t.Fatalf("%s: err = %v, want EConflict containing %q", st.action, err, st.wantErr)
					}
				} else if err != nil {
					t.Fatalf("%s: %v", st.action, err)
				}
				if r.State != st.wantState {
					t.Fatalf("after %s state = %s, want %s", st.action, r.State, st.wantState)
				}
			}
		})
	}

	r := started(t, canaryRequest())
	if r.Weights != (Weights{95, 5}) || r.Step != 0 {
		t.Fatalf("start: weights %v step %d", r.Weights, r.Step)
	}
	if err := r.act(ActionPromote, "bob", "looks good", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if r.Weights != (Weights{0, 100}) || r.Step != 3 || r.Reason != "looks good" || r.EndedAt.IsZero() {
		t.Fatalf("promoted: weights %v step %d reason %q", r.Weights, r.Step, r.Reason)
	}
	last := r.History[len(r.History)-1]
	if last.Type != HistoryPromoted || last.Actor != "bob" || last.Weights != (Weights{0, 100}) {
		t.Fatalf("history entry %+v", last)
	}

	r = started(t, canaryRequest())
	if err := r.act(ActionRollback, "bob", "pager", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if r.Weights != (Weights{100, 0}) || r.State != StateRolledBack {
		t.Fatalf("rolled back: %v %s", r.Weights, r.State)
	}
	if rec, _ := r.record(); rec.Key != "" || !rec.Due.IsZero() || rec.State != StateRolledBack {
		t.Fatalf("an ended rollout must free its key and have nothing due: %+v", rec)
	}
}

func TestSetWeight(t *testing.T) {
	r := started(t, canaryRequest())
	if err := r.setWeight(2, "bob", "incident 42", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if r.Weights != (Weights{98, 2}) || r.State != StatePaused {
		t.Fatalf("weight 2: %v %s, want 98/2 paused", r.Weights, r.State)
	}
	if err := r.act(ActionResume, "bob", "", t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if r.Weights != (Weights{95, 5}) {
		t.Fatalf("resume must restore the step's weight, got %v", r.Weights)
	}
	if err := r.setWeight(0, "bob", "incident 43", t0.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if r.State != StateRolledBack || r.Weights.Candidate != 0 {
		t.Fatalf("weight 0: %v %s", r.Weights, r.State)
	}
	if err := r.setWeight(50, "bob", "", t0); day2.ErrorCode(err) != day2.EConflict {
		t.Fatalf("weight on an ended rollout: %v", err)
	}
	rings := started(t, ringsRequest())
	if err := rings.setWeight(30, "bob", "", t0); day2.ErrorCode(err) != day2.EInvalid || !strings.Contains(err.Error(), "by ring") {
		t.Fatalf("weight 30 on rings: %v", err)
	}
	if err := rings.setWeight(101, "bob", "", t0); day2.ErrorCode(err) != day2.EInvalid {
		t.Fatalf("weight 101: %v", err)
	}
}

func ringsRequest() StartRequest {
	return StartRequest{Service: "invoice-agent", Baseline: "2.3.1", Candidate: "2.4.0", Strategy: Strategy{Type: StrategyRings, Rings: []Ring{
		{Name: "internal", Match: map[string][]string{"tenant": {"contoso-it"}}},
		{Name: "pilot", Match: map[string][]string{"business_unit": {"finance"}, "region": {"eu", "uk"}}},
		{Name: "org", Match: map[string][]string{}},
	}}}
}

func TestRingsMatching(t *testing.T) {
	r := started(t, ringsRequest())
	keys := []struct {
		name  string
		attrs map[string]string
		ring  int // the first ring that holds the key
	}{
		{"it staff", map[string]string{"tenant": "contoso-it", "business_unit": "it"}, 0},
		{"finance in eu", map[string]string{"tenant": "contoso", "business_unit": "finance", "region": "eu"}, 1},
		{"finance in us", map[string]string{"business_unit": "finance", "region": "us"}, 2},
		{"finance without region", map[string]string{"business_unit": "finance"}, 2},
		{"no attributes", nil, 2},
	}
	for step := range 3 {
		if step > 0 {
			r.setStep(step, t0.Add(time.Duration(step)*time.Hour))
		}
		a := compile(&r)
		for _, k := range keys {
			got := a.assign(r.Service, k.name, k.attrs)
			want := ArmBaseline
			if k.ring <= step {
				want = ArmCandidate
			}
			if got.Arm != want || got.Step != step || got.Rollout != "ro_test" {
				t.Errorf("ring %s: %s got %+v, want arm %s", r.Ring, k.name, got, want)
			}
		}
	}
	if r.Ring != "org" || r.Weights != (Weights{0, 100}) {
		t.Errorf("at the everyone ring: ring %q weights %v", r.Ring, r.Weights)
	}
}

func TestStickyAssignment(t *testing.T) {
	r := started(t, canaryRequest())
	const n = 10000
	arms := make([]string, n)
	for step, weight := range []int{5, 25, 50} {
		if step > 0 {
			r.setStep(step, t0.Add(time.Duration(step)*time.Hour))
		}
		a := compile(&r)
		candidates := 0
		for i := range n {
			got := a.assign(r.Service, fmt.Sprintf("user-%d", i), nil)
			if got.Arm == ArmCandidate {
				candidates++
				if got.Version != "2.4.0" {
					t.Fatalf("candidate arm serves %s", got.Version)
				}
			} else if got.Version != "2.3.1" {
				t.Fatalf("baseline arm serves %s", got.Version)
			}
			if arms[i] == ArmCandidate && got.Arm != ArmCandidate {
				t.Fatalf("user-%d was in the candidate and left it when the weight rose to %d%%", i, weight)
			}
			arms[i] = got.Arm
		}
		// Binomial standard deviation at n=10000 is at most 0.5%; allow 4 of them.
		share := 100 * float64(candidates) / n
		if math.Abs(share-float64(weight)) > 2 {
			t.Errorf("at %d%% the candidate got %.2f%% of %d keys", weight, share, n)
		}
	}
	// The bucket depends on the service too, and its values are pinned: a
	// change of hash would move users between arms in running rollouts.
	if Bucket("a", "k") == Bucket("b", "k") && Bucket("a", "k2") == Bucket("b", "k2") {
		t.Error("Bucket does not depend on the service")
	}
	if b1, b2 := Bucket("invoice-agent", "user-1"), Bucket("invoice-agent", "user-2"); b1 != 9529 || b2 != 8581 {
		t.Errorf("Bucket of user-1 and user-2 is %d and %d, want 9529 and 8581 as before", b1, b2)
	}
}

func TestShadowAssignment(t *testing.T) {
	req := StartRequest{Service: "invoice-agent", Baseline: "2.3.1", Candidate: "2.4.0", Strategy: Strategy{Type: StrategyShadow, Share: 20}}
	r := started(t, req)
	if r.Weights != (Weights{100, 0}) || r.Steps() != 1 {
		t.Fatalf("shadow weights %v steps %d", r.Weights, r.Steps())
	}
	a := compile(&r)
	shadow := 0
	for i := range 10000 {
		got := a.assign(r.Service, fmt.Sprint(i), nil)
		if got.Version != "2.3.1" {
			t.Fatalf("a shadow rollout must serve the baseline for the real outcome, got %+v", got)
		}
		if got.Arm == ArmShadow {
			shadow++
		}
	}
	if shadow < 1800 || shadow > 2200 {
		t.Errorf("shadow share %d of 10000, want about 2000", shadow)
	}
}

func FuzzParseStartRequest(f *testing.F) {
	f.Add([]byte(`{"service": "s", "baseline": "1", "candidate": "2", "strategy": {"type": "rings", "rings": [{"name": "a", "match": {"t": ["x"]}}, {"name": "b", "match": {}}]}}`))
	f.Add([]byte(`{"service": "s", "baseline": "1", "candidate": "2", "strategy": {"type": "shadow", "share": 20}, "judge": {"interval": "1m", "alpha": 0.05}}`))
	f.Add([]byte(`{"service": "s", "baseline": "1", "candidate": "2", "strategy": {"steps": [1, 100], "step_duration": "28d"}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		req, err := ParseStartRequest(doc)
		if err != nil {
			return
		}
		if err := req.normalize(); err != nil {
			if day2.ErrorCode(err) != day2.EInvalid {
				t.Fatalf("normalize error %v is not EInvalid", err)
			}
			return
		}
		// A valid request starts a rollout that assigns and encodes.
		r := newRollout("ro_f", "f", req, t0)
		compile(&r).assign(r.Service, "k", map[string]string{"t": "x"})
		if _, err := r.record(); err != nil {
			t.Fatal(err)
		}
	})
}
