package flags_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/day2ops/day2/internal/testclock"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/flags"
	"github.com/day2ops/day2/sqlite"
)

type clock = testclock.Clock

func newClock() *clock { return testclock.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)) }

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func configFlags(t *testing.T) map[string]flags.Flag {
	t.Helper()
	fs, err := flags.ParseFlagSet([]byte(`{"flags": {
	  "new-planner": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
	    "targeting": {"if": [{"ends_with": [{"var": "email"}, "@day2.dev"]}, "on", null]}},
	  "model": {"state": "ENABLED", "variants": {"small": "gpt-small", "large": "gpt-large"}, "defaultVariant": "small"}
	}}`))
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func eval(t *testing.T, svc *flags.Service, key string, ec flags.EvalContext) flags.Result {
	t.Helper()
	r, err := svc.Evaluate(context.Background(), key, ec)
	if err != nil {
		t.Fatalf("evaluate %s: %v", key, err)
	}
	return r
}

func TestServiceServesConfigAndRuntimeChanges(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	clk := newClock()
	svc, err := flags.NewService(st, configFlags(t), clk.Now)
	if err != nil {
		t.Fatal(err)
	}

	if r := eval(t, svc, "new-planner", flags.EvalContext{"email": "ana@day2.dev"}); r.Variant != "on" || r.Reason != flags.ReasonTargetingMatch {
		t.Fatalf("config flag: %+v", r)
	}
	if _, err := svc.Evaluate(ctx, "nope", nil); day2.ErrorCode(err) != day2.ENotFound {
		t.Fatalf("unknown flag: %v", err)
	}

	// A kill switch: disable the config flag at run time.
	off := flags.StateDisabled
	f, err := svc.Patch(ctx, "alice", "new-planner", flags.Patch{State: &off}, "incident 42: planner loops")
	if err != nil {
		t.Fatal(err)
	}
	if f.State != flags.StateDisabled || f.DefaultVariant != "off" || f.Targeting == nil {
		t.Errorf("patched flag = %+v; only the state should change", f)
	}
	if r := eval(t, svc, "new-planner", flags.EvalContext{"email": "ana@day2.dev"}); r.Reason != flags.ReasonDisabled || r.Value != nil {
		t.Fatalf("the kill switch is not in force at once: %+v", r)
	}
	views, err := svc.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(views) != 2 || views[1].Flag.Key != "new-planner" {
		t.Fatalf("views = %+v", views)
	}
	v := views[1]
	if v.Source != flags.SourceRuntime || !v.InConfig || v.ChangedBy != "alice" || v.Reason != "incident 42: planner loops" || !v.ChangedAt.Equal(clk.Now()) {
		t.Errorf("view = %+v", v)
	}
	if views[0].Source != flags.SourceConfig || views[0].ChangedBy != "" {
		t.Errorf("model view = %+v", views[0])
	}

	// The audit entry was written with the change.
	entries, err := st.ListAudit(ctx, day2.AuditFilter{Target: "flag/new-planner"})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("audit entries = %+v", entries)
	}
	e := entries[0]
	if e.Action != "flag.patch" || e.Actor != "alice" || e.Reason != "incident 42: planner loops" {
		t.Errorf("audit entry = %+v", e)
	}
	var before, after flags.Flag
	if err := json.Unmarshal(e.Before, &before); err != nil || before.State != flags.StateEnabled {
		t.Errorf("before = %s (%v)", e.Before, err)
	}
	if err := json.Unmarshal(e.After, &after); err != nil || after.State != flags.StateDisabled {
		t.Errorf("after = %s (%v)", e.After, err)
	}

	// Deleting the change brings the configuration back.
	if err := svc.Delete(ctx, "bob", "new-planner", "incident 42 resolved"); err != nil {
		t.Fatal(err)
	}
	if r := eval(t, svc, "new-planner", flags.EvalContext{"email": "ana@day2.dev"}); r.Variant != "on" {
		t.Fatalf("after delete: %+v", r)
	}
	got, err := svc.Get(ctx, "new-planner")
	if err != nil {
		t.Fatal(err)
	}
	if got.Source != flags.SourceConfig || got.ChangedBy != "bob" || got.Reason != "incident 42 resolved" {
		t.Errorf("after delete the view = %+v", got)
	}
	if err := svc.Delete(ctx, "bob", "new-planner", "again"); day2.ErrorCode(err) != day2.ENotFound {
		t.Errorf("second delete: %v", err)
	}
	entries, _ = st.ListAudit(ctx, day2.AuditFilter{Action: "flag.delete"})
	if len(entries) != 1 || entries[0].Actor != "bob" || entries[0].Target != "flag/new-planner" {
		t.Errorf("delete audit = %+v", entries)
	}
}

func TestServicePutCreatesAndReplaces(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	svc, err := flags.NewService(st, configFlags(t), newClock().Now)
	if err != nil {
		t.Fatal(err)
	}
	tools := flags.Flag{Key: "max-tool-calls", State: flags.StateEnabled, DefaultVariant: "low",
		Variants: map[string]any{"low": 5.0, "high": 50.0}}
	if _, err := svc.Put(ctx, "alice", tools, "cap tool loops"); err != nil {
		t.Fatal(err)
	}
	if r := eval(t, svc, "max-tool-calls", nil); r.Value != 5.0 || r.Reason != flags.ReasonStatic {
		t.Fatalf("new flag: %+v", r)
	}
	tools.DefaultVariant = "high"
	if _, err := svc.Put(ctx, "alice", tools, "raise the cap"); err != nil {
		t.Fatal(err)
	}
	if r := eval(t, svc, "max-tool-calls", nil); r.Value != 50.0 {
		t.Fatalf("replaced flag: %+v", r)
	}
	entries, _ := st.ListAudit(ctx, day2.AuditFilter{Target: "flag/max-tool-calls"})
	if len(entries) != 2 || entries[0].Before != nil || entries[1].Before == nil || entries[0].Action != "flag.put" {
		t.Fatalf("audit = %+v", entries)
	}

	// Deleting a flag created at run time removes it.
	if err := svc.Delete(ctx, "alice", "max-tool-calls", "experiment over"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Evaluate(ctx, "max-tool-calls", nil); day2.ErrorCode(err) != day2.ENotFound {
		t.Fatalf("deleted flag: %v", err)
	}
	// And it can be created again.
	if _, err := svc.Put(ctx, "alice", tools, "back"); err != nil {
		t.Fatal(err)
	}
	if r := eval(t, svc, "max-tool-calls", nil); r.Value != 50.0 {
		t.Fatalf("recreated flag: %+v", r)
	}
}

func TestServiceRefusesBadChanges(t *testing.T) {
	ctx := context.Background()
	svc, err := flags.NewService(openStore(t), configFlags(t), newClock().Now)
	if err != nil {
		t.Fatal(err)
	}
	svc.AddResolver("rollout.", resolverFunc(nil))
	good := flags.Flag{Key: "x", State: flags.StateEnabled, DefaultVariant: "a", Variants: map[string]any{"a": "A"}}
	bad := good
	bad.DefaultVariant = "b"
	state := "OFF"
	variant := "medium"
	tests := []struct {
		name string
		do   func() error
		code string
		want string
	}{
		{"no reason", func() error { _, err := svc.Put(ctx, "a", good, " "); return err }, day2.EInvalid, "a reason is required"},
		{"invalid flag", func() error { _, err := svc.Put(ctx, "a", bad, "r"); return err }, day2.EInvalid, `defaultVariant "b" is not among the variants`},
		{"bad key", func() error { g := good; g.Key = "a/b"; _, err := svc.Put(ctx, "a", g, "r"); return err }, day2.EInvalid, "use letters, digits"},
		{"computed key", func() error { g := good; g.Key = "rollout.invoice"; _, err := svc.Put(ctx, "a", g, "r"); return err }, day2.EInvalid, "computed by day2"},
		{"patch unknown flag", func() error { _, err := svc.Patch(ctx, "a", "nope", flags.Patch{State: &state}, "r"); return err }, day2.ENotFound, `no flag "nope" to change`},
		{"patch to a bad state", func() error { _, err := svc.Patch(ctx, "a", "model", flags.Patch{State: &state}, "r"); return err }, day2.EInvalid, `unknown state "OFF"`},
		{"patch to an unknown default", func() error {
			_, err := svc.Patch(ctx, "a", "model", flags.Patch{DefaultVariant: &variant}, "r")
			return err
		}, day2.EInvalid, `defaultVariant "medium"`},
		{"empty patch", func() error { _, err := svc.Patch(ctx, "a", "model", flags.Patch{}, "r"); return err }, day2.EInvalid, "changes nothing"},
		{"delete a config flag", func() error { return svc.Delete(ctx, "a", "model", "r") }, day2.ENotFound, "comes from the configuration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			if day2.ErrorCode(err) != tt.code || !strings.Contains(fmt.Sprint(err), tt.want) {
				t.Errorf("error = %v (%s); want %s containing %q", err, day2.ErrorCode(err), tt.code, tt.want)
			}
		})
	}
	if r := eval(t, svc, "model", nil); r.Value != "gpt-small" {
		t.Errorf("a refused change took effect: %+v", r)
	}
}

func TestServicePatchMergesVariantsAndReplacesTargeting(t *testing.T) {
	ctx := context.Background()
	svc, err := flags.NewService(openStore(t), configFlags(t), newClock().Now)
	if err != nil {
		t.Fatal(err)
	}
	rule := json.RawMessage(`{"if": [{"==": [{"var": "tier"}, "gold"]}, "xl", null]}`)
	f, err := svc.Patch(ctx, "a", "model", flags.Patch{Variants: map[string]any{"xl": "gpt-xl", "large": nil}, Targeting: &rule}, "try xl for gold")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Variants) != 2 || f.Variants["xl"] != "gpt-xl" || f.Variants["large"] != nil {
		t.Errorf("variants = %v", f.Variants)
	}
	if r := eval(t, svc, "model", flags.EvalContext{"tier": "gold"}); r.Value != "gpt-xl" {
		t.Errorf("gold: %+v", r)
	}
	empty := json.RawMessage(`{}`)
	if _, err := svc.Patch(ctx, "a", "model", flags.Patch{Targeting: &empty}, "back to static"); err != nil {
		t.Fatal(err)
	}
	if r := eval(t, svc, "model", flags.EvalContext{"tier": "gold"}); r.Reason != flags.ReasonStatic || r.Value != "gpt-small" {
		t.Errorf("after removing targeting: %+v", r)
	}
}

func TestServiceSeesOtherReplicasWithinTheRefreshInterval(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	clk := newClock()
	a, err := flags.NewService(st, configFlags(t), clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := flags.NewService(st, configFlags(t), clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	if r := eval(t, b, "model", nil); r.Value != "gpt-small" {
		t.Fatalf("b before: %+v", r)
	}
	large := "large"
	if _, err := a.Patch(ctx, "alice", "model", flags.Patch{DefaultVariant: &large}, "bigger model"); err != nil {
		t.Fatal(err)
	}
	if r := eval(t, a, "model", nil); r.Value != "gpt-large" {
		t.Fatalf("a after its own change: %+v", r)
	}
	// b read the store less than RefreshInterval ago: it serves its snapshot
	// without reading the store on every evaluation.
	clk.Advance(flags.RefreshInterval / 2)
	if r := eval(t, b, "model", nil); r.Value != "gpt-small" {
		t.Fatalf("b reloaded before its snapshot was stale: %+v", r)
	}
	clk.Advance(flags.RefreshInterval / 2)
	if r := eval(t, b, "model", nil); r.Value != "gpt-large" {
		t.Fatalf("b did not see a's change after RefreshInterval: %+v", r)
	}
}

func TestServiceConcurrentPatchesBothApply(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	clk := newClock()
	a, _ := flags.NewService(st, configFlags(t), clk.Now)
	b, _ := flags.NewService(st, configFlags(t), clk.Now)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for i, svc := range []*flags.Service{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := svc.Patch(ctx, "op", "model", flags.Patch{Variants: map[string]any{fmt.Sprintf("v%d", i): "x"}}, "add a variant")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := a.Get(ctx, "model")
	if err != nil {
		t.Fatal(err)
	}
	if v.Flag.Variants["v0"] == nil || v.Flag.Variants["v1"] == nil {
		t.Errorf("a concurrent patch was lost: %v", v.Flag.Variants)
	}
	entries, _ := st.ListAudit(ctx, day2.AuditFilter{Action: "flag.patch"})
	if len(entries) != 2 {
		t.Errorf("%d audit entries", len(entries))
	}
}

func TestServiceSetConfigKeepsRuntimeChanges(t *testing.T) {
	ctx := context.Background()
	svc, _ := flags.NewService(openStore(t), configFlags(t), newClock().Now)
	off := flags.StateDisabled
	if _, err := svc.Patch(ctx, "a", "model", flags.Patch{State: &off}, "r"); err != nil {
		t.Fatal(err)
	}
	next := configFlags(t)
	delete(next, "new-planner")
	next["fresh"] = flags.Flag{State: flags.StateEnabled, DefaultVariant: "on", Variants: map[string]any{"on": true}}
	svc.SetConfig(next)
	if _, err := svc.Evaluate(ctx, "new-planner", nil); day2.ErrorCode(err) != day2.ENotFound {
		t.Errorf("removed config flag: %v", err)
	}
	if r := eval(t, svc, "fresh", nil); r.Value != true {
		t.Errorf("new config flag: %+v", r)
	}
	if r := eval(t, svc, "model", nil); r.Reason != flags.ReasonDisabled {
		t.Errorf("the run-time change was lost on reload: %+v", r)
	}
}

// resolverFunc serves "rollout.<service>" flags from a map of weights.
type resolverFunc map[string]float64

func (m resolverFunc) ResolveFlag(_ context.Context, key string, ec flags.EvalContext) (flags.Result, bool, error) {
	w, ok := m[strings.TrimPrefix(key, "rollout.")]
	if !ok {
		return flags.Result{}, false, nil
	}
	return flags.Result{Value: w, Variant: "canary", Reason: flags.ReasonSplit}, true, nil
}

func (m resolverFunc) DynamicKeys(context.Context) ([]string, error) {
	var keys []string
	for k := range m {
		keys = append(keys, "rollout."+k)
	}
	return keys, nil
}

func TestServiceResolvers(t *testing.T) {
	ctx := context.Background()
	svc, err := flags.NewService(nil, configFlags(t), newClock().Now)
	if err != nil {
		t.Fatal(err)
	}
	svc.AddResolver("rollout.", resolverFunc{"invoice-agent": 10, "triage": 50})
	r := eval(t, svc, "rollout.triage", nil)
	if r.Key != "rollout.triage" || r.Value != 50.0 || r.Reason != flags.ReasonSplit {
		t.Errorf("resolved = %+v", r)
	}
	if _, err := svc.Evaluate(ctx, "rollout.unknown", nil); day2.ErrorCode(err) != day2.ENotFound {
		t.Errorf("unknown computed flag: %v", err)
	}
	all, err := svc.EvaluateAll(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range all {
		keys = append(keys, r.Key)
	}
	if strings.Join(keys, ",") != "model,new-planner,rollout.invoice-agent,rollout.triage" {
		t.Errorf("bulk keys = %v", keys)
	}
	views, _ := svc.List(ctx)
	if len(views) != 4 || views[2].Source != flags.SourceComputed {
		t.Errorf("views = %+v", views)
	}
	if v, err := svc.Get(ctx, "rollout.triage"); err != nil || v.Source != flags.SourceComputed {
		t.Errorf("get computed = %+v, %v", v, err)
	}
	// Without a store nothing can change at run time.
	if _, err := svc.Put(ctx, "a", flags.Flag{Key: "k", State: flags.StateEnabled, DefaultVariant: "a", Variants: map[string]any{"a": 1}}, "r"); day2.ErrorCode(err) != day2.EUnavailable {
		t.Errorf("put without a store: %v", err)
	}
}

func TestNewServiceRejectsInvalidConfig(t *testing.T) {
	_, err := flags.NewService(nil, map[string]flags.Flag{"a": {State: "ON", DefaultVariant: "x", Variants: map[string]any{"x": 1}}}, nil)
	if err == nil || !strings.Contains(err.Error(), `flag "a": unknown state "ON"`) {
		t.Errorf("error = %v", err)
	}
}

func BenchmarkServiceEvaluate(b *testing.B) {
	st, err := sqlite.Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	fs, _ := flags.ParseFlagSet([]byte(`{"flags": {"split": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
	  "targeting": {"if": [{"ends_with": [{"var": "email"}, "@day2.dev"]}, "on", {"fractional": [["on", 10], ["off", 90]]}]}}}}`))
	svc, _ := flags.NewService(st, fs, nil)
	ec := flags.EvalContext{"targetingKey": "user-4711", "email": "ana@example.com"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.Evaluate(ctx, "split", ec); err != nil {
			b.Fatal(err)
		}
	}
}

// TestServiceEvaluatesWhileChanging runs evaluations, bulk evaluations,
// reloads and changes at once; run with -race it checks the snapshot swaps.
func TestServiceEvaluatesWhileChanging(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	svc, err := flags.NewService(openStore(t), configFlags(t), clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r, err := svc.Evaluate(ctx, "model", flags.EvalContext{"targetingKey": fmt.Sprint(g, i)})
				if err != nil || (r.Value != "gpt-small" && r.Value != "gpt-large") {
					t.Errorf("evaluation during changes: %+v, %v", r, err)
					return
				}
				if i%50 == 0 {
					if _, err := svc.EvaluateAll(ctx, nil); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	for i := range 20 {
		v := []string{"small", "large"}[i%2]
		if _, err := svc.Patch(ctx, "op", "model", flags.Patch{DefaultVariant: &v}, "flip"); err != nil {
			t.Fatal(err)
		}
		clk.Advance(flags.RefreshInterval)
		if r := eval(t, svc, "model", nil); r.Variant != v {
			t.Fatalf("after change %d: %+v", i, r)
		}
	}
	close(stop)
	wg.Wait()
}
