package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-feature/go-sdk-contrib/providers/ofrep"
	"github.com/open-feature/go-sdk/openfeature"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/auth"
	"github.com/day2ops/day2/flags"
	"github.com/day2ops/day2/httpapi"
	"github.com/day2ops/day2/sqlite"
)

const (
	readToken    = "read-token-0123456789abcdef"
	ingestToken  = "ingest-token-0123456789abcd"
	operateToken = "operate-token-0123456789abc"
	approveToken = "approve-token-0123456789ab"
)

const testFlagSet = `{"flags": {
  "new-planner": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
    "targeting": {"if": [{"ends_with": [{"var": "email"}, "@day2.dev"]}, "on", null]},
    "metadata": {"owner": "agents-team"}},
  "model": {"state": "ENABLED", "variants": {"small": "gpt-small", "large": "gpt-large"}, "defaultVariant": "small"},
  "max-tool-calls": {"state": "ENABLED", "variants": {"low": 5, "high": 50}, "defaultVariant": "low",
    "targeting": {"if": [{"sem_ver": [{"var": "agentVersion"}, ">=", "2.0.0"]}, "high", null]}},
  "temperature": {"state": "ENABLED", "variants": {"cool": 0.2, "warm": 0.7}, "defaultVariant": "cool"},
  "canary-planner": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
    "targeting": {"fractional": [["on", 20], ["off", 80]]}},
  "legacy-tools": {"state": "DISABLED", "variants": {"on": true, "off": false}, "defaultVariant": "on"}
}}`

type flagServer struct {
	url   string
	store *sqlite.Store
	svc   *flags.Service
}

// newFlagServer serves the OFREP and flag routes over real HTTP, on a real
// SQLite store, with tokens for each scope.
func newFlagServer(t testing.TB) *flagServer {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a, err := auth.Parse([]byte(`tokens:
  - {name: dashboard, token: "`+readToken+`", scopes: [read]}
  - {name: agent-fleet, token: "`+ingestToken+`", scopes: [ingest]}
  - {name: alice, token: "`+operateToken+`", scopes: [read, operate]}
  - {name: approver, token: "`+approveToken+`", scopes: [approve]}
`), "auth.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fs, err := flags.ParseFlagSet([]byte(testFlagSet))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := flags.NewService(st, fs, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := httpapi.New(httpapi.Options{Store: st, Auth: a, Logger: slog.New(slog.DiscardHandler)})
	httpapi.RegisterOFREP(s, svc)
	httpapi.RegisterFlags(s, svc)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &flagServer{url: srv.URL, store: st, svc: svc}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

func call(t testing.TB, method, url string, header http.Header, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}, "Content-Type": {"application/json"}}
}

func TestOFREPSingle(t *testing.T) {
	fs := newFlagServer(t)
	url := fs.url + "/ofrep/v1/evaluate/flags/"
	tests := []struct {
		name   string
		key    string
		body   string
		status int
		want   map[string]any
	}{
		{"a targeting match", "new-planner", `{"context": {"targetingKey": "u1", "email": "ana@day2.dev"}}`, 200,
			map[string]any{"key": "new-planner", "value": true, "variant": "on", "reason": "TARGETING_MATCH", "metadata": map[string]any{"owner": "agents-team"}}},
		{"a null targeting result is DEFAULT", "new-planner", `{"context": {"email": "bob@else.com"}}`, 200,
			map[string]any{"key": "new-planner", "value": false, "variant": "off", "reason": "DEFAULT", "metadata": map[string]any{"owner": "agents-team"}}},
		{"a static string flag", "model", `{"context": {}}`, 200,
			map[string]any{"key": "model", "value": "gpt-small", "variant": "small", "reason": "STATIC"}},
		{"an empty body is an empty context", "model", ``, 200,
			map[string]any{"key": "model", "value": "gpt-small", "variant": "small", "reason": "STATIC"}},
		{"a number flag by sem_ver", "max-tool-calls", `{"context": {"agentVersion": "2.3.0"}}`, 200,
			map[string]any{"key": "max-tool-calls", "value": 50.0, "variant": "high", "reason": "TARGETING_MATCH"}},
		{"a disabled flag has no value", "legacy-tools", `{"context": {}}`, 200,
			map[string]any{"key": "legacy-tools", "reason": "DISABLED"}},
		{"an unknown flag", "nope", `{"context": {}}`, 404,
			map[string]any{"key": "nope", "errorCode": "FLAG_NOT_FOUND", "errorDetails": "no flag \"nope\"; `day2 flags list` shows the flags"}},
		{"a split without a targeting key", "canary-planner", `{"context": {"email": "x"}}`, 400,
			map[string]any{"key": "canary-planner", "errorCode": "TARGETING_KEY_MISSING"}},
		{"a targeting key that is not a string", "canary-planner", `{"context": {"targetingKey": 7}}`, 400,
			map[string]any{"key": "canary-planner", "errorCode": "INVALID_CONTEXT"}},
		{"a context that is not an object", "model", `{"context": ["a"]}`, 400,
			map[string]any{"key": "model", "errorCode": "INVALID_CONTEXT"}},
		{"a body that is not JSON", "model", `{"context": `, 400,
			map[string]any{"key": "model", "errorCode": "PARSE_ERROR"}},
		{"a body over 64 KiB", "model", `{"context": {"blob": "` + strings.Repeat("x", 70<<10) + `"}}`, 400,
			map[string]any{"key": "model", "errorCode": "PARSE_ERROR", "errorDetails": "the request body is over 64 KiB; send a smaller evaluation context"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, http.MethodPost, url+tt.key, bearer(readToken), tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tt.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			got := r.json(t)
			if _, ok := tt.want["errorDetails"]; !ok && tt.status != 200 {
				if d, _ := got["errorDetails"].(string); d == "" {
					t.Errorf("no errorDetails in %s", r.body)
				}
				delete(got, "errorDetails")
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("body\n %v\nwant\n %v", got, tt.want)
			}
		})
	}
}

func TestOFREPBulkWithETag(t *testing.T) {
	fs := newFlagServer(t)
	url := fs.url + "/ofrep/v1/evaluate/flags"
	body := `{"context": {"email": "ana@day2.dev", "agentVersion": "1.0.0"}}`
	r := call(t, http.MethodPost, url, bearer(ingestToken), body)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var bulk struct {
		Flags []map[string]any `json:"flags"`
	}
	if err := json.Unmarshal(r.body, &bulk); err != nil {
		t.Fatal(err)
	}
	byKey := map[string]map[string]any{}
	var keys []string
	for _, f := range bulk.Flags {
		k := f["key"].(string)
		keys = append(keys, k)
		byKey[k] = f
	}
	if want := []string{"canary-planner", "legacy-tools", "max-tool-calls", "model", "new-planner", "temperature"}; !slices.Equal(keys, want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	if f := byKey["new-planner"]; f["value"] != true || f["reason"] != "TARGETING_MATCH" {
		t.Errorf("new-planner in bulk: %v", f)
	}
	// Errors are reported per flag, in OFREP's evaluationFailure shape.
	if f := byKey["canary-planner"]; f["errorCode"] != "TARGETING_KEY_MISSING" || f["value"] != nil || f["reason"] != nil {
		t.Errorf("canary-planner in bulk: %v", f)
	}
	if f := byKey["legacy-tools"]; f["reason"] != "DISABLED" {
		t.Errorf("legacy-tools in bulk: %v", f)
	}
	etag := r.header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || len(etag) < 10 {
		t.Fatalf("ETag %q", etag)
	}

	// The same evaluation again: 304 with no body.
	h := bearer(ingestToken)
	h.Set("If-None-Match", etag)
	r2 := call(t, http.MethodPost, url, h, body)
	if r2.status != http.StatusNotModified || len(r2.body) != 0 || r2.header.Get("ETag") != etag {
		t.Fatalf("repeat: status %d ETag %q body %q", r2.status, r2.header.Get("ETag"), r2.body)
	}
	// A different context gives different results and a new ETag.
	r3 := call(t, http.MethodPost, url, h, `{"context": {"email": "bob@else.com"}}`)
	if r3.status != 200 || r3.header.Get("ETag") == etag {
		t.Fatalf("other context: status %d ETag %q", r3.status, r3.header.Get("ETag"))
	}
	// A run-time change gives a new ETag for the same context.
	patch := call(t, http.MethodPatch, fs.url+"/api/v1/flags/model", bearer(operateToken), `{"defaultVariant": "large", "reason": "try large"}`)
	if patch.status != 200 {
		t.Fatalf("patch: %d %s", patch.status, patch.body)
	}
	r4 := call(t, http.MethodPost, url, h, body)
	if r4.status != 200 || r4.header.Get("ETag") == etag || !bytes.Contains(r4.body, []byte(`"gpt-large"`)) {
		t.Fatalf("after a change: status %d ETag %q body %s", r4.status, r4.header.Get("ETag"), r4.body)
	}
	// A bad body fails the whole bulk request, without a key.
	bad := call(t, http.MethodPost, url, bearer(readToken), `[`)
	if bad.status != 400 || bad.json(t)["errorCode"] != "PARSE_ERROR" || bad.json(t)["key"] != nil {
		t.Errorf("bad bulk body: %d %s", bad.status, bad.body)
	}
}

func TestOFREPAuth(t *testing.T) {
	fs := newFlagServer(t)
	single := fs.url + "/ofrep/v1/evaluate/flags/model"
	bulk := fs.url + "/ofrep/v1/evaluate/flags"
	tests := []struct {
		name   string
		url    string
		header http.Header
		status int
	}{
		{"a read token", single, bearer(readToken), 200},
		{"an ingest token", single, bearer(ingestToken), 200},
		{"an ingest token as X-API-Key", single, http.Header{"X-Api-Key": {ingestToken}}, 200},
		{"a read token as X-API-Key on bulk", bulk, http.Header{"X-Api-Key": {readToken}}, 200},
		{"a token with read and operate", bulk, bearer(operateToken), 200},
		{"no token", single, nil, 401},
		{"no token on bulk", bulk, nil, 401},
		{"an unknown token", single, bearer("unknown-token-0123456789"), 401},
		{"an unknown X-API-Key", single, http.Header{"X-Api-Key": {"unknown-token-0123456789"}}, 401},
		{"a token with neither read nor ingest", single, bearer(approveToken), 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, http.MethodPost, tt.url, tt.header, `{"context": {}}`)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.status >= 400 && len(r.body) != 0 {
				t.Errorf("OFREP answers %d without a body; got %q", r.status, r.body)
			}
		})
	}
	// The management API keeps day2's usual scopes and error bodies.
	if r := call(t, http.MethodGet, fs.url+"/api/v1/flags", bearer(ingestToken), ""); r.status != 403 || !bytes.Contains(r.body, []byte(`"forbidden"`)) {
		t.Errorf("ingest token listing flags: %d %s", r.status, r.body)
	}
	if r := call(t, http.MethodPatch, fs.url+"/api/v1/flags/model", bearer(readToken), `{"state": "DISABLED", "reason": "x"}`); r.status != 403 {
		t.Errorf("read token patching: %d %s", r.status, r.body)
	}
	if r := call(t, http.MethodGet, fs.url+"/api/v1/flags", http.Header{"X-Api-Key": {readToken}}, ""); r.status != 401 {
		t.Errorf("X-API-Key outside OFREP: %d %s", r.status, r.body)
	}
}

func TestFlagChangesAreAuditedAndApplyAtOnce(t *testing.T) {
	ctx := context.Background()
	fs := newFlagServer(t)
	eval := func(key, body string) map[string]any {
		t.Helper()
		r := call(t, http.MethodPost, fs.url+"/ofrep/v1/evaluate/flags/"+key, bearer(ingestToken), body)
		return r.json(t)
	}
	staff := `{"context": {"email": "ana@day2.dev"}}`
	if got := eval("new-planner", staff); got["value"] != true {
		t.Fatalf("before: %v", got)
	}

	// Kill switch.
	r := call(t, http.MethodPatch, fs.url+"/api/v1/flags/new-planner", bearer(operateToken), `{"state": "DISABLED", "reason": "incident 7: planner loops"}`)
	if r.status != 200 {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	view := r.json(t)
	if view["source"] != "runtime" || view["changed_by"] != "alice" || view["in_config"] != true {
		t.Errorf("view after patch: %v", view)
	}
	if got := eval("new-planner", staff); got["reason"] != "DISABLED" || got["value"] != nil {
		t.Fatalf("the kill switch is not in force at once: %v", got)
	}
	entries, err := fs.store.ListAudit(ctx, day2.AuditFilter{Target: "flag/new-planner"})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Action != "flag.patch" || entries[0].Actor != "alice" || entries[0].Reason != "incident 7: planner loops" {
		t.Fatalf("audit: %+v", entries)
	}
	if !bytes.Contains(entries[0].Before, []byte(`"ENABLED"`)) || !bytes.Contains(entries[0].After, []byte(`"DISABLED"`)) {
		t.Errorf("audit before %s after %s", entries[0].Before, entries[0].After)
	}

	// Create a flag at run time, list it, delete it.
	r = call(t, http.MethodPut, fs.url+"/api/v1/flags/summarizer", bearer(operateToken),
		`{"state": "ENABLED", "variants": {"v1": "sum-v1", "v2": "sum-v2"}, "defaultVariant": "v1",
		  "targeting": {"if": [{"in": [{"var": "tenant"}, ["acme", "globex"]]}, "v2", null]}, "reason": "pilot v2 for two tenants"}`)
	if r.status != 200 {
		t.Fatalf("put: %d %s", r.status, r.body)
	}
	if got := eval("summarizer", `{"context": {"tenant": "acme"}}`); got["value"] != "sum-v2" {
		t.Errorf("new flag: %v", got)
	}
	list := call(t, http.MethodGet, fs.url+"/api/v1/flags", bearer(readToken), "")
	var views struct {
		Flags []flags.FlagView `json:"flags"`
	}
	if err := json.Unmarshal(list.body, &views); err != nil {
		t.Fatal(err)
	}
	var sources []string
	for _, v := range views.Flags {
		sources = append(sources, v.Flag.Key+":"+v.Source)
	}
	if strings.Join(sources, " ") != "canary-planner:config legacy-tools:config max-tool-calls:config model:config new-planner:runtime summarizer:runtime temperature:config" {
		t.Errorf("list: %v", sources)
	}
	if r := call(t, http.MethodDelete, fs.url+"/api/v1/flags/summarizer?reason=pilot+over", bearer(operateToken), ""); r.status != 204 {
		t.Errorf("delete a run-time flag: %d %s", r.status, r.body)
	}
	if got := eval("summarizer", `{}`); got["errorCode"] != "FLAG_NOT_FOUND" {
		t.Errorf("deleted flag: %v", got)
	}
	r = call(t, http.MethodDelete, fs.url+"/api/v1/flags/new-planner", bearer(operateToken), `{"reason": "incident 7 fixed"}`)
	if r.status != 200 || r.json(t)["source"] != "config" {
		t.Errorf("delete an override: %d %s", r.status, r.body)
	}
	if got := eval("new-planner", staff); got["value"] != true {
		t.Errorf("the configuration did not apply again: %v", got)
	}
	actions := []string{}
	all, _ := fs.store.ListAudit(ctx, day2.AuditFilter{})
	for _, e := range all {
		actions = append(actions, e.Action+" "+e.Target+" "+e.Actor)
	}
	want := []string{"flag.patch flag/new-planner alice", "flag.put flag/summarizer alice", "flag.delete flag/summarizer alice", "flag.delete flag/new-planner alice"}
	if !slices.Equal(actions, want) {
		t.Errorf("audit log %v, want %v", actions, want)
	}
}

func TestFlagAPIErrors(t *testing.T) {
	fs := newFlagServer(t)
	tests := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"get an unknown flag", "GET", "/api/v1/flags/nope", "", 404, `no flag \"nope\"`},
		{"get a flag", "GET", "/api/v1/flags/model", "", 200, `"source":"config"`},
		{"put without a reason", "PUT", "/api/v1/flags/x", `{"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a"}`, 400, "a reason is required"},
		{"put with another key", "PUT", "/api/v1/flags/x", `{"key": "y", "state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a", "reason": "r"}`, 400, `names flag \"y\" but the path \"x\"`},
		{"put an invalid flag", "PUT", "/api/v1/flags/x", `{"state": "ENABLED", "variants": {"a": 1, "b": "2"}, "defaultVariant": "a", "reason": "r"}`, 400, "mixed types"},
		{"put an unknown field", "PUT", "/api/v1/flags/x", `{"state": "ENABLED", "variants": {"a": 1}, "defaultvariant": "a", "reason": "r"}`, 400, `unknown field \"defaultvariant\"`},
		{"put a bad rule", "PUT", "/api/v1/flags/x", `{"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a", "targeting": {"if": [{"regex": []}, "a", null]}, "reason": "r"}`, 400, "targeting.if[0].regex: unknown operator"},
		{"put a non-object", "PUT", "/api/v1/flags/x", `[1]`, 400, "not a JSON object"},
		{"patch an unknown field", "PATCH", "/api/v1/flags/model", `{"sate": "DISABLED", "reason": "r"}`, 400, `unknown field \"sate\"`},
		{"patch a bad state", "PATCH", "/api/v1/flags/model", `{"state": "off", "reason": "r"}`, 400, `unknown state \"off\"`},
		{"patch an unknown flag", "PATCH", "/api/v1/flags/nope", `{"state": "DISABLED", "reason": "r"}`, 404, "no flag"},
		{"delete a configured flag", "DELETE", "/api/v1/flags/model?reason=r", "", 404, "comes from the configuration"},
		{"delete without a reason", "DELETE", "/api/v1/flags/model", "", 400, "a reason is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, tt.method, fs.url+tt.path, bearer(operateToken), tt.body)
			if r.status != tt.status || !bytes.Contains(r.body, []byte(tt.want)) {
				t.Errorf("%d %s, want %d containing %s", r.status, r.body, tt.status, tt.want)
			}
		})
	}
}

// TestOpenFeatureSDK evaluates day2's flags with the official OpenFeature Go
// SDK and its OFREP provider, as an agent would.
func TestOpenFeatureSDK(t *testing.T) {
	fs := newFlagServer(t)
	ctx := context.Background()
	client := sdkClient(t, "bearer", ofrep.NewProvider(fs.url, ofrep.WithBearerToken(readToken)))
	staff := openfeature.NewEvaluationContext("user-1", map[string]any{"email": "ana@day2.dev", "agentVersion": "2.1.0"})

	b, err := client.BooleanValueDetails(ctx, "new-planner", false, staff)
	if err != nil || !b.Value || b.Variant != "on" || b.Reason != openfeature.TargetingMatchReason {
		t.Errorf("boolean: %+v, %v", b, err)
	}
	if owner, _ := b.FlagMetadata.GetString("owner"); owner != "agents-team" {
		t.Errorf("metadata: %v", b.FlagMetadata)
	}
	s, err := client.StringValueDetails(ctx, "model", "fallback", staff)
	if err != nil || s.Value != "gpt-small" || s.Reason != openfeature.StaticReason {
		t.Errorf("string: %+v, %v", s, err)
	}
	n, err := client.IntValueDetails(ctx, "max-tool-calls", 1, staff)
	if err != nil || n.Value != 50 || n.Variant != "high" {
		t.Errorf("integer: %+v, %v", n, err)
	}
	f, err := client.FloatValueDetails(ctx, "temperature", 1.5, staff)
	if err != nil || f.Value != 0.2 {
		t.Errorf("float: %+v, %v", f, err)
	}

	// A disabled flag: the SDK returns the caller's default, without an error.
	for _, def := range []bool{false, true} {
		d, err := client.BooleanValueDetails(ctx, "legacy-tools", def, staff)
		if err != nil || d.Value != def || d.Reason != openfeature.DisabledReason {
			t.Errorf("disabled flag with default %v: %+v, %v", def, d, err)
		}
	}
	// An unknown flag: the default, with FLAG_NOT_FOUND.
	u, err := client.StringValueDetails(ctx, "nope", "fallback", staff)
	if err == nil || u.Value != "fallback" || u.ErrorCode != openfeature.FlagNotFoundCode {
		t.Errorf("unknown flag: %+v, %v", u, err)
	}
	// A split without a targeting key: the default, with TARGETING_KEY_MISSING.
	m, err := client.BooleanValueDetails(ctx, "canary-planner", true, openfeature.NewTargetlessEvaluationContext(nil))
	if err == nil || !m.Value || m.ErrorCode != openfeature.TargetingKeyMissingCode {
		t.Errorf("split without a key: %+v, %v", m, err)
	}

	// A fractional split: each user stays in one arm, the arms follow the
	// 20/80 weights, and the SDK sees what the service decides.
	on := 0
	const users = 400
	for i := range users {
		key := fmt.Sprintf("agent-run-%d", i)
		ec := openfeature.NewEvaluationContext(key, nil)
		d, err := client.BooleanValueDetails(ctx, "canary-planner", false, ec)
		if err != nil || d.Reason != openfeature.SplitReason {
			t.Fatalf("split for %s: %+v, %v", key, d, err)
		}
		want, _ := fs.svc.Evaluate(ctx, "canary-planner", flags.EvalContext{"targetingKey": key})
		if d.Value != want.Value || d.Variant != want.Variant {
			t.Fatalf("SDK got %v for %s, the service decides %v", d.Value, key, want.Value)
		}
		if again, _ := client.BooleanValue(ctx, "canary-planner", false, ec); again != d.Value {
			t.Fatalf("%s changed arm between evaluations", key)
		}
		if d.Value {
			on++
		}
	}
	if on < 50 || on > 110 { // 80 expected; ±3.5 standard deviations
		t.Errorf("%d of %d users in the 20%% arm", on, users)
	}

	// An agent's ingest token sent as an API key works too.
	agent := sdkClient(t, "apikey", ofrep.NewProvider(fs.url, ofrep.WithApiKeyAuth(ingestToken)))
	if v, err := agent.StringValue(ctx, "model", "fallback", staff); err != nil || v != "gpt-small" {
		t.Errorf("API key: %q, %v", v, err)
	}
	// Without a token the SDK gets a 401 and returns the default.
	anon := sdkClient(t, "anonymous", ofrep.NewProvider(fs.url))
	if v, err := anon.StringValue(ctx, "model", "fallback", staff); err == nil || v != "fallback" {
		t.Errorf("no token: %q, %v", v, err)
	}

	// A kill switch pulled through the API applies to the SDK at once.
	r := call(t, http.MethodPatch, fs.url+"/api/v1/flags/new-planner", bearer(operateToken), `{"state": "DISABLED", "reason": "incident"}`)
	if r.status != 200 {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	if v, err := client.BooleanValue(ctx, "new-planner", false, staff); err != nil || v {
		t.Errorf("after the kill switch: %v, %v", v, err)
	}
}

func sdkClient(t *testing.T, name string, p *ofrep.Provider) *openfeature.Client {
	t.Helper()
	domain := t.Name() + "/" + name
	if err := openfeature.SetNamedProviderAndWait(domain, p); err != nil {
		t.Fatal(err)
	}
	return openfeature.NewClient(domain)
}

// BenchmarkOFREPEvaluate evaluates one flag with a fractional rule through the
// OFREP handler over real HTTP (keep-alive connections on loopback), from
// parallel clients, and reports requests per second and the 99th percentile
// latency.
func BenchmarkOFREPEvaluate(b *testing.B) {
	fs := newFlagServer(b)
	url := fs.url + "/ofrep/v1/evaluate/flags/canary-planner"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	var mu sync.Mutex
	var lat []time.Duration
	var n int
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		i := 0
		for pb.Next() {
			i++
			body := fmt.Sprintf(`{"context": {"targetingKey": "user-%d", "email": "ana@example.com"}}`, i)
			req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+ingestToken)
			req.Header.Set("Content-Type", "application/json")
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mine = append(mine, time.Since(t0))
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
		mu.Lock()
		lat = append(lat, mine...)
		n += len(mine)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(n)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkOFREPHandler is BenchmarkOFREPEvaluate without the network: the
// cost of authentication, decoding, evaluation and encoding per request.
func BenchmarkOFREPHandler(b *testing.B) {
	st, err := sqlite.Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	a, _ := auth.Parse([]byte(`tokens: [{name: agent-fleet, token: "`+ingestToken+`", scopes: [ingest]}]`), "auth.yaml")
	fs, _ := flags.ParseFlagSet([]byte(testFlagSet))
	svc, _ := flags.NewService(st, fs, nil)
	s := httpapi.New(httpapi.Options{Store: st, Auth: a, Logger: slog.New(slog.DiscardHandler)})
	httpapi.RegisterOFREP(s, svc)
	body := []byte(`{"context": {"targetingKey": "user-4711", "email": "ana@example.com"}}`)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/ofrep/v1/evaluate/flags/canary-planner", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+ingestToken)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
