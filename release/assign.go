package release

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/day2ops/day2"
)

// Assignment is the version a key gets.
type Assignment struct {
	Version string `json:"version"`
	// Arm is baseline, candidate or shadow (serve Version, the baseline, and run
	// the candidate beside it, marked as shadow).
	Arm string `json:"arm"`
	// Rollout is the active rollout's id, "" when none is active.
	Rollout string `json:"rollout"`
	Step    int    `json:"step"`
}

// snapshotMaxAge is how old the in-memory snapshot of active rollouts may get
// before Assign reloads it, which bounds how long another replica's rollback
// takes to reach this one.
const snapshotMaxAge = time.Second

// snapshot is the in-memory view Assign serves from.
type snapshot struct {
	loadedAt time.Time
	// active maps service/environment to its active rollout.
	active map[string]*activeRollout
	// current maps service/environment to the version served outside rollouts.
	current map[string]string
	// services lists every service with an active rollout or a current version.
	services []string
}

// activeRollout is what Assign needs of an active rollout.
type activeRollout struct {
	id, strategy        string
	baseline, candidate string
	step                int
	threshold           uint32 // candidate (or shadow) iff bucket < threshold
	rings               []Ring // rings up to the current one
}

// Bucket returns the sticky bucket of key for service, 0 to 9999: a key is in
// the candidate arm of a canary at weight w (percent) when Bucket < w*100. The
// bucket does not depend on the step or the environment, so a key in the
// candidate at 5% stays in it at 25%. It is FNV-1a (64 bit) of
// "rollout.<service>/<key>", finished with murmur3's fmix64 to spread sequential
// keys, modulo 10000.
func Bucket(service, key string) int {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	add := func(s string) {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= prime
		}
	}
	add("rollout.")
	add(service)
	add("/")
	add(key)
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return int(h % 10000)
}

// Assign returns the version key gets from service in environment (default
// prod). attrs are the key's context attributes, which ring rules match. With no
// active rollout it is the current version (the last promoted candidate, or the
// baseline of the last rolled-back rollout), arm baseline; with none known, an
// ENotFound error. Assign serves from memory, reloading active rollouts when
// they are more than a second old and right after this process changes one.
func (s *Service) Assign(ctx context.Context, service, environment, key string, attrs map[string]string) (Assignment, error) {
	a, _, err := s.assign(ctx, service, environment, key, attrs)
	return a, err
}

// assign is Assign that also returns the active rollout it used, if any.
func (s *Service) assign(ctx context.Context, service, environment, key string, attrs map[string]string) (Assignment, *activeRollout, error) {
	if service == "" {
		return Assignment{}, nil, day2.Errorf(day2.EInvalid, "service is required")
	}
	if key == "" {
		return Assignment{}, nil, day2.Errorf(day2.EInvalid, "key is required: the targeting key (a user, tenant or conversation id) that keeps a caller on one version")
	}
	if environment == "" {
		environment = "prod"
	}
	snap, err := s.snapshot(ctx)
	if err != nil {
		return Assignment{}, nil, err
	}
	sk := activeKey(service, environment)
	if a := snap.active[sk]; a != nil {
		return a.assign(service, key, attrs), a, nil
	}
	if v, ok := snap.current[sk]; ok {
		return Assignment{Version: v, Arm: ArmBaseline}, nil, nil
	}
	return Assignment{}, nil, day2.Errorf(day2.ENotFound, "no version of %s is known in %s: no rollout is active and none has ended; start one with POST /api/v1/rollouts", service, environment)
}

func (a *activeRollout) assign(service, key string, attrs map[string]string) Assignment {
	out := Assignment{Version: a.baseline, Arm: ArmBaseline, Rollout: a.id, Step: a.step}
	switch a.strategy {
	case StrategyCanary:
		if a.threshold > 0 && uint32(Bucket(service, key)) < a.threshold {
			out.Version, out.Arm = a.candidate, ArmCandidate
		}
	case StrategyRings:
		for i := range a.rings {
			if a.rings[i].Matches(attrs) {
				out.Version, out.Arm = a.candidate, ArmCandidate
				break
			}
		}
	case StrategyShadow:
		if a.threshold > 0 && uint32(Bucket(service, key)) < a.threshold {
			out.Arm = ArmShadow
		}
	}
	return out
}

// snapshot returns the current snapshot, reloading it when it is stale. One
// caller reloads; the others keep serving the previous snapshot meanwhile.
func (s *Service) snapshot(ctx context.Context) (*snapshot, error) {
	snap := s.snap.Load()
	if snap != nil && s.now().Sub(snap.loadedAt) < snapshotMaxAge {
		return snap, nil
	}
	if snap == nil {
		s.refreshMu.Lock()
		defer s.refreshMu.Unlock()
		if snap = s.snap.Load(); snap != nil {
			return snap, nil
		}
		return s.reload(ctx)
	}
	if !s.refreshMu.TryLock() {
		return snap, nil
	}
	defer s.refreshMu.Unlock()
	fresh, err := s.reload(ctx)
	if err != nil {
		// Serve the last known state rather than fail every request while the
		// store is briefly unreachable; the next call tries again.
		s.log.Warn("release: reloading active rollouts failed; serving the previous snapshot", "err", err)
		return snap, nil
	}
	return fresh, nil
}

// refreshAfterWrite reloads the snapshot after this process changed a rollout,
// so the change applies to the next Assign.
func (s *Service) refreshAfterWrite(ctx context.Context) {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	if _, err := s.reload(context.WithoutCancel(ctx)); err != nil {
		s.log.Warn("release: reloading active rollouts after a change failed; forcing a reload on the next assignment", "err", err)
		if old := s.snap.Load(); old != nil {
			stale := *old
			stale.loadedAt = time.Time{}
			s.snap.Store(&stale)
		}
	}
}

// reload reads active rollouts and current versions; the caller holds refreshMu.
func (s *Service) reload(ctx context.Context) (*snapshot, error) {
	loadedAt := s.now()
	recs, err := s.records.ListRecords(ctx, day2.RecordFilter{Kind: KindRollout, States: []string{StateRunning, StatePaused}, Limit: 1000})
	if err != nil {
		return nil, fmt.Errorf("load active rollouts: %w", err)
	}
	snap := &snapshot{loadedAt: loadedAt, active: make(map[string]*activeRollout, len(recs)), current: map[string]string{}}
	seen := map[string]bool{}
	for _, rec := range recs {
		r, err := decodeRollout(rec)
		if err != nil {
			return nil, err
		}
		snap.active[activeKey(r.Service, r.Environment)] = compile(&r)
		if !seen[r.Service] {
			seen[r.Service] = true
			snap.services = append(snap.services, r.Service)
		}
	}
	curs, err := s.records.ListRecords(ctx, day2.RecordFilter{Kind: KindCurrent, Limit: 1000})
	if err != nil {
		return nil, fmt.Errorf("load current versions: %w", err)
	}
	for _, rec := range curs {
		var c current
		if err := json.Unmarshal(rec.Body, &c); err != nil {
			return nil, fmt.Errorf("decode current version %s: %w", rec.ID, err)
		}
		snap.current[activeKey(c.Service, c.Environment)] = c.Version
		if !seen[c.Service] {
			seen[c.Service] = true
			snap.services = append(snap.services, c.Service)
		}
	}
	s.snap.Store(snap)
	return snap, nil
}

// compile turns an active rollout into what Assign evaluates.
func compile(r *Rollout) *activeRollout {
	a := &activeRollout{id: r.ID, strategy: r.Strategy.Type, baseline: r.Baseline, candidate: r.Candidate, step: r.Step}
	switch r.Strategy.Type {
	case StrategyCanary:
		a.threshold = uint32(r.Weights.Candidate) * 100
	case StrategyRings:
		a.rings = r.Strategy.Rings[:r.Step+1]
	case StrategyShadow:
		a.threshold = uint32(r.Strategy.Share) * 100
	}
	return a
}
