package config

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/day2ops/day2/slo"
)

const (
	ratioBody        = "{good: {metricSource: {type: day2, spec: {event: task_success}}}, total: {metricSource: {type: day2, spec: {event: tasks}}}}"
	ratioExample     = "{ratioMetric: " + ratioBody + "}"
	sourceExample    = "metricSource: {type: day2, spec: {event: task_success, environment: prod}}"
	day2SourceHint   = "day2 computes SLIs from its own telemetry; use metricSource type day2, such as " + sourceExample
	conditionExample = "{severity: page, condition: {kind: burnrate, threshold: 14.4, lookbackWindow: 1h, alertAfter: 5m}}"
)

// inlineSpecKeys are the spec keys of the kinds that can be written inline, to
// explain an inline object written without its spec: level.
var inlineSpecKeys = map[string][]string{
	"SLI":                     {"description", "ratioMetric", "thresholdMetric"},
	"AlertPolicy":             {"description", "alertWhenNoData", "alertWhenResolved", "alertWhenBreaching", "conditions", "notificationTargets"},
	"AlertCondition":          {"description", "severity", "condition"},
	"AlertNotificationTarget": {"description", "target"},
}

// taskEvents are the events that count tasks, which have a cycle time.
var taskEvents = []string{slo.EventTasks, slo.EventTaskSuccess, slo.EventTaskFailure, slo.EventEscalated}

// sliDef is an SLI document.
type sliDef struct {
	pos
	ind slo.Indicator
	ok  bool
}

func (l *loader) sliDoc(o *object) {
	ind, ok := l.sliSpec(o.spec)
	if o.name != "" && !o.dup {
		l.slis[o.name] = &sliDef{pos: o.pos, ind: ind, ok: ok}
	}
}

// sliSpec reads an SLI spec. Only ratioMetric with day2 metric sources is valid.
func (l *loader) sliSpec(spec field) (slo.Indicator, bool) {
	before := l.count()
	var ind slo.Indicator
	m, ok := l.mapping(spec.val, spec.line(), "the SLI spec", "spec: "+ratioExample, "description", "thresholdMetric", "ratioMetric")
	if !ok {
		return ind, false
	}
	if d := m["description"]; d.ok() {
		l.text(d, "Share of tasks that succeed")
	}
	if t := m["thresholdMetric"]; t.ok() {
		l.addf(t.line(), "thresholdMetric is not supported: %s, under ratioMetric: good (or bad) and total", day2SourceHint)
	}
	r := m["ratioMetric"]
	if !r.ok() {
		if !m["thresholdMetric"].ok() {
			l.need(r, spec.line(), "the SLI spec needs ratioMetric, such as ratioMetric: %s", ratioBody)
		}
		return ind, false
	}
	rm, ok := l.mapping(r.val, r.line(), "ratioMetric", ratioBody,
		"counter", "good", "bad", "total", "rawType", "raw")
	if !ok {
		return ind, false
	}
	if c := rm["counter"]; c.ok() {
		l.boolean(c) // day2 counts events; counter has no effect.
	}
	for _, k := range []string{"raw", "rawType"} {
		if f := rm[k]; f.ok() {
			l.addf(f.line(), "%s (a precomputed ratio) is not supported: day2 computes the ratio from its own event counts; use good or bad together with total", k)
		}
	}
	good, bad, total := rm["good"], rm["bad"], rm["total"]
	switch {
	case good.ok() && bad.ok():
		l.addf(bad.line(), "ratioMetric has both good and bad; keep one: good counts the events that meet the objective, bad those that do not")
	case good.key == nil && bad.key == nil && !rm["raw"].ok():
		l.addf(r.line(), "ratioMetric needs good (or bad) and total, such as good: {metricSource: {type: day2, spec: {event: task_success}}}")
	}
	if !total.ok() && !rm["raw"].ok() {
		l.need(total, r.line(), "ratioMetric needs total, the events the ratio is taken of, such as total: {metricSource: {type: day2, spec: {event: tasks}}}")
	}
	if good.ok() {
		ind.Good = l.selector(good)
	}
	if bad.ok() {
		ind.Bad = l.selector(bad)
	}
	if total.ok() {
		if s := l.selector(total); s != nil {
			ind.Total = *s
		}
	}
	if l.count() != before {
		return ind, false
	}
	num, word, always := ind.Good, "good", "100%"
	if num == nil {
		num, word, always = ind.Bad, "bad", "0%"
	}
	if *num == ind.Total {
		l.addf(r.line(), "%s and total count the same events, so the SLI would always be %s; %s should count a subset of total, such as task_success of tasks",
			word, always, word)
		return ind, false
	}
	return ind, true
}

// selector reads one of good, bad or total: {metricSource: {type: day2, spec: {...}}}.
func (l *loader) selector(f field) *slo.Selector {
	before := l.count()
	m, ok := l.mapping(f.val, f.line(), f.name(), f.name()+": {"+sourceExample+"}", "metricSource")
	if !ok {
		return nil
	}
	src := m["metricSource"]
	if !src.ok() {
		l.need(src, f.line(), "%s needs metricSource; for example %s: {%s}", f.name(), f.name(), sourceExample)
		return nil
	}
	ms, ok := l.mapping(src.val, src.line(), "metricSource", sourceExample, "metricSourceRef", "type", "spec")
	if !ok {
		return nil
	}
	if ref := ms["metricSourceRef"]; ref.ok() {
		l.addf(ref.line(), "metricSourceRef (a DataSource) is not supported: %s", day2SourceHint)
		return nil
	}
	t := ms["type"]
	if !t.ok() {
		l.need(t, src.line(), "metricSource needs type: day2; %s", day2SourceHint)
		return nil
	}
	if typ, ok := l.text(t, "day2"); !ok {
		return nil
	} else if typ != "day2" {
		l.addf(t.line(), "metricSource type %s is not supported: %s", quote(typ), day2SourceHint)
		return nil
	}
	spec := ms["spec"]
	if !spec.ok() {
		l.need(spec, src.line(), "metricSource needs spec: with the event to count, such as spec: {event: task_success}; events are %s", strings.Join(slo.Events, ", "))
		return nil
	}
	sm, ok := l.mapping(spec.val, spec.line(), "the day2 metricSource spec", "spec: {event: task_success, environment: prod}",
		"event", "environment", "version", "risk_tier", "business_process", "cycle_time_ms_lte")
	if !ok {
		return nil
	}
	sel := &slo.Selector{}
	if e := sm["event"]; !e.ok() {
		l.need(e, spec.line(), "the metricSource spec needs event:, one of %s", strings.Join(slo.Events, ", "))
	} else if name, ok := l.text(e, "task_success"); ok {
		if !slices.Contains(slo.Events, name) {
			hint := ""
			if s := suggest(name, slo.Events); s != "" {
				hint = fmt.Sprintf("did you mean %s? ", s)
			}
			l.addf(e.line(), "unknown event %s; %svalid events are %s", quote(name), hint, strings.Join(slo.Events, ", "))
		}
		sel.Event = name
	}
	for _, filter := range []struct {
		key, example string
		dst          *string
	}{
		{"environment", "prod", &sel.Filter.Environment},
		{"version", "v2", &sel.Filter.Version},
		{"risk_tier", "high", &sel.Filter.RiskTier},
		{"business_process", "refunds", &sel.Filter.BusinessProcess},
	} {
		if v := sm[filter.key]; v.ok() {
			*filter.dst, _ = l.text(v, filter.example)
		}
	}
	if c := sm["cycle_time_ms_lte"]; c.ok() {
		if ms, ok := l.integer(c, "120000 (two minutes)"); ok {
			if ms <= 0 {
				l.addf(c.line(), "cycle_time_ms_lte must be a positive number of milliseconds, such as 120000 (two minutes)")
			}
			sel.CycleTimeLTE = ms
		}
		if sel.Event != "" && !slices.Contains(taskEvents, sel.Event) {
			l.addf(c.line(), "cycle_time_ms_lte applies to events that count tasks (%s), not to %s", strings.Join(taskEvents, ", "), sel.Event)
		}
	}
	if l.count() != before {
		return nil
	}
	return sel
}

// sloDef is an SLO document before its references are resolved.
type sloDef struct {
	pos
	name, service, description string
	ind                        *slo.Indicator // inline indicator
	indRef                     string
	indRefLine                 int
	window                     slo.TimeWindow
	method                     slo.BudgetingMethod
	objectives                 []objectiveDef
	policies                   []policyUse
	ok                         bool
}

// objectiveDef is one entry of an SLO's objectives.
type objectiveDef struct {
	line     int
	label    string // displayName made a name, or the 1-based index
	target   float64
	tsTarget float64
	tsWindow time.Duration
}

// policyUse is one entry of an SLO's alertPolicies: a reference or an inline policy.
type policyUse struct {
	ref    string
	line   int
	inline *policyDef
}

func (l *loader) sloDoc(o *object) {
	before := l.count()
	s := &sloDef{pos: o.pos, name: o.name}
	m, ok := l.mapping(o.spec.val, o.spec.line(), "the SLO spec", "", "description", "service", "indicator", "indicatorRef",
		"timeWindow", "budgetingMethod", "objectives", "alertPolicies")
	if !ok {
		return
	}
	if d := m["description"]; d.ok() {
		s.description, _ = l.text(d, "Checkout tasks succeed")
	}
	if f := m["service"]; !f.ok() {
		l.need(f, o.spec.line(), "the SLO spec needs service:, the agent service as it reports service.name, such as service: checkout-agent")
	} else if svc, ok := l.text(f, "checkout-agent"); ok && l.checkService(f.line(), svc) {
		s.service = svc
	}

	ind, ref := m["indicator"], m["indicatorRef"]
	switch {
	case ind.ok() && ref.ok():
		l.addf(ref.line(), "the SLO has both indicator and indicatorRef; keep one: indicator defines the SLI here, indicatorRef names an SLI document")
	case ind.ok():
		if io, ok := l.inline(ind, "SLI", "indicator: {metadata: {name: task-success}, spec: "+ratioExample+"}"); ok {
			if i, ok := l.sliSpec(io.spec); ok {
				s.ind = &i
			}
		}
	case ref.ok():
		if name, ok := l.text(ref, "task-success"); ok {
			s.indRef, s.indRefLine = name, ref.line()
		}
	case ind.key == nil && ref.key == nil:
		l.addf(o.spec.line(), "the SLO spec needs indicatorRef: (the name of an SLI document) or indicator: (an SLI written here, with metadata and spec)")
	}

	if f := m["timeWindow"]; !f.ok() {
		l.need(f, o.spec.line(), "the SLO spec needs %s (or a calendar window, such as [{duration: 1M, isRolling: false, %s}])", timeWindowExample, calendarExample)
	} else if items, ok := l.list(f, timeWindowExample); ok {
		if len(items) != 1 {
			l.addf(f.line(), "timeWindow must hold exactly one window, not %d; for example %s", len(items), timeWindowExample)
		} else {
			s.window, _ = l.timeWindow(field{key: items[0], val: items[0]})
		}
	}

	if f := m["budgetingMethod"]; !f.ok() {
		l.need(f, o.spec.line(), "the SLO spec needs budgetingMethod: Occurrences (the share of good events) or Timeslices (the share of good time slices)")
	} else if bm, ok := l.text(f, "Occurrences"); ok {
		switch bm {
		case string(slo.Occurrences), string(slo.Timeslices):
			s.method = slo.BudgetingMethod(bm)
		case "RatioTimeslices":
			l.addf(f.line(), "budgetingMethod RatioTimeslices is not supported yet; use Occurrences or Timeslices")
		default:
			hint := ""
			if sug := suggest(bm, []string{"Occurrences", "Timeslices"}); sug != "" {
				hint = fmt.Sprintf(" (did you mean %s? The value is case-sensitive)", sug)
			}
			l.addf(f.line(), "unknown budgetingMethod %s%s; use Occurrences or Timeslices", quote(bm), hint)
		}
	}

	if f := m["objectives"]; !f.ok() {
		l.need(f, o.spec.line(), "the SLO spec needs objectives:, such as objectives: [{target: 0.99}]")
	} else if items, ok := l.list(f, "objectives: [{target: 0.99}]"); ok {
		if len(items) == 0 {
			l.addf(f.line(), "objectives is empty; add one, such as objectives: [{target: 0.99}]")
		}
		labels := map[string]int{}
		for i, item := range items {
			obj, ok := l.objective(field{key: f.key, val: item}, i, s)
			if !ok {
				continue
			}
			if len(items) > 1 {
				if first, dup := labels[obj.label]; dup {
					l.addf(obj.line, "two objectives would both be named %s-%s (the other is at line %d); give them different displayNames", s.name, obj.label, first)
					continue
				}
				labels[obj.label] = obj.line
			}
			s.objectives = append(s.objectives, obj)
		}
	}

	if f := m["alertPolicies"]; f.ok() {
		s.policies = l.policyUses(f, s.name)
	}
	s.ok = l.count() == before
	if !o.dup {
		l.slos = append(l.slos, s)
	}
}

// checkService reports a service name day2 cannot use in SLO names.
func (l *loader) checkService(line int, s string) bool {
	switch {
	case strings.TrimSpace(s) != s:
		l.addf(line, "service %s has leading or trailing spaces; remove them", quote(s))
	case strings.Contains(s, "/"):
		l.addf(line, "service %s contains /, which day2 uses to separate service and SLO names; use the service.name of the agent", quote(s))
	case len(s) > 255:
		l.addf(line, "service is %d characters long; keep it to 255", len(s))
	default:
		return true
	}
	return false
}

// objective reads one objectives entry of SLO s; i is its index.
func (l *loader) objective(f field, i int, s *sloDef) (objectiveDef, bool) {
	before := l.count()
	obj := objectiveDef{line: f.val.Line, label: fmt.Sprint(i + 1)}
	m, ok := l.mapping(f.val, f.val.Line, "an objective", "{target: 0.99}",
		"displayName", "op", "value", "target", "targetPercent", "timeSliceTarget", "timeSliceWindow")
	if !ok {
		return obj, false
	}
	if d := m["displayName"]; d.ok() {
		if name, ok := l.text(d, "Fast tasks"); ok {
			if label := slug(name); label != "" {
				obj.label = label
			}
		}
	}
	for _, k := range []string{"op", "value"} {
		if v := m[k]; v.ok() {
			l.addf(v.line(), "%s applies to thresholdMetric SLIs, which day2 does not support; a ratio SLI needs only target (or targetPercent)", k)
		}
	}
	t, tp := m["target"], m["targetPercent"]
	switch {
	case t.ok() && tp.ok():
		l.addf(tp.line(), "the objective has both target and targetPercent; keep one (target: 0.999 is targetPercent: 99.9)")
	case t.ok():
		if x, ok := l.number(t, "0.999"); ok {
			switch {
			case x > 1 && x < 100:
				l.addf(t.line(), "target must be a fraction like 0.999; did you mean targetPercent: %s?", fmtFloat(x))
			case x == 1:
				l.addf(t.line(), "target 1 (100%%) leaves no error budget; use a fraction below 1, such as 0.999")
			case x < 0 || x >= 1:
				l.addf(t.line(), "target must be a fraction from 0 up to (not including) 1, such as 0.999")
			}
			obj.target = x
		}
	case tp.ok():
		if x, ok := l.number(tp, "99.9"); ok {
			switch {
			case x == 100:
				l.addf(tp.line(), "targetPercent 100 leaves no error budget; use a value below 100, such as 99.9")
			case x < 0 || x >= 100:
				l.addf(tp.line(), "targetPercent must be from 0 up to (not including) 100, such as 99.9")
			case x > 0 && x < 1:
				l.addf(tp.line(), "targetPercent %s means %s%%; if you meant %s%%, write target: %s or targetPercent: %s", fmtFloat(x), fmtFloat(x), fmtFloat(x*100), fmtFloat(x), fmtFloat(x*100))
			}
			obj.target = round12(x / 100)
		}
	case t.key == nil && tp.key == nil:
		l.addf(f.val.Line, "the objective needs target (a fraction, such as target: 0.99) or targetPercent (such as targetPercent: 99)")
	}

	tst, tsw := m["timeSliceTarget"], m["timeSliceWindow"]
	switch s.method {
	case slo.Timeslices:
		if !tst.ok() {
			l.need(tst, f.val.Line, "with budgetingMethod Timeslices the objective needs timeSliceTarget, the share of good events that makes a slice good, such as timeSliceTarget: 0.95")
		}
		if !tsw.ok() {
			l.need(tsw, f.val.Line, "with budgetingMethod Timeslices the objective needs timeSliceWindow, the length of a slice, such as timeSliceWindow: 5m")
		}
	case slo.Occurrences:
		for _, x := range []field{tst, tsw} {
			if x.ok() {
				l.addf(x.line(), "%s applies only to budgetingMethod: Timeslices; remove it or change budgetingMethod", x.name())
			}
		}
	}
	if tst.ok() {
		if x, ok := l.number(tst, "0.95"); ok {
			if x <= 0 || x > 1 {
				l.addf(tst.line(), "timeSliceTarget must be a fraction above 0 and at most 1, such as 0.95")
			}
			obj.tsTarget = x
		}
	}
	if tsw.ok() {
		obj.tsWindow = l.sliceWindow(tsw, s.window)
	}
	return obj, l.count() == before
}

// sliceWindow reads timeSliceWindow: a duration, or a number of minutes.
func (l *loader) sliceWindow(f field, w slo.TimeWindow) time.Duration {
	v := l.deref(f.val)
	var d time.Duration
	if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!int" {
		n, ok := l.integer(f, "5m")
		if !ok {
			return 0
		}
		if n <= 0 || n > 1e6 {
			l.addf(f.line(), "timeSliceWindow must be a positive number of minutes or a duration, such as 5m")
			return 0
		}
		d = time.Duration(n) * time.Minute
	} else {
		sh, ok := l.duration(f, "5m", false)
		if !ok {
			return 0
		}
		d = sh.d
	}
	if w.Duration > 0 && d >= w.Duration {
		l.addf(f.line(), "timeSliceWindow %s must be shorter than the SLO's time window %s", human(d), w.Text)
		return 0
	}
	return d
}

// slug turns a displayName into a name part: lowercase letters, digits and -.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.TrimSuffix(b.String(), "-")
	if len(out) > 63 {
		out = strings.TrimSuffix(out[:63], "-")
	}
	return out
}

func fmtFloat(x float64) string {
	return fmt.Sprint(round12(x))
}

// policyUses reads an SLO's alertPolicies: names, {alertPolicyRef: name} or
// inline AlertPolicy objects, which are named "<slo>-policy-<n>" when they
// have no metadata.name.
func (l *loader) policyUses(f field, sloName string) []policyUse {
	items, ok := l.list(f, "alertPolicies: [{alertPolicyRef: checkout-burn}]")
	if !ok {
		return nil
	}
	if len(items) == 0 {
		l.addf(f.line(), "alertPolicies is empty; list the policies, or remove alertPolicies to alert with day2's default burn-rate windows")
		return nil
	}
	var out []policyUse
	seen := map[string]int{}
	for i, item := range items {
		u := policyUse{line: item.Line}
		ref, isRef := l.refItem(item, "alertPolicyRef", "checkout-burn")
		if isRef {
			if ref == "" {
				continue
			}
			if first, dup := seen[ref]; dup {
				l.addf(item.Line, "alert policy %q is listed twice (first at line %d)", ref, first)
				continue
			}
			seen[ref] = item.Line
			u.ref = ref
		} else {
			o, ok := l.inline(field{key: item, val: item}, "AlertPolicy", "{kind: AlertPolicy, metadata: {name: fast-burn}, spec: {conditions: [{conditionRef: fast-burn}]}}")
			if !ok {
				continue
			}
			if o.name == "" {
				o.name = fmt.Sprintf("%s-policy-%d", sloName, i+1)
			}
			u.inline = l.alertPolicySpec(o)
			l.inlinePols = append(l.inlinePols, u.inline)
		}
		out = append(out, u)
	}
	return out
}

// refItem reads a list item that refers to a document by name: the name itself,
// or {refKey: name}. It returns isRef false for other mappings (inline objects).
// A reference with a problem has an empty name.
func (l *loader) refItem(item *yaml.Node, refKey, example string) (string, bool) {
	if item.Kind == yaml.ScalarNode {
		name, ok := l.text(field{key: &yaml.Node{Value: "each item", Line: item.Line}, val: item}, example)
		if !ok {
			return "", true
		}
		return name, true
	}
	if item.Kind != yaml.MappingNode {
		l.addf(item.Line, "each item must be a name, {%s: name} or an inline object, not %s", refKey, describe(item))
		return "", true
	}
	hasRef := false
	for i := 0; i+1 < len(item.Content); i += 2 {
		if k := l.deref(item.Content[i]); k.Kind == yaml.ScalarNode && k.Value == refKey {
			hasRef = true
		}
	}
	if !hasRef {
		return "", false
	}
	m, ok := l.mapping(item, item.Line, "a reference ("+refKey+" alone; write other settings in the referenced document)", "", refKey)
	if !ok || !m[refKey].ok() {
		return "", true
	}
	name, _ := l.text(m[refKey], example)
	return name, true
}

// policyDef is an AlertPolicy, from a document or inline in an SLO.
type policyDef struct {
	pos
	name    string
	conds   []condUse
	targets []string
	ok      bool
	// resolved are the conditions after resolution; nil when one is missing or broken.
	resolved []*conditionDef
}

// condUse is one entry of a policy's conditions.
type condUse struct {
	ref    string
	line   int
	inline *conditionDef
}

func (l *loader) alertPolicyDoc(o *object) {
	p := l.alertPolicySpec(o)
	if o.name != "" && !o.dup {
		l.policies[o.name] = p
	}
}

func (l *loader) alertPolicySpec(o *object) *policyDef {
	before := l.count()
	p := &policyDef{pos: o.pos, name: o.name}
	m, ok := l.mapping(o.spec.val, o.spec.line(), "the AlertPolicy spec", "", "description", "alertWhenNoData", "alertWhenResolved",
		"alertWhenBreaching", "conditions", "notificationTargets")
	if !ok {
		return p
	}
	if d := m["description"]; d.ok() {
		l.text(d, "Page on fast burn")
	}
	if f := m["alertWhenBreaching"]; f.ok() {
		if b, ok := l.boolean(f); ok && !b {
			l.addf(f.line(), "day2 always alerts when a condition breaches; remove alertWhenBreaching: false (or the policy)")
		}
	}
	if f := m["alertWhenNoData"]; f.ok() {
		if b, ok := l.boolean(f); ok && b {
			l.addf(f.line(), "day2 does not alert on missing data: an empty window has no SLI, not a bad one; remove alertWhenNoData: true")
		}
	}
	if f := m["alertWhenResolved"]; f.ok() {
		l.boolean(f) // day2 records resolution either way.
	}
	if f := m["conditions"]; !f.ok() {
		l.need(f, o.spec.line(), "the AlertPolicy spec needs conditions:, such as conditions: [{conditionRef: fast-burn}]")
	} else if items, ok := l.list(f, "conditions: [{conditionRef: fast-burn}]"); ok {
		if len(items) == 0 {
			l.addf(f.line(), "conditions is empty; add one, such as conditions: [{conditionRef: fast-burn}]")
		}
		seen := map[string]int{}
		for i, item := range items {
			u := condUse{line: item.Line}
			ref, isRef := l.refItem(item, "conditionRef", "fast-burn")
			if isRef {
				if ref == "" {
					continue
				}
				if first, dup := seen[ref]; dup {
					l.addf(item.Line, "condition %q is listed twice (first at line %d)", ref, first)
					continue
				}
				seen[ref] = item.Line
				u.ref = ref
			} else {
				co, ok := l.inline(field{key: item, val: item}, "AlertCondition", "{kind: AlertCondition, metadata: {name: fast-burn}, spec: "+conditionExample+"}")
				if !ok {
					continue
				}
				if co.name == "" {
					name := p.name
					if name == "" {
						name = "inline"
					}
					co.name = fmt.Sprintf("%s-%d", name, i+1)
				}
				u.inline = l.alertConditionSpec(co)
			}
			p.conds = append(p.conds, u)
		}
	}
	if f := m["notificationTargets"]; f.ok() {
		p.targets = l.targetUses(f)
	}
	p.ok = l.count() == before
	return p
}

// targetUses reads notificationTargets and returns the targets' names.
func (l *loader) targetUses(f field) []string {
	items, ok := l.list(f, "notificationTargets: [{targetRef: on-call}]")
	if !ok {
		return nil
	}
	var names []string
	for _, item := range items {
		ref, isRef := l.refItem(item, "targetRef", "on-call")
		if !isRef {
			o, ok := l.inline(field{key: item, val: item}, "AlertNotificationTarget", "{kind: AlertNotificationTarget, metadata: {name: on-call}, spec: {target: slack}}")
			if !ok {
				continue
			}
			if o.name == "" {
				l.addf(item.Line, "an inline notification target needs metadata: {name: ...}, the name day2 routes alerts by")
				continue
			}
			if t, ok := l.targetSpec(o); ok && !slices.ContainsFunc(l.cfg.NotificationTargets, func(x NotificationTarget) bool { return x.Name == t.Name }) {
				l.cfg.NotificationTargets = append(l.cfg.NotificationTargets, t)
			}
			ref = o.name
		}
		if ref != "" && !slices.Contains(names, ref) {
			names = append(names, ref)
		}
	}
	return names
}

// conditionDef is an AlertCondition.
type conditionDef struct {
	pos
	cond      AlertCondition
	minEvents int // 0: not set
	ok        bool
}

func (l *loader) alertConditionDoc(o *object) {
	c := l.alertConditionSpec(o)
	if o.name != "" && !o.dup {
		l.conditions[o.name] = c
	}
}

// severities maps the severities people write to day2's two.
var severities = map[string]slo.Severity{
	"page": slo.Page, "critical": slo.Page, "high": slo.Page,
	"ticket": slo.Ticket, "warning": slo.Ticket, "medium": slo.Ticket, "low": slo.Ticket,
}

func (l *loader) alertConditionSpec(o *object) *conditionDef {
	before := l.count()
	c := &conditionDef{pos: o.pos, cond: AlertCondition{Name: o.name, Op: "gte", Source: o.pos.String()}}
	m, ok := l.mapping(o.spec.val, o.spec.line(), "the AlertCondition spec", "spec: "+conditionExample, "description", "severity", "condition")
	if !ok {
		return c
	}
	if d := m["description"]; d.ok() {
		l.text(d, "Fast burn")
	}
	if f := m["severity"]; !f.ok() {
		l.need(f, o.spec.line(), "the AlertCondition spec needs severity: page (wake someone up) or ticket (look at it in working hours)")
	} else if s, ok := l.text(f, "page"); ok {
		sev, known := severities[strings.ToLower(s)]
		if !known {
			l.addf(f.line(), "unknown severity %s; use page or ticket (critical and high mean page; warning, medium and low mean ticket)", quote(s))
		}
		c.cond.Pair.Severity = sev
	}
	cf := m["condition"]
	if !cf.ok() {
		l.need(cf, o.spec.line(), "the AlertCondition spec needs condition:, such as condition: {kind: burnrate, threshold: 14.4, lookbackWindow: 1h, alertAfter: 5m}")
		return c
	}
	cm, ok := l.mapping(cf.val, cf.line(), "condition", "condition: {kind: burnrate, threshold: 14.4, lookbackWindow: 1h}",
		"kind", "op", "threshold", "lookbackWindow", "alertAfter", "day2")
	if !ok {
		return c
	}
	if f := cm["kind"]; f.ok() {
		if k, ok := l.text(f, "burnrate"); ok && k != "burnrate" {
			l.addf(f.line(), "condition kind %s is not supported; day2 alerts on burn rates: kind: burnrate", quote(k))
		}
	}
	if f := cm["op"]; f.ok() {
		if op, ok := l.text(f, "gte"); ok {
			switch op {
			case "gte", "gt":
				c.cond.Op = op
			case "lt", "lte":
				l.addf(f.line(), "op %s would alert while the budget is spent slowly; a burn-rate alert fires at or above the threshold: use gte (or gt)", op)
			default:
				l.addf(f.line(), "unknown op %s; use gte (at or above the threshold) or gt (above it)", quote(op))
			}
		}
	}
	if f := cm["threshold"]; !f.ok() {
		l.need(f, cf.line(), "condition needs threshold:, the burn rate to alert at, such as threshold: 14.4 (2%% of a 30-day budget in 1h)")
	} else if x, ok := l.number(f, "14.4"); ok {
		if x <= 0 {
			l.addf(f.line(), "threshold must be a burn rate above 0, such as 14.4; a burn rate of 1 spends the budget exactly over the SLO window")
		}
		c.cond.Pair.Threshold = x
	}
	var long shorthand
	if f := cm["lookbackWindow"]; !f.ok() {
		l.need(f, cf.line(), "condition needs lookbackWindow:, the window the burn rate is measured over, such as lookbackWindow: 1h")
	} else {
		long, _ = l.duration(f, "1h", false)
		c.cond.Pair.Long = long.d
	}
	if f := cm["alertAfter"]; f.ok() {
		if d, ok := l.duration(f, "5m", true); ok {
			c.cond.AlertAfter = d.d
		}
	}
	if f := cm["day2"]; f.ok() {
		dm, ok := l.mapping(f.val, f.line(), "the day2 extension of condition", "day2: {shortWindow: 5m, minEvents: 20}", "shortWindow", "minEvents")
		if ok {
			if s := dm["shortWindow"]; s.ok() {
				if d, ok := l.duration(s, "5m", false); ok {
					if long.d > 0 && d.d > long.d {
						l.addf(s.line(), "shortWindow %s is longer than lookbackWindow %s; the short window confirms the long one and must not be longer (the usual choice is 1/12 of it)", d.text, long.text)
					}
					c.cond.Pair.Short = d.d
				}
			}
			if n := dm["minEvents"]; n.ok() {
				if x, ok := l.integer(n, "20"); ok {
					if x < 1 || x > math.MaxInt32 {
						l.addf(n.line(), "minEvents must be a whole number of at least 1, such as 20")
					} else {
						c.minEvents = int(x)
					}
				}
			}
		}
	}
	if c.cond.Pair.Short == 0 && long.d > 0 {
		c.cond.Pair.Short = max(long.d/12/time.Minute*time.Minute, time.Minute)
	}
	c.ok = l.count() == before
	return c
}

func (l *loader) serviceDoc(o *object) {
	before := l.count()
	svc := Service{Name: o.name, DisplayName: o.displayName, Source: o.pos.String()}
	if !isNull(l.deref(o.spec.val)) {
		if m, ok := l.mapping(o.spec.val, o.spec.line(), "the Service spec", "spec: {description: Checkout agent}", "description"); ok {
			if d := m["description"]; d.ok() {
				svc.Description, _ = l.text(d, "Checkout agent")
			}
		}
	}
	if o.name != "" && !o.dup && l.count() == before {
		l.cfg.Services = append(l.cfg.Services, svc)
	}
}

func (l *loader) notificationTargetDoc(o *object) {
	t, ok := l.targetSpec(o)
	if ok && o.name != "" && !o.dup {
		l.cfg.NotificationTargets = append(l.cfg.NotificationTargets, t)
	}
}

func (l *loader) targetSpec(o *object) (NotificationTarget, bool) {
	before := l.count()
	t := NotificationTarget{Name: o.name, DisplayName: o.displayName, Source: o.pos.String()}
	m, ok := l.mapping(o.spec.val, o.spec.line(), "the AlertNotificationTarget spec", "spec: {target: slack, description: On-call channel}", "target", "description")
	if !ok {
		return t, false
	}
	f := m["target"]
	if f.ok() {
		t.Target, _ = l.text(f, "slack")
	} else {
		l.need(f, o.spec.line(), "the AlertNotificationTarget spec needs target:, such as target: slack")
	}
	if f := m["description"]; f.ok() {
		t.Description, _ = l.text(f, "On-call channel")
	}
	return t, l.count() == before
}

// dataSourceDoc accepts a DataSource: day2 reads its own telemetry and never
// connects to one, so its spec (often with credentials) is not read at all.
func (l *loader) dataSourceDoc(*object) {}
