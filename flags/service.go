package flags

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/day2ops/day2"
)

// RecordKind is the day2.Record kind of run-time flag changes; the record ID is
// the flag key.
const RecordKind = "flag"

// RefreshInterval is how old the Service's snapshot of run-time changes may get
// before an evaluation reloads it, so that changes made through other replicas
// apply within about this long. Changes made through this Service apply at once.
const RefreshInterval = time.Second

// Where a flag's effective definition comes from (FlagView.Source).
const (
	SourceConfig   = "config"   // the configuration file
	SourceRuntime  = "runtime"  // a change made through the API or CLI
	SourceComputed = "computed" // a Resolver, e.g. the release engine's rollout flags
)

// maxRecords caps the run-time flag records one page of ListRecords returns.
const maxRecords = 1000

// Resolver serves flags computed elsewhere: the release engine serves
// "rollout.<service>" through one. The Service asks it about every key under
// the prefix it was added with.
type Resolver interface {
	// ResolveFlag evaluates key for ec; found is false if the resolver does not
	// know key (the Service then looks for a defined flag of that key).
	ResolveFlag(ctx context.Context, key string, ec EvalContext) (r Result, found bool, err error)
	// DynamicKeys lists the keys the resolver serves now, for bulk evaluation
	// and listing.
	DynamicKeys(ctx context.Context) ([]string, error)
}

// FlagView is a flag as listed: its effective definition, where that comes
// from, and the last run-time change.
type FlagView struct {
	Flag Flag `json:"flag"`
	// Source is config, runtime or computed.
	Source string `json:"source"`
	// InConfig reports that the configuration defines the key too: a run-time
	// change overrides that definition until it is deleted.
	InConfig bool `json:"in_config"`
	// ChangedBy, ChangedAt and Reason describe the last run-time change (also
	// when it was deleted and the configuration applies again).
	ChangedBy string    `json:"changed_by,omitempty"`
	ChangedAt time.Time `json:"changed_at,omitzero"`
	Reason    string    `json:"reason,omitempty"`
}

// Patch changes parts of a flag: the levers and kill switches operators pull.
// Nil fields are left as they are.
type Patch struct {
	State          *string `json:"state,omitempty"`
	DefaultVariant *string `json:"defaultVariant,omitempty"`
	// Variants are merged into the flag's: a variant set to null is removed.
	Variants map[string]any `json:"variants,omitempty"`
	// Targeting replaces the rule; {} removes it.
	Targeting *json.RawMessage `json:"targeting,omitempty"`
}

// runtimeBody is the Body of a flag record.
type runtimeBody struct {
	// Flag is the run-time definition; nil once the change was deleted.
	Flag      *Flag     `json:"flag,omitempty"`
	Actor     string    `json:"actor"`
	Reason    string    `json:"reason"`
	ChangedAt time.Time `json:"changed_at"`
}

// runtimeEntry is one flag record as the snapshot holds it.
type runtimeEntry struct {
	rev      int64
	body     runtimeBody
	compiled *compiled // nil when deleted or invalid
}

// snapshot is an immutable view of every flag, swapped atomically.
type snapshot struct {
	loaded    time.Time // when run-time changes were last read; zero: never
	config    map[string]*compiled
	runtime   map[string]*runtimeEntry
	effective map[string]*compiled
	keys      []string // of effective, sorted
}

type prefixResolver struct {
	prefix string
	r      Resolver
}

// Service serves feature flags: those of the configuration, overridden by
// changes made at run time (stored as day2 records with an audit entry each),
// and those of resolvers. Evaluations read an in-memory snapshot with every
// targeting rule compiled; the snapshot is reloaded from the store when it is
// older than RefreshInterval, by one evaluation while the others go on with the
// previous one. It is safe for concurrent use.
type Service struct {
	store day2.RecordStore
	clock func() time.Time
	log   atomic.Pointer[slog.Logger]

	snap      atomic.Pointer[snapshot]
	resolvers atomic.Pointer[[]prefixResolver]
	applyMu   sync.Mutex // serialises snapshot replacements
	refreshMu sync.Mutex // one reload at a time
	// lastAttempt is when a reload last started (guarded by refreshMu), so a
	// failing store is asked at most once per RefreshInterval.
	lastAttempt time.Time
}

// NewService returns a Service for the flags of the configuration, keeping
// run-time changes in store. A nil store serves the configuration only and
// refuses changes; a nil clock means time.Now. It fails if a configured flag is
// invalid.
func NewService(store day2.RecordStore, fromConfig map[string]Flag, clock func() time.Time) (*Service, error) {
	if clock == nil {
		clock = time.Now
	}
	s := &Service{store: store, clock: clock}
	s.log.Store(slog.Default())
	empty := []prefixResolver{}
	s.resolvers.Store(&empty)
	config, problems := compileConfig(fromConfig)
	if len(problems) > 0 {
		return nil, day2.Errorf(day2.EInvalid, "%s", strings.Join(problems, "\n"))
	}
	s.snap.Store(buildSnapshot(time.Time{}, config, map[string]*runtimeEntry{}))
	return s, nil
}

// SetLogger sets where the Service logs store failures and invalid records
// (default slog.Default()).
func (s *Service) SetLogger(l *slog.Logger) {
	if l != nil {
		s.log.Store(l)
	}
}

func compileConfig(flags map[string]Flag) (map[string]*compiled, []string) {
	config := make(map[string]*compiled, len(flags))
	var problems []string
	for _, key := range sortedKeys(flags) {
		f := flags[key].clone()
		if f.Key == "" {
			f.Key = key
		}
		if f.Key != key {
			problems = append(problems, fmt.Sprintf("flag %q is listed under key %q", f.Key, key))
			continue
		}
		c, err := compile(f)
		if err != nil {
			problems = append(problems, day2.ErrorMessage(err))
			continue
		}
		config[key] = c
	}
	return config, problems
}

// SetConfig replaces the configuration's flags, on a configuration reload.
// Run-time changes keep overriding them. Flags that fail Validate are left out
// and logged; validate with ParseFlagSet or Flag.Validate before.
func (s *Service) SetConfig(flags map[string]Flag) {
	config, problems := compileConfig(flags)
	for _, p := range problems {
		s.log.Load().Error("flag configuration: flag left out", "problem", p)
	}
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	cur := s.snap.Load()
	s.snap.Store(buildSnapshot(cur.loaded, config, cur.runtime))
}

// AddResolver makes r serve every key that starts with prefix (e.g.
// "rollout."). Such keys cannot be changed through Put, Patch or Delete.
func (s *Service) AddResolver(prefix string, r Resolver) {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	rs := slices.Clone(*s.resolvers.Load())
	rs = append(rs, prefixResolver{prefix: prefix, r: r})
	sort.SliceStable(rs, func(i, j int) bool { return len(rs[i].prefix) > len(rs[j].prefix) })
	s.resolvers.Store(&rs)
}

func (s *Service) resolverFor(key string) (prefixResolver, bool) {
	for _, pr := range *s.resolvers.Load() {
		if strings.HasPrefix(key, pr.prefix) {
			return pr, true
		}
	}
	return prefixResolver{}, false
}

// Evaluate evaluates the flag key for ec. It returns an ENotFound error for an
// unknown flag; a failed evaluation (a targeting rule needing a targeting key
// that ec lacks, say) is a Result with an ErrorCode, not an error.
func (s *Service) Evaluate(ctx context.Context, key string, ec EvalContext) (Result, error) {
	if pr, ok := s.resolverFor(key); ok {
		r, found, err := pr.r.ResolveFlag(ctx, key, ec)
		if err != nil {
			return Result{}, fmt.Errorf("resolve flag %q: %w", key, err)
		}
		if found {
			if r.Key == "" {
				r.Key = key
			}
			return r, nil
		}
	}
	snap, err := s.current(ctx)
	if err != nil {
		return Result{}, err
	}
	c, ok := snap.effective[key]
	if !ok {
		return Result{}, day2.Errorf(day2.ENotFound, "no flag %q; `day2 flags list` shows the flags", key)
	}
	return c.evaluate(ec, s.clock()), nil
}

// EvaluateAll evaluates every flag for ec, sorted by key: the defined flags and
// every key the resolvers list.
func (s *Service) EvaluateAll(ctx context.Context, ec EvalContext) ([]Result, error) {
	snap, err := s.current(ctx)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	results := make([]Result, 0, len(snap.keys))
	computed := map[string]bool{}
	for _, pr := range *s.resolvers.Load() {
		keys, err := pr.r.DynamicKeys(ctx)
		if err != nil {
			return nil, fmt.Errorf("list flags under %q: %w", pr.prefix, err)
		}
		for _, key := range keys {
			if computed[key] {
				continue
			}
			if owner, _ := s.resolverFor(key); owner.prefix != pr.prefix {
				continue
			}
			r, found, err := pr.r.ResolveFlag(ctx, key, ec)
			if err != nil {
				return nil, fmt.Errorf("resolve flag %q: %w", key, err)
			}
			if found {
				if r.Key == "" {
					r.Key = key
				}
				computed[key] = true
				results = append(results, r)
			}
		}
	}
	for _, key := range snap.keys {
		if !computed[key] {
			results = append(results, snap.effective[key].evaluate(ec, now))
		}
	}
	sort.Slice(results, func(i, j int) bool { return results[i].Key < results[j].Key })
	return results, nil
}

// List returns every flag with where it comes from, sorted by key.
func (s *Service) List(ctx context.Context) ([]FlagView, error) {
	snap, err := s.current(ctx)
	if err != nil {
		return nil, err
	}
	views := make([]FlagView, 0, len(snap.keys))
	seen := map[string]bool{}
	for _, key := range snap.keys {
		views = append(views, snap.view(key))
		seen[key] = true
	}
	for _, pr := range *s.resolvers.Load() {
		keys, err := pr.r.DynamicKeys(ctx)
		if err != nil {
			return nil, fmt.Errorf("list flags under %q: %w", pr.prefix, err)
		}
		for _, key := range keys {
			if !seen[key] {
				seen[key] = true
				views = append(views, FlagView{Flag: Flag{Key: key}, Source: SourceComputed})
			}
		}
	}
	sort.Slice(views, func(i, j int) bool { return views[i].Flag.Key < views[j].Flag.Key })
	return views, nil
}

// Get returns one flag as List shows it, or an ENotFound error.
func (s *Service) Get(ctx context.Context, key string) (FlagView, error) {
	snap, err := s.current(ctx)
	if err != nil {
		return FlagView{}, err
	}
	if pr, ok := s.resolverFor(key); ok {
		keys, err := pr.r.DynamicKeys(ctx)
		if err != nil {
			return FlagView{}, fmt.Errorf("list flags under %q: %w", pr.prefix, err)
		}
		if slices.Contains(keys, key) {
			return FlagView{Flag: Flag{Key: key}, Source: SourceComputed}, nil
		}
	}
	if _, ok := snap.effective[key]; !ok {
		return FlagView{}, day2.Errorf(day2.ENotFound, "no flag %q; `day2 flags list` shows the flags", key)
	}
	return snap.view(key), nil
}

// view describes the effective flag key of the snapshot.
func (snap *snapshot) view(key string) FlagView {
	c := snap.effective[key]
	v := FlagView{Flag: c.flag.clone(), Source: SourceConfig, InConfig: snap.config[key] != nil}
	if e := snap.runtime[key]; e != nil {
		v.ChangedBy, v.ChangedAt, v.Reason = e.body.Actor, e.body.ChangedAt, e.body.Reason
		if e.compiled != nil {
			v.Source = SourceRuntime
		}
	}
	return v
}

// Put creates or replaces the flag f.Key at run time, overriding any
// definition of the configuration, and audits it as "flag.put".
func (s *Service) Put(ctx context.Context, actor string, f Flag, reason string) (Flag, error) {
	f = f.clone()
	if !hasTargeting(f.Targeting) {
		f.Targeting = nil
	}
	if err := s.changeable(f.Key, reason); err != nil {
		return Flag{}, err
	}
	if err := f.Validate(); err != nil {
		return Flag{}, err
	}
	return s.write(ctx, actor, "flag.put", f.Key, reason, func(_ *Flag, _ bool) (*Flag, error) {
		return &f, nil
	})
}

// Patch changes parts of the effective flag key (from the configuration or an
// earlier change) and stores the result as a run-time change, audited as
// "flag.patch".
func (s *Service) Patch(ctx context.Context, actor, key string, p Patch, reason string) (Flag, error) {
	if err := s.changeable(key, reason); err != nil {
		return Flag{}, err
	}
	if p.State == nil && p.DefaultVariant == nil && p.Variants == nil && p.Targeting == nil {
		return Flag{}, day2.Errorf(day2.EInvalid, "the patch changes nothing; set state, defaultVariant, variants or targeting")
	}
	return s.write(ctx, actor, "flag.patch", key, reason, func(cur *Flag, _ bool) (*Flag, error) {
		if cur == nil {
			return nil, day2.Errorf(day2.ENotFound, "no flag %q to change; create it with PUT /api/v1/flags/%s", key, key)
		}
		f := cur.clone()
		if p.State != nil {
			f.State = *p.State
		}
		if p.DefaultVariant != nil {
			f.DefaultVariant = *p.DefaultVariant
		}
		for name, v := range p.Variants {
			if v == nil {
				delete(f.Variants, name)
			} else {
				f.Variants[name] = cloneValue(v)
			}
		}
		if p.Targeting != nil {
			f.Targeting = slices.Clone(*p.Targeting)
			if !hasTargeting(f.Targeting) {
				f.Targeting = nil
			}
		}
		if err := f.Validate(); err != nil {
			return nil, err
		}
		return &f, nil
	})
}

// Delete removes the run-time change of key, audited as "flag.delete": the
// configuration's definition, if any, applies again.
func (s *Service) Delete(ctx context.Context, actor, key, reason string) error {
	if err := s.changeable(key, reason); err != nil {
		return err
	}
	_, err := s.write(ctx, actor, "flag.delete", key, reason, func(_ *Flag, changed bool) (*Flag, error) {
		if !changed {
			snap := s.snap.Load()
			if snap.config[key] != nil {
				return nil, day2.Errorf(day2.ENotFound, "flag %q has no run-time change to remove; it comes from the configuration (to switch it off, set its state to DISABLED)", key)
			}
			return nil, day2.Errorf(day2.ENotFound, "no flag %q has a run-time change to remove", key)
		}
		return nil, nil
	})
	return err
}

// changeable checks what every change needs: a valid key that no resolver
// serves, a store, and a reason.
func (s *Service) changeable(key, reason string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	if pr, ok := s.resolverFor(key); ok {
		return day2.Errorf(day2.EInvalid, "flags starting with %q are computed by day2 (e.g. by the release engine) and cannot be changed here", pr.prefix)
	}
	if s.store == nil {
		return day2.Errorf(day2.EUnavailable, "flags cannot be changed at run time: this server has no state store")
	}
	if strings.TrimSpace(reason) == "" {
		return day2.Errorf(day2.EInvalid, "a reason is required: every flag change is audited and must say why")
	}
	return nil
}

// write reads the run-time record of key, lets change compute the new
// run-time definition from the effective one (nil: remove the change), and
// stores it with its audit entry, retrying when another writer got there first.
func (s *Service) write(ctx context.Context, actor, action, key, reason string, change func(cur *Flag, changed bool) (*Flag, error)) (Flag, error) {
	for attempt := 0; ; attempt++ {
		var rev int64
		var body runtimeBody
		rec, err := s.store.GetRecord(ctx, RecordKind, key)
		switch {
		case err == nil:
			rev = rec.Rev
			if err := json.Unmarshal(rec.Body, &body); err != nil {
				return Flag{}, fmt.Errorf("flag record %q: %w", key, err)
			}
			if body.Flag != nil {
				body.Flag.Key = key
			}
		case day2.ErrorCode(err) == day2.ENotFound:
		default:
			return Flag{}, fmt.Errorf("read flag %q: %w", key, err)
		}
		configFlag := s.configFlag(key)
		before := body.Flag
		if before == nil {
			before = configFlag
		}
		next, err := change(before, body.Flag != nil)
		if err != nil {
			return Flag{}, err
		}
		after := next
		if after == nil {
			after = configFlag
		}
		now := s.clock().UTC()
		nb, err := json.Marshal(runtimeBody{Flag: next, Actor: actor, Reason: reason, ChangedAt: now})
		if err != nil {
			return Flag{}, fmt.Errorf("encode flag %q: %w", key, err)
		}
		state := "removed"
		if next != nil {
			state = next.State
		}
		stored, _, err := s.store.PutRecords(ctx,
			[]day2.Record{{Kind: RecordKind, ID: key, State: state, Body: nb, Rev: rev}},
			[]day2.AuditEntry{{At: now, Actor: actor, Action: action, Target: "flag/" + key, Reason: reason,
				Before: flagJSON(before), After: flagJSON(after)}})
		if err != nil {
			if day2.ErrorCode(err) == day2.EConflict && attempt < 3 {
				continue
			}
			return Flag{}, fmt.Errorf("store flag %q: %w", key, err)
		}
		if len(stored) == 1 {
			s.applyLocal(stored[0])
		}
		if after == nil {
			return Flag{}, nil
		}
		return after.clone(), nil
	}
}

func (s *Service) configFlag(key string) *Flag {
	if c := s.snap.Load().config[key]; c != nil {
		f := c.flag.clone()
		return &f
	}
	return nil
}

func flagJSON(f *Flag) json.RawMessage {
	if f == nil {
		return nil
	}
	b, err := json.Marshal(f)
	if err != nil {
		return nil
	}
	return b
}

// Refresh reloads the run-time changes from the store now.
func (s *Service) Refresh(ctx context.Context) error {
	if s.store == nil {
		return nil
	}
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	return s.reloadLocked(ctx)
}

// current returns the snapshot, reloading it first when it is stale. Only the
// first load is waited for; later ones run in the caller that found the
// snapshot stale while concurrent callers use the previous one.
func (s *Service) current(ctx context.Context) (*snapshot, error) {
	snap := s.snap.Load()
	if s.store == nil {
		return snap, nil
	}
	now := s.clock()
	if age := now.Sub(snap.loaded); !snap.loaded.IsZero() && age >= 0 && age < RefreshInterval {
		return snap, nil
	}
	if snap.loaded.IsZero() {
		s.refreshMu.Lock()
	} else if !s.refreshMu.TryLock() {
		return snap, nil
	}
	defer s.refreshMu.Unlock()
	snap = s.snap.Load()
	age := now.Sub(snap.loaded)
	if !snap.loaded.IsZero() && age >= 0 && age < RefreshInterval {
		return snap, nil
	}
	if since := now.Sub(s.lastAttempt); s.lastAttempt.IsZero() || since < 0 || since >= RefreshInterval {
		if err := s.reloadLocked(ctx); err != nil {
			s.log.Load().Warn("flags: reading run-time flag changes failed; serving the previous snapshot", "err", err)
		}
	}
	snap = s.snap.Load()
	if snap.loaded.IsZero() {
		return nil, day2.Errorf(day2.EUnavailable, "flags are not available yet: the state store could not be read; retry shortly")
	}
	return snap, nil
}

// reloadLocked reads every flag record and swaps in a new snapshot. The caller
// holds refreshMu.
func (s *Service) reloadLocked(ctx context.Context) error {
	s.lastAttempt = s.clock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	started := s.clock()
	recs, err := s.listAll(ctx)
	if err != nil {
		return err
	}
	// A record whose revision is unchanged keeps its compiled entry: a reload
	// runs in the request that finds the snapshot stale, and compiling every
	// flag there would cost that request far more than evaluating one.
	prev := s.snap.Load().runtime
	entries := make(map[string]*runtimeEntry, len(recs))
	for _, rec := range recs {
		if e := prev[rec.ID]; e != nil && e.rev == rec.Rev {
			entries[rec.ID] = e
			continue
		}
		entries[rec.ID] = s.entry(rec)
	}
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	cur := s.snap.Load()
	for key, e := range cur.runtime {
		// Keep what a local write applied while the list was read.
		if n, ok := entries[key]; !ok || n.rev < e.rev {
			entries[key] = e
		}
	}
	s.snap.Store(buildSnapshot(started, cur.config, entries))
	return nil
}

// listAll lists every flag record, a page at a time.
func (s *Service) listAll(ctx context.Context) ([]day2.Record, error) {
	var all []day2.Record
	seen := map[string]bool{}
	f := day2.RecordFilter{Kind: RecordKind, Order: day2.OldestFirst, Limit: maxRecords}
	for {
		page, err := s.store.ListRecords(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("list flag records: %w", err)
		}
		added := 0
		for _, r := range page {
			if !seen[r.ID] {
				seen[r.ID] = true
				all = append(all, r)
				added++
			}
		}
		if len(page) < maxRecords || added == 0 {
			return all, nil
		}
		// Step back a nanosecond so records created at the same instant as
		// the last one are not skipped; seen drops the repeats.
		f.CreatedAfter = page[len(page)-1].CreatedAt.Add(-time.Nanosecond)
	}
}

// entry parses a flag record; an invalid one is logged and leaves the
// configuration's definition in force.
func (s *Service) entry(rec day2.Record) *runtimeEntry {
	e := &runtimeEntry{rev: rec.Rev}
	if err := json.Unmarshal(rec.Body, &e.body); err != nil {
		s.log.Load().Error("flags: ignoring an unreadable flag record", "flag", rec.ID, "err", err)
		return e
	}
	if e.body.Flag == nil {
		return e
	}
	f := *e.body.Flag
	f.Key = rec.ID
	c, err := compile(f)
	if err != nil {
		s.log.Load().Error("flags: ignoring an invalid run-time flag", "flag", rec.ID, "err", err)
		return e
	}
	e.compiled = c
	return e
}

// applyLocal puts a record this Service just wrote into the snapshot, so the
// change applies at once.
func (s *Service) applyLocal(rec day2.Record) {
	e := s.entry(rec)
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	cur := s.snap.Load()
	if old := cur.runtime[rec.ID]; old != nil && old.rev >= e.rev {
		return
	}
	runtime := make(map[string]*runtimeEntry, len(cur.runtime)+1)
	for k, v := range cur.runtime {
		runtime[k] = v
	}
	runtime[rec.ID] = e
	s.snap.Store(buildSnapshot(cur.loaded, cur.config, runtime))
}

func buildSnapshot(loaded time.Time, config map[string]*compiled, runtime map[string]*runtimeEntry) *snapshot {
	eff := make(map[string]*compiled, len(config)+len(runtime))
	for k, c := range config {
		eff[k] = c
	}
	for k, e := range runtime {
		if e.compiled != nil {
			eff[k] = e.compiled
		}
	}
	return &snapshot{loaded: loaded, config: config, runtime: runtime, effective: eff, keys: sortedKeys(eff)}
}
