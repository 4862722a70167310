#!/usr/bin/env bash
# Load-tests day2's hot HTTP paths from a separate process with wrk
# (apt-get install -y wrk): OFREP single-flag evaluation, GET /api/v1/assign
# and Tier 0 approval requests. It builds day2, starts `day2 serve` on a fresh
# data directory with a flag, an approval policy and a running canary, runs wrk
# against each path and prints wrk's latency distribution.
#
#   bench/http.sh [duration (default 30s)] [connections (default 64)] [threads (default 2)]
#
# Results of record are in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-30s} conns=${2:-64} threads=${3:-2}
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install -y wrk" >&2; exit 2; }

work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/day2" ./cmd/day2
mkdir -p "$work/config"
cat > "$work/config/bench.yaml" <<'YAML'
apiVersion: day2/v1
kind: FeatureFlags
metadata: {name: bench}
spec:
  flags:
    new-planner:
      state: ENABLED
      variants: {v1: planner-v1, v2: planner-v2, off: none}
      defaultVariant: off
      targeting:
        if:
          - {"==": [{var: tier}, gold]}
          - {fractional: [[v1, 50], [v2, 50]]}
          - off
---
apiVersion: day2/v1
kind: ApprovalPolicy
metadata: {name: bench}
spec:
  service: bench-agent
  rules:
    - {action: lookup_vendor, tier: 0}
  approvers:
    tier1: {groups: [ops]}
    tier2: {groups: [manager]}
YAML
port=$((20000 + RANDOM % 20000))
url="http://127.0.0.1:$port"
GOMAXPROCS=${GOMAXPROCS:-} "$work/day2" serve --http "127.0.0.1:$port" --otlp-http "" --otlp-grpc "" \
  --data "$work/data" --config "$work/config" --log-level warn &
pid=$!
for _ in $(seq 100); do curl -fs "$url/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS -X POST "$url/api/v1/rollouts" -H 'Content-Type: application/json' -d '{"service": "bench-agent",
  "environment": "prod", "baseline": "1.0.0", "candidate": "1.1.0",
  "strategy": {"type": "canary", "steps": [5, 25, 50, 100], "step_duration": "1h"}}' >/dev/null

for s in ${BENCH:-ofrep assign approvals}; do
  echo "== $s: $conns connections, $threads threads, $duration"
  wrk -t "$threads" -c "$conns" -d "$duration" --latency -s "bench/$s.lua" "$url" | sed -n '/Latency Distribution/,$p'
done
