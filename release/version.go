package release

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/day2ops/day2"
)

// KindVersion is the Record kind of registered versions; their ID is
// service + "@" + version.
const KindVersion = "version"

// MaxBundleBytes is the largest bundle document RegisterVersion accepts.
const MaxBundleBytes = 1 << 20

// Bundle is what a version of an agent consists of: its prompt, model and
// sampling settings, policy and tools. Every part is optional, but a bundle has
// at least one.
type Bundle struct {
	// Prompt is the system prompt text; PromptRef points to it instead (a path,
	// URL or prompt registry id). At most one of them is set.
	Prompt    string `json:"prompt,omitempty" yaml:"prompt"`
	PromptRef string `json:"prompt_ref,omitempty" yaml:"prompt_ref"`
	// Model names the model deployment, e.g. "gpt-4o-2024-08-06".
	Model string `json:"model,omitempty" yaml:"model"`
	// Temperature (0 to 2) and TopP (0 to 1) are the sampling settings.
	Temperature *float64 `json:"temperature,omitempty" yaml:"temperature"`
	TopP        *float64 `json:"top_p,omitempty" yaml:"top_p"`
	// Policy names (or holds) the policy the agent runs under.
	Policy string `json:"policy,omitempty" yaml:"policy"`
	// Tools lists the tools the agent may call.
	Tools []string `json:"tools,omitempty" yaml:"tools"`
	// Params holds any other settings, as JSON values.
	Params map[string]any `json:"params,omitempty" yaml:"params"`
	// Notes is free text for people (release notes).
	Notes string `json:"notes,omitempty" yaml:"notes"`
}

// Version is a registered, immutable version of a service's agent.
type Version struct {
	Service string `json:"service"`
	Version string `json:"version"`
	// Hash is "sha256:" and the hex SHA-256 of the bundle's canonical JSON, so
	// equal bundles have equal hashes whatever their formatting.
	Hash      string    `json:"hash"`
	Bundle    Bundle    `json:"bundle"`
	Reason    string    `json:"reason,omitempty"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// ParseBundle reads a bundle from YAML or JSON, checks it and returns it in
// canonical form (params as plain JSON values).
func ParseBundle(doc []byte) (Bundle, error) {
	var b Bundle
	if len(doc) > MaxBundleBytes {
		return b, day2.Errorf(day2.EInvalid, "bundle is %d bytes; the limit is %d (keep large prompts elsewhere and set prompt_ref)", len(doc), MaxBundleBytes)
	}
	trimmed := bytes.TrimSpace(doc)
	if len(trimmed) == 0 {
		return b, day2.Errorf(day2.EInvalid, "bundle is empty; give at least one of prompt, prompt_ref, model, temperature, top_p, policy, tools, params, notes")
	}
	if trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		dec.UseNumber()
		if err := dec.Decode(&b); err != nil {
			return Bundle{}, day2.Errorf(day2.EInvalid, "bundle is not valid: %v; its parts are prompt or prompt_ref, model, temperature, top_p, policy, tools (a list of names), params (an object), notes", err)
		}
		if dec.More() {
			return Bundle{}, day2.Errorf(day2.EInvalid, "bundle has more than one JSON document; send one object")
		}
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(trimmed))
		dec.KnownFields(true)
		if err := dec.Decode(&b); err != nil {
			if errors.Is(err, io.EOF) {
				return Bundle{}, day2.Errorf(day2.EInvalid, "bundle is empty; give at least one of prompt, prompt_ref, model, temperature, top_p, policy, tools, params, notes")
			}
			return Bundle{}, day2.Errorf(day2.EInvalid, "bundle is not valid YAML or JSON: %v; its parts are prompt or prompt_ref, model, temperature, top_p, policy, tools (a list of names), params (a map), notes", err)
		}
		var extra any
		if dec.Decode(&extra) == nil {
			return Bundle{}, day2.Errorf(day2.EInvalid, "bundle has more than one YAML document; keep one (remove the ---)")
		}
	}
	if b.Params != nil {
		// A round trip through JSON turns YAML's and json.Number's values into the
		// plain JSON values the hash is taken over.
		raw, err := json.Marshal(b.Params)
		if err != nil {
			return Bundle{}, day2.Errorf(day2.EInvalid, "bundle params must be JSON values (maps with string keys, lists, strings, numbers, booleans): %v", err)
		}
		b.Params = nil
		if err := json.Unmarshal(raw, &b.Params); err != nil {
			return Bundle{}, day2.Errorf(day2.EInvalid, "bundle params: %v", err)
		}
	}
	if err := b.Validate(); err != nil {
		return Bundle{}, err
	}
	return b, nil
}

// Validate checks the parts of a bundle.
func (b *Bundle) Validate() error {
	if b.Prompt != "" && b.PromptRef != "" {
		return day2.Errorf(day2.EInvalid, "bundle sets both prompt and prompt_ref; keep one: the text in prompt or a reference to it in prompt_ref")
	}
	if t := b.Temperature; t != nil && (math.IsNaN(*t) || *t < 0 || *t > 2) {
		return day2.Errorf(day2.EInvalid, "bundle temperature %v is out of range; use a number from 0 to 2", *t)
	}
	if p := b.TopP; p != nil && (math.IsNaN(*p) || *p < 0 || *p > 1) {
		return day2.Errorf(day2.EInvalid, "bundle top_p %v is out of range; use a number from 0 to 1", *p)
	}
	seen := make(map[string]bool, len(b.Tools))
	for i, t := range b.Tools {
		if strings.TrimSpace(t) == "" {
			return day2.Errorf(day2.EInvalid, "bundle tools[%d] is empty; list tool names such as erp.lookup", i)
		}
		if seen[t] {
			return day2.Errorf(day2.EInvalid, "bundle lists tool %q twice", t)
		}
		seen[t] = true
	}
	if b.Prompt == "" && b.PromptRef == "" && b.Model == "" && b.Temperature == nil && b.TopP == nil &&
		b.Policy == "" && len(b.Tools) == 0 && len(b.Params) == 0 && b.Notes == "" {
		return day2.Errorf(day2.EInvalid, "bundle is empty; give at least one of prompt, prompt_ref, model, temperature, top_p, policy, tools, params, notes")
	}
	return nil
}

// Hash returns "sha256:" and the hex SHA-256 of the bundle's canonical JSON:
// fields in a fixed order, map keys sorted, no insignificant space.
func (b *Bundle) Hash() string {
	raw, err := json.Marshal(b)
	if err != nil {
		// Params are plain JSON values after ParseBundle; a bundle built in Go
		// with unencodable params still gets a stable (if coarse) hash.
		raw = fmt.Appendf(nil, "%#v", *b)
	}
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func versionID(service, version string) string { return service + "@" + version }

// RegisterVersionWithReason registers version of service with the bundle
// document (YAML or JSON) and says whether it was created. Registering the same
// content again is idempotent and returns the stored version (created false);
// different content for a registered version is an EConflict error, since
// versions are immutable.
func (s *Service) RegisterVersionWithReason(ctx context.Context, actor, service, version, reason string, bundle []byte) (v Version, created bool, err error) {
	if err := validName("service", service); err != nil {
		return Version{}, false, err
	}
	sv, err := parseSemver(version)
	if err != nil {
		return Version{}, false, err
	}
	b, err := ParseBundle(bundle)
	if err != nil {
		return Version{}, false, err
	}
	v = Version{Service: service, Version: version, Hash: b.Hash(), Bundle: b, Reason: reason, CreatedBy: actor, CreatedAt: s.now().UTC()}
	same := func(stored Version) (Version, bool, error) {
		if stored.Hash == v.Hash {
			return stored, false, nil
		}
		return Version{}, false, day2.Errorf(day2.EConflict,
			"version %s of %s is already registered with different content (%s, registered by %s at %s); versions are immutable; register %s",
			version, service, stored.Hash, stored.CreatedBy, stored.CreatedAt.Format(time.RFC3339), sv.NextPatch())
	}
	if stored, err := s.GetVersion(ctx, service, version); err == nil {
		return same(stored)
	} else if day2.ErrorCode(err) != day2.ENotFound {
		return Version{}, false, err
	}
	body, err := json.Marshal(v)
	if err != nil {
		return Version{}, false, fmt.Errorf("encode version: %w", err)
	}
	rec := day2.Record{Kind: KindVersion, ID: versionID(service, version), Service: service, Body: body}
	audit := day2.AuditEntry{At: v.CreatedAt, Actor: actor, Action: "version.register", Target: "version/" + rec.ID, Reason: reason,
		After: mustJSON(map[string]string{"service": service, "version": version, "hash": v.Hash})}
	if _, _, err := s.records.PutRecords(ctx, []day2.Record{rec}, []day2.AuditEntry{audit}); err != nil {
		if day2.ErrorCode(err) == day2.EConflict {
			// Someone registered it between our read and write.
			stored, gerr := s.GetVersion(ctx, service, version)
			if gerr != nil {
				return Version{}, false, gerr
			}
			return same(stored)
		}
		return Version{}, false, fmt.Errorf("register version %s of %s: %w", version, service, err)
	}
	return v, true, nil
}

// GetVersion returns one registered version, or an ENotFound error.
func (s *Service) GetVersion(ctx context.Context, service, version string) (Version, error) {
	rec, err := s.records.GetRecord(ctx, KindVersion, versionID(service, version))
	if err != nil {
		if day2.ErrorCode(err) == day2.ENotFound {
			return Version{}, day2.Errorf(day2.ENotFound, "version %s of %s is not registered; register it with day2 version register --service %s --version %s --file bundle.yaml", version, service, service, version)
		}
		return Version{}, fmt.Errorf("read version %s of %s: %w", version, service, err)
	}
	var v Version
	if err := json.Unmarshal(rec.Body, &v); err != nil {
		return Version{}, fmt.Errorf("decode version %s: %w", rec.ID, err)
	}
	return v, nil
}

// Versions returns the registered versions of service, newest semantic version
// first (at most 1000).
func (s *Service) Versions(ctx context.Context, service string) ([]Version, error) {
	if err := validName("service", service); err != nil {
		return nil, err
	}
	recs, err := s.records.ListRecords(ctx, day2.RecordFilter{Kind: KindVersion, Service: service, Limit: 1000})
	if err != nil {
		return nil, fmt.Errorf("list versions of %s: %w", service, err)
	}
	out := make([]Version, 0, len(recs))
	for _, rec := range recs {
		var v Version
		if err := json.Unmarshal(rec.Body, &v); err != nil {
			return nil, fmt.Errorf("decode version %s: %w", rec.ID, err)
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b Version) int { return CompareVersions(b.Version, a.Version) })
	return out, nil
}

// FieldChange is one part of a bundle that differs between two versions.
type FieldChange struct {
	// Field is the bundle part: prompt, prompt_ref, model, temperature, top_p,
	// policy, tools, notes, or params.<key>.
	Field string `json:"field"`
	// Change is "added", "removed" or "changed".
	Change string `json:"change"`
	// From and To are the values (absent for prompt, whose change is in
	// VersionDiff.PromptDiff).
	From any `json:"from,omitempty"`
	To   any `json:"to,omitempty"`
	// Added and Removed list the tools that came and went.
	Added   []string `json:"added,omitempty"`
	Removed []string `json:"removed,omitempty"`
}

// VersionDiff is what changed from one version of a service to another.
type VersionDiff struct {
	Service  string        `json:"service"`
	From     string        `json:"from"`
	To       string        `json:"to"`
	FromHash string        `json:"from_hash"`
	ToHash   string        `json:"to_hash"`
	Same     bool          `json:"same"`
	Changes  []FieldChange `json:"changes"`
	// PromptDiff is a unified diff of the prompt text, "" when it did not change.
	PromptDiff string `json:"prompt_diff,omitempty"`
}

// Diff compares two registered versions of service field by field.
func (s *Service) Diff(ctx context.Context, service, from, to string) (VersionDiff, error) {
	a, err := s.GetVersion(ctx, service, from)
	if err != nil {
		return VersionDiff{}, err
	}
	b, err := s.GetVersion(ctx, service, to)
	if err != nil {
		return VersionDiff{}, err
	}
	return DiffVersions(a, b), nil
}

// DiffVersions compares two versions field by field.
func DiffVersions(a, b Version) VersionDiff {
	d := VersionDiff{Service: b.Service, From: a.Version, To: b.Version, FromHash: a.Hash, ToHash: b.Hash, Same: a.Hash == b.Hash, Changes: []FieldChange{}}
	change := func(field string, from, to any, fromSet, toSet bool) {
		c := FieldChange{Field: field, From: from, To: to, Change: "changed"}
		switch {
		case !fromSet && !toSet:
			return
		case !fromSet:
			c.Change, c.From = "added", nil
		case !toSet:
			c.Change, c.To = "removed", nil
		}
		d.Changes = append(d.Changes, c)
	}
	str := func(field, x, y string) {
		if x != y {
			change(field, x, y, x != "", y != "")
		}
	}
	num := func(field string, x, y *float64) {
		switch {
		case x == nil && y == nil:
		case x == nil:
			change(field, nil, *y, false, true)
		case y == nil:
			change(field, *x, nil, true, false)
		case *x != *y:
			change(field, *x, *y, true, true)
		}
	}
	ab, bb := a.Bundle, b.Bundle
	if ab.Prompt != bb.Prompt {
		change("prompt", nil, nil, ab.Prompt != "", bb.Prompt != "")
		d.PromptDiff = unifiedDiff(a.Service+"@"+a.Version+"/prompt", b.Service+"@"+b.Version+"/prompt", ab.Prompt, bb.Prompt)
	}
	str("prompt_ref", ab.PromptRef, bb.PromptRef)
	str("model", ab.Model, bb.Model)
	num("temperature", ab.Temperature, bb.Temperature)
	num("top_p", ab.TopP, bb.TopP)
	str("policy", ab.Policy, bb.Policy)
	if !slices.Equal(ab.Tools, bb.Tools) {
		c := FieldChange{Field: "tools", Change: "changed", From: ab.Tools, To: bb.Tools}
		switch {
		case len(ab.Tools) == 0:
			c.Change, c.From = "added", nil
		case len(bb.Tools) == 0:
			c.Change, c.To = "removed", nil
		}
		for _, t := range bb.Tools {
			if !slices.Contains(ab.Tools, t) {
				c.Added = append(c.Added, t)
			}
		}
		for _, t := range ab.Tools {
			if !slices.Contains(bb.Tools, t) {
				c.Removed = append(c.Removed, t)
			}
		}
		d.Changes = append(d.Changes, c)
	}
	keys := slices.Sorted(maps.Keys(ab.Params))
	for k := range bb.Params {
		if _, ok := ab.Params[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		x, inA := ab.Params[k]
		y, inB := bb.Params[k]
		if inA && inB && bytes.Equal(mustJSON(x), mustJSON(y)) {
			continue
		}
		change("params."+k, x, y, inA, inB)
	}
	str("notes", ab.Notes, bb.Notes)
	return d
}

// mustJSON encodes v, which the caller knows is encodable.
func mustJSON(v any) json.RawMessage {
	raw, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`null`)
	}
	return raw
}
