package release

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/flags"
)

// FlagPrefix starts the flag keys Service resolves: "rollout.<service>".
const FlagPrefix = "rollout."

var _ flags.Resolver = (*Service)(nil)

// ResolveFlag implements flags.Resolver for the keys "rollout.<service>": the
// value and variant are the version Assign gives the context's targetingKey in
// the context's "environment" (default prod), with the other string-valued
// attributes matched by rings. The reason is SPLIT for canary and shadow
// buckets, TARGETING_MATCH for rings and STATIC outside rollouts; the metadata
// holds the arm, the rollout id and step, and for shadow the candidate to run
// beside. ok is false for other keys and for services with no known version.
func (s *Service) ResolveFlag(ctx context.Context, key string, ec flags.EvalContext) (flags.Result, bool, error) {
	service, found := strings.CutPrefix(key, FlagPrefix)
	if !found || service == "" {
		return flags.Result{}, false, nil
	}
	res := flags.Result{Key: key}
	tk, _ := ec[flags.TargetingKey].(string)
	if tk == "" {
		res.Reason, res.ErrorCode = flags.ReasonError, flags.CodeTargetingKeyMissing
		res.ErrorDetails = "the context needs a targetingKey (a user, tenant or conversation id) so the caller stays on one version"
		return res, true, nil
	}
	env := "prod"
	if e, ok := ec["environment"].(string); ok && e != "" {
		env = e
	}
	attrs := make(map[string]string, len(ec))
	for k, v := range ec {
		if k == flags.TargetingKey {
			continue
		}
		switch v := v.(type) {
		case string:
			attrs[k] = v
		case bool, float64, int, int64:
			attrs[k] = fmt.Sprint(v)
		}
	}
	a, ar, err := s.assign(ctx, service, env, tk, attrs)
	if err != nil {
		if day2.ErrorCode(err) == day2.ENotFound {
			return flags.Result{}, false, nil
		}
		return flags.Result{}, false, err
	}
	res.Value, res.Variant = a.Version, a.Version
	res.Metadata = map[string]any{"arm": a.Arm}
	if a.Rollout == "" {
		res.Reason = flags.ReasonStatic
		return res, true, nil
	}
	res.Metadata["rollout"] = a.Rollout
	res.Metadata["step"] = a.Step
	res.Reason = flags.ReasonSplit
	if ar.strategy == StrategyRings {
		res.Reason = flags.ReasonTargetingMatch
	}
	if a.Arm == ArmShadow {
		res.Metadata["shadow_version"] = ar.candidate
	}
	return res, true, nil
}

// DynamicKeys implements flags.Resolver: "rollout.<service>" for every service
// with an active rollout or a current version.
func (s *Service) DynamicKeys(ctx context.Context) ([]string, error) {
	snap, err := s.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(snap.services))
	for _, svc := range snap.services {
		keys = append(keys, FlagPrefix+svc)
	}
	slices.Sort(keys)
	return keys, nil
}
