package release

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/canary"
)

// Record kinds of rollouts and of the version each service and environment
// serves when no rollout is active.
const (
	// KindRollout records are rollouts; ID is the rollout id, Key is
	// service + "/" + environment while the rollout is active (so only one can
	// be), State is the rollout's state and Due its next judge look.
	KindRollout = "rollout"
	// KindCurrent records (ID service + "/" + environment) hold the version a
	// service serves outside rollouts: the last promoted candidate, or the
	// baseline of the last rolled-back rollout.
	KindCurrent = "release_current"
)

// Rollout states. Running and paused rollouts are active; promoted and
// rolled_back are final.
const (
	StateRunning    = "running"
	StatePaused     = "paused"
	StatePromoted   = "promoted"
	StateRolledBack = "rolled_back"
)

// Strategy types.
const (
	// StrategyCanary sends a growing percentage of traffic to the candidate.
	StrategyCanary = "canary"
	// StrategyRings serves the candidate to ever wider rings of targeting rules.
	StrategyRings = "rings"
	// StrategyShadow runs the candidate beside the baseline on a share of
	// traffic without using its outcome; it promotes only by hand.
	StrategyShadow = "shadow"
)

// Arms of an assignment.
const (
	ArmBaseline  = "baseline"
	ArmCandidate = "candidate"
	// ArmShadow means: serve the baseline (the assignment's version) for the
	// real outcome and run the candidate beside it, marked as shadow.
	ArmShadow = "shadow"
)

// Actions of Act.
const (
	ActionPause    = "pause"
	ActionResume   = "resume"
	ActionPromote  = "promote"
	ActionRollback = "rollback"
)

// History entry types (besides the Event types, which are a subset).
const (
	HistoryStarted    = "started"
	HistoryAdvanced   = "advanced"
	HistoryPaused     = "paused"
	HistoryResumed    = "resumed"
	HistoryPromoted   = "promoted"
	HistoryRolledBack = "rolled_back"
	HistoryHeld       = "held"
	HistoryWeightSet  = "weight_set"
)

// JudgeActor is the actor the judge loop writes history and audit entries as.
const JudgeActor = "day2-judge"

// Defaults and limits of a rollout.
const (
	DefaultStepDuration  = 10 * time.Minute
	DefaultMinSamples    = 100
	DefaultJudgeInterval = time.Minute
	// MaxVerdicts is how many judge reports a rollout keeps, newest first.
	MaxVerdicts = 50
	maxSteps    = 20
	maxRings    = 10
	maxHistory  = 200
)

// DefaultCanarySteps are the candidate percentages of a canary without steps.
var DefaultCanarySteps = []int{5, 25, 50, 100}

// Strategy says how a rollout exposes the candidate.
type Strategy struct {
	// Type is canary (the default), rings or shadow.
	Type string `json:"type"`
	// Steps are a canary's candidate percentages, strictly increasing from 1 to
	// 100; passing the last step promotes.
	Steps []int `json:"steps,omitempty"`
	// Rings are a rings rollout's rings, narrowest first.
	Rings []Ring `json:"rings,omitempty"`
	// Share is the percentage of a shadow rollout's traffic that also runs the
	// candidate.
	Share int `json:"share,omitempty"`
	// StepDuration is the least time a step lasts before it may advance.
	StepDuration day2.Duration `json:"step_duration,omitempty"`
	// MinSamples is the least number of finished candidate tasks a step needs
	// before it may advance.
	MinSamples int64 `json:"min_samples,omitempty"`
}

// Ring is one ring of a rings rollout: targeting rules on context attributes.
// A key is in the ring when, for every attribute of Match, its value is one of
// the listed values; an empty Match holds everyone.
type Ring struct {
	Name  string              `json:"name"`
	Match map[string][]string `json:"match"`
}

// Matches reports whether attrs satisfy every rule of the ring.
func (r *Ring) Matches(attrs map[string]string) bool {
	for k, vals := range r.Match {
		v, ok := attrs[k]
		if !ok || !slices.Contains(vals, v) {
			return false
		}
	}
	return true
}

// JudgeConfig is how often the judge looks and the thresholds it applies. In
// JSON, interval and the canary.Thresholds fields sit side by side in one object.
type JudgeConfig struct {
	Interval   day2.Duration
	Thresholds canary.Thresholds
}

// MarshalJSON writes interval and the thresholds' fields in one object.
func (j JudgeConfig) MarshalJSON() ([]byte, error) {
	raw, err := json.Marshal(j.Thresholds)
	if err != nil {
		return nil, err
	}
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	if j.Interval != 0 {
		m["interval"] = mustJSON(j.Interval)
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads interval and the thresholds' fields from one object and
// refuses unknown fields.
func (j *JudgeConfig) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*j = JudgeConfig{}
	if iv, ok := m["interval"]; ok {
		if err := json.Unmarshal(iv, &j.Interval); err != nil {
			return fmt.Errorf("judge interval: %w", err)
		}
		delete(m, "interval")
	}
	rest, err := json.Marshal(m)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(rest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j.Thresholds); err != nil {
		return fmt.Errorf("judge: %w", err)
	}
	return nil
}

// StartRequest is the body of a request to start a rollout.
type StartRequest struct {
	Service     string      `json:"service"`
	Environment string      `json:"environment,omitempty"`
	Baseline    string      `json:"baseline"`
	Candidate   string      `json:"candidate"`
	Strategy    Strategy    `json:"strategy"`
	Judge       JudgeConfig `json:"judge"`
	Reason      string      `json:"reason,omitempty"`
}

// ParseStartRequest decodes a StartRequest from JSON, refusing unknown fields.
// It does not apply defaults or validate: StartRollout does.
func ParseStartRequest(doc []byte) (StartRequest, error) {
	var req StartRequest
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return StartRequest{}, day2.Errorf(day2.EInvalid, "rollout request is not valid JSON (%v); send {\"service\": \"S\", \"environment\": \"prod\", \"baseline\": \"2.3.1\", \"candidate\": \"2.4.0\", \"strategy\": {\"type\": \"canary\", \"steps\": [5, 25, 50, 100]}}", err)
	}
	if dec.More() {
		return StartRequest{}, day2.Errorf(day2.EInvalid, "rollout request has more than one JSON document; send one object")
	}
	return req, nil
}

var nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]*$`)

// validName checks a service, environment or ring name: these are parts of
// record ids and keys, so they may not contain "/", "@" or spaces.
func validName(field, s string) error {
	if s == "" {
		return day2.Errorf(day2.EInvalid, "%s is required", field)
	}
	if len(s) > 200 || !nameRe.MatchString(s) {
		return day2.Errorf(day2.EInvalid, "%s %q is not a valid name; use letters, digits, '.', '_', ':' and '-' (at most 200 characters, starting with a letter or digit)", field, s)
	}
	return nil
}

// validVersionLabel checks a baseline or candidate: any version label the
// agents report (it need not be registered), without spaces or control
// characters.
func validVersionLabel(field, s string) error {
	if s == "" {
		return day2.Errorf(day2.EInvalid, "%s is required: the version label the agents report as service.version (e.g. 2.4.0)", field)
	}
	if len(s) > 128 || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return day2.Errorf(day2.EInvalid, "%s %q is not a valid version label; use at most 128 characters without spaces", field, s)
	}
	return nil
}

// normalize applies the defaults to req and checks every field.
func (req *StartRequest) normalize() error {
	if err := validName("service", req.Service); err != nil {
		return err
	}
	if req.Environment == "" {
		req.Environment = "prod"
	}
	if err := validName("environment", req.Environment); err != nil {
		return err
	}
	if err := validVersionLabel("baseline", req.Baseline); err != nil {
		return err
	}
	if err := validVersionLabel("candidate", req.Candidate); err != nil {
		return err
	}
	if req.Baseline == req.Candidate {
		return day2.Errorf(day2.EInvalid, "baseline and candidate are both %q; a rollout moves traffic from one version to another", req.Baseline)
	}
	st := &req.Strategy
	if st.Type == "" {
		st.Type = StrategyCanary
	}
	switch st.Type {
	case StrategyCanary:
		if len(st.Rings) > 0 || st.Share != 0 {
			return day2.Errorf(day2.EInvalid, "strategy canary takes steps, not rings or share")
		}
		if len(st.Steps) == 0 {
			st.Steps = slices.Clone(DefaultCanarySteps)
		}
		if len(st.Steps) > maxSteps {
			return day2.Errorf(day2.EInvalid, "strategy has %d steps; at most %d are allowed", len(st.Steps), maxSteps)
		}
		for i, w := range st.Steps {
			if w < 1 || w > 100 {
				return day2.Errorf(day2.EInvalid, "strategy steps[%d] is %d; steps are candidate percentages from 1 to 100 (e.g. [5, 25, 50, 100])", i, w)
			}
			if i > 0 && w <= st.Steps[i-1] {
				return day2.Errorf(day2.EInvalid, "strategy steps must increase strictly; steps[%d]=%d follows %d (e.g. [5, 25, 50, 100])", i, w, st.Steps[i-1])
			}
		}
	case StrategyRings:
		if len(st.Steps) > 0 || st.Share != 0 {
			return day2.Errorf(day2.EInvalid, "strategy rings takes rings, not steps or share")
		}
		if len(st.Rings) == 0 {
			return day2.Errorf(day2.EInvalid, `strategy rings needs rings, narrowest first, e.g. [{"name": "internal", "match": {"tenant": ["contoso-it"]}}, {"name": "org", "match": {}}]`)
		}
		if len(st.Rings) > maxRings {
			return day2.Errorf(day2.EInvalid, "strategy has %d rings; at most %d are allowed", len(st.Rings), maxRings)
		}
		seen := map[string]bool{}
		for i := range st.Rings {
			r := &st.Rings[i]
			if err := validName(fmt.Sprintf("rings[%d].name", i), r.Name); err != nil {
				return err
			}
			if seen[r.Name] {
				return day2.Errorf(day2.EInvalid, "ring name %q is used twice; ring names must be unique", r.Name)
			}
			seen[r.Name] = true
			if len(r.Match) == 0 && i != len(st.Rings)-1 {
				return day2.Errorf(day2.EInvalid, "ring %q has an empty match, which holds everyone; only the last ring may", r.Name)
			}
			if r.Match == nil {
				r.Match = map[string][]string{}
			}
			for k, vals := range r.Match {
				if strings.TrimSpace(k) == "" {
					return day2.Errorf(day2.EInvalid, "ring %q matches an empty attribute name", r.Name)
				}
				if len(vals) == 0 {
					return day2.Errorf(day2.EInvalid, "ring %q: attribute %q lists no values; list the values that are in the ring, e.g. {\"%s\": [\"contoso-it\"]}", r.Name, k, k)
				}
			}
		}
	case StrategyShadow:
		if len(st.Steps) > 0 || len(st.Rings) > 0 {
			return day2.Errorf(day2.EInvalid, "strategy shadow takes share, not steps or rings")
		}
		if st.Share < 1 || st.Share > 100 {
			return day2.Errorf(day2.EInvalid, "strategy shadow share is %d; give the percentage of traffic that also runs the candidate, 1 to 100 (e.g. \"share\": 20)", st.Share)
		}
	default:
		return day2.Errorf(day2.EInvalid, "strategy type %q is unknown; use canary, rings or shadow", st.Type)
	}
	if st.StepDuration < 0 {
		return day2.Errorf(day2.EInvalid, "strategy step_duration is negative")
	}
	if st.StepDuration == 0 {
		st.StepDuration = day2.Duration(DefaultStepDuration)
	}
	if st.StepDuration.D() > 30*24*time.Hour {
		return day2.Errorf(day2.EInvalid, "strategy step_duration %s is longer than 30d", st.StepDuration)
	}
	if st.MinSamples < 0 {
		return day2.Errorf(day2.EInvalid, "strategy min_samples is %d; give the least number of finished candidate tasks per step (e.g. 200)", st.MinSamples)
	}
	if st.MinSamples == 0 {
		st.MinSamples = DefaultMinSamples
	}
	j := &req.Judge
	if j.Interval < 0 {
		return day2.Errorf(day2.EInvalid, "judge interval is negative")
	}
	if j.Interval == 0 {
		j.Interval = day2.Duration(DefaultJudgeInterval)
	}
	if j.Interval.D() < time.Second || j.Interval.D() > 24*time.Hour {
		return day2.Errorf(day2.EInvalid, "judge interval %s is out of range; use 1s to 24h (e.g. 1m)", j.Interval)
	}
	if err := j.Thresholds.Validate(); err != nil {
		if day2.ErrorCode(err) == day2.EInvalid {
			return err
		}
		return day2.Errorf(day2.EInvalid, "judge thresholds: %v", err)
	}
	if j.Thresholds.MaxLooks == 0 {
		// The judge corrects for repeated looks; plan one look per interval of a
		// step, at most the judge's limit of planned looks (later looks are held
		// to the last planned look's level).
		j.Thresholds.MaxLooks = min(canary.MaxMaxLooks, max(1, int(st.StepDuration.D()/j.Interval.D())))
	}
	j.Thresholds = j.Thresholds.WithDefaults()
	if len(req.Reason) > 2000 {
		return day2.Errorf(day2.EInvalid, "reason is longer than 2000 characters")
	}
	return nil
}

// Weights are the percentages of traffic each arm serves. For a rings rollout
// they describe the traffic outside the rings: the candidate has 0 until the
// current ring holds everyone. A shadow rollout's candidate has 0: it only runs
// beside the baseline.
type Weights struct {
	Baseline  int `json:"baseline"`
	Candidate int `json:"candidate"`
}

// Verdict is one judge report of a rollout.
type Verdict struct {
	At      time.Time `json:"at"`
	Step    int       `json:"step"`
	Look    int       `json:"look"`
	Verdict string    `json:"verdict"`
	Score   float64   `json:"score"`
	// BaselineTasks and CandidateTasks are the finished tasks each arm had.
	BaselineTasks  int64                  `json:"baseline_tasks"`
	CandidateTasks int64                  `json:"candidate_tasks"`
	Metrics        []canary.MetricVerdict `json:"metrics"`
}

// HistoryEntry is one event in a rollout's life.
type HistoryEntry struct {
	// Type is started, advanced, paused, resumed, promoted, rolled_back, held or
	// weight_set.
	Type   string    `json:"type"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Reason string    `json:"reason,omitempty"`
	// Step and Weights are the rollout's after the event.
	Step    int     `json:"step"`
	Weights Weights `json:"weights"`
	// Evidence is the judge's failing or passing metrics behind the event.
	Evidence []canary.MetricVerdict `json:"evidence,omitempty"`
}

// Rollout is a release of a candidate version of a service in one environment.
type Rollout struct {
	ID          string      `json:"id"`
	Service     string      `json:"service"`
	Environment string      `json:"environment"`
	Baseline    string      `json:"baseline"`
	Candidate   string      `json:"candidate"`
	Strategy    Strategy    `json:"strategy"`
	Judge       JudgeConfig `json:"judge"`
	// State is running, paused, promoted or rolled_back.
	State string `json:"state"`
	// Step is the 0-based index of the current step (canary step, ring).
	Step int `json:"step"`
	// Ring is the current ring's name (rings rollouts).
	Ring    string  `json:"ring,omitempty"`
	Weights Weights `json:"weights"`
	// Verdicts are the judge's reports, newest first (at most MaxVerdicts).
	Verdicts []Verdict `json:"verdicts"`
	// Looks counts the judge's looks in the current step.
	Looks         int       `json:"looks"`
	StepStartedAt time.Time `json:"step_started_at"`
	// NextLookAt is when the judge looks next (while running).
	NextLookAt time.Time      `json:"next_look_at,omitzero"`
	History    []HistoryEntry `json:"history"`
	// StartReason is why the rollout was started; Reason is why it ended.
	StartReason string    `json:"start_reason,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by"`
	UpdatedAt   time.Time `json:"updated_at"`
	EndedAt     time.Time `json:"ended_at,omitzero"`
	// Rev is the stored revision (compare-and-swap).
	Rev int64 `json:"rev"`
}

// Active reports whether the rollout is running or paused.
func (r *Rollout) Active() bool { return r.State == StateRunning || r.State == StatePaused }

// Steps returns the number of steps of the rollout's strategy.
func (r *Rollout) Steps() int {
	switch r.Strategy.Type {
	case StrategyCanary:
		return len(r.Strategy.Steps)
	case StrategyRings:
		return len(r.Strategy.Rings)
	}
	return 1
}

// planWeights returns the weights the strategy gives step.
func (r *Rollout) planWeights(step int) Weights {
	switch r.Strategy.Type {
	case StrategyCanary:
		w := r.Strategy.Steps[step]
		return Weights{Baseline: 100 - w, Candidate: w}
	case StrategyRings:
		if len(r.Strategy.Rings[step].Match) == 0 {
			return Weights{Candidate: 100}
		}
	}
	return Weights{Baseline: 100}
}

// setStep moves to step, with its planned weights and a fresh step clock.
func (r *Rollout) setStep(step int, now time.Time) {
	r.Step = step
	r.Weights = r.planWeights(step)
	if r.Strategy.Type == StrategyRings {
		r.Ring = r.Strategy.Rings[step].Name
	}
	r.StepStartedAt = now
	r.Looks = 0
	r.NextLookAt = now.Add(r.Judge.Interval.D())
}

func (r *Rollout) addHistory(typ, actor, reason string, now time.Time, evidence []canary.MetricVerdict) {
	r.History = append(r.History, HistoryEntry{Type: typ, At: now, Actor: actor, Reason: reason, Step: r.Step, Weights: r.Weights, Evidence: evidence})
	if len(r.History) > maxHistory {
		// Keep the start and the latest events.
		r.History = append(r.History[:1], r.History[len(r.History)-maxHistory+1:]...)
	}
	r.UpdatedAt = now
}

// newRollout builds the rollout a normalized request starts.
func newRollout(id, actor string, req StartRequest, now time.Time) Rollout {
	r := Rollout{
		ID: id, Service: req.Service, Environment: req.Environment, Baseline: req.Baseline, Candidate: req.Candidate,
		Strategy: req.Strategy, Judge: req.Judge, State: StateRunning, Verdicts: []Verdict{},
		StartReason: req.Reason, CreatedAt: now, CreatedBy: actor,
	}
	r.setStep(0, now)
	r.addHistory(HistoryStarted, actor, req.Reason, now, nil)
	return r
}

// act applies a human action to the rollout, or returns an EConflict error
// naming the current state when the action is not allowed in it.
func (r *Rollout) act(action, actor, reason string, now time.Time) error {
	if !r.Active() {
		return day2.Errorf(day2.EConflict, "rollout %s is %s; it has ended, so it cannot %s (start a new rollout instead)", r.ID, r.State, action)
	}
	switch action {
	case ActionPause:
		if r.State == StatePaused {
			return day2.Errorf(day2.EConflict, "rollout %s is already paused; resume it, promote it or roll it back", r.ID)
		}
		r.State = StatePaused
		r.NextLookAt = time.Time{}
		r.addHistory(HistoryPaused, actor, reason, now, nil)
	case ActionResume:
		if r.State != StatePaused {
			return day2.Errorf(day2.EConflict, "rollout %s is %s; only a paused rollout can resume", r.ID, r.State)
		}
		r.State = StateRunning
		// Back to the plan: an operator's weight lasts only while paused.
		r.Weights = r.planWeights(r.Step)
		r.NextLookAt = now.Add(r.Judge.Interval.D())
		r.addHistory(HistoryResumed, actor, reason, now, nil)
	case ActionPromote:
		r.promote(actor, reason, now, nil)
	case ActionRollback:
		r.rollback(actor, reason, now, nil)
	default:
		return day2.Errorf(day2.EInvalid, "action %q is unknown; use pause, resume, promote or rollback", action)
	}
	return nil
}

// promote ends the rollout with the candidate serving everyone.
func (r *Rollout) promote(actor, reason string, now time.Time, evidence []canary.MetricVerdict) {
	r.State = StatePromoted
	r.Step = r.Steps() - 1
	if r.Strategy.Type == StrategyRings {
		r.Ring = r.Strategy.Rings[r.Step].Name
	}
	r.Weights = Weights{Candidate: 100}
	r.end(HistoryPromoted, actor, reason, now, evidence)
}

// rollback ends the rollout with the baseline serving everyone.
func (r *Rollout) rollback(actor, reason string, now time.Time, evidence []canary.MetricVerdict) {
	r.State = StateRolledBack
	r.Weights = Weights{Baseline: 100}
	r.end(HistoryRolledBack, actor, reason, now, evidence)
}

func (r *Rollout) end(typ, actor, reason string, now time.Time, evidence []canary.MetricVerdict) {
	r.Reason = reason
	r.EndedAt = now
	r.NextLookAt = time.Time{}
	r.addHistory(typ, actor, reason, now, evidence)
}

// setWeight applies an operator's candidate weight: 0 rolls back, 100
// promotes, and anything between holds a canary at that weight, paused, until
// someone resumes it (which restores the step's weight).
func (r *Rollout) setWeight(weight int, actor, reason string, now time.Time) error {
	if weight < 0 || weight > 100 {
		return day2.Errorf(day2.EInvalid, "weight %d is out of range; give the candidate's percentage, 0 (roll back) to 100 (promote)", weight)
	}
	if !r.Active() {
		return day2.Errorf(day2.EConflict, "rollout %s is %s; it has ended, so its weight cannot change", r.ID, r.State)
	}
	switch {
	case weight == 0:
		r.rollback(actor, reason, now, nil)
	case weight == 100:
		r.promote(actor, reason, now, nil)
	case r.Strategy.Type != StrategyCanary:
		return day2.Errorf(day2.EInvalid, "a %s rollout serves the candidate by %s, not by weight; set weight 0 to roll back or 100 to promote", r.Strategy.Type,
			map[string]string{StrategyRings: "ring", StrategyShadow: "shadow share"}[r.Strategy.Type])
	default:
		r.Weights = Weights{Baseline: 100 - weight, Candidate: weight}
		r.State = StatePaused
		r.NextLookAt = time.Time{}
		r.addHistory(HistoryWeightSet, actor, reason, now, nil)
	}
	return nil
}

// addVerdict records a judge report, newest first.
func (r *Rollout) addVerdict(v Verdict) {
	r.Verdicts = append([]Verdict{v}, r.Verdicts...)
	if len(r.Verdicts) > MaxVerdicts {
		r.Verdicts = r.Verdicts[:MaxVerdicts]
	}
}

// heldThisStep reports whether the current step already has a held entry.
func (r *Rollout) heldThisStep() bool {
	for i := len(r.History) - 1; i >= 0; i-- {
		h := &r.History[i]
		if h.Type == HistoryHeld && h.Step == r.Step && !h.At.Before(r.StepStartedAt) {
			return true
		}
		if h.At.Before(r.StepStartedAt) {
			return false
		}
	}
	return false
}

// key is the record Key of an active rollout.
func activeKey(service, environment string) string { return service + "/" + environment }

// record returns the rollout as a Record for the store.
func (r *Rollout) record() (day2.Record, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return day2.Record{}, fmt.Errorf("encode rollout %s: %w", r.ID, err)
	}
	rec := day2.Record{Kind: KindRollout, ID: r.ID, Service: r.Service, State: r.State, Body: body, Rev: r.Rev}
	if r.Active() {
		rec.Key = activeKey(r.Service, r.Environment)
	}
	if r.State == StateRunning {
		rec.Due = r.NextLookAt
	}
	return rec, nil
}

// decodeRollout reads a rollout record.
func decodeRollout(rec day2.Record) (Rollout, error) {
	var r Rollout
	if err := json.Unmarshal(rec.Body, &r); err != nil {
		return Rollout{}, fmt.Errorf("decode rollout %s: %w", rec.ID, err)
	}
	r.Rev = rec.Rev
	if r.Verdicts == nil {
		r.Verdicts = []Verdict{}
	}
	return r, nil
}

// snapshotOf is what the audit log records of a rollout before and after a change.
func snapshotOf(r *Rollout) json.RawMessage {
	v := map[string]any{"state": r.State, "step": r.Step, "weights": r.Weights}
	if r.Ring != "" {
		v["ring"] = r.Ring
	}
	return mustJSON(v)
}
