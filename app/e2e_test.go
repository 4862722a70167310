package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/day2ops/day2/app"
	"github.com/day2ops/day2/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// startApp runs day2 on free loopback ports with a fresh embedded store (or the
// PostgreSQL database in dsn) and stops it at the end of the test.
func startApp(t *testing.T, opts app.Options) *app.App {
	t.Helper()
	if opts.HTTPAddr == "" {
		opts.HTTPAddr = "127.0.0.1:0"
	}
	if opts.OTLPHTTPAddr == "" {
		opts.OTLPHTTPAddr = "127.0.0.1:0"
	}
	if opts.OTLPGRPCAddr == "" {
		opts.OTLPGRPCAddr = "127.0.0.1:0"
	}
	if opts.DataDir == "" && opts.DB == "" {
		opts.DataDir = t.TempDir()
	}
	a, err := app.New(context.Background(), opts)
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("app.Run: %v", err)
		}
	})
	return a
}

var base = time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Millisecond)

func res(service, version, env string) *resource.Resource {
	return resource.NewSchemaless(
		attribute.String("service.name", service),
		attribute.String("service.version", version),
		attribute.String("deployment.environment.name", env),
	)
}

// sendSeedTask exports, through the OTel SDK over OTLP/HTTP protobuf, a task in the
// seed's trace model with its outcome as a span event, and returns its trace id.
func sendSeedTask(t *testing.T, endpoint string) trace.TraceID {
	ctx := context.Background()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(res("invoice-agent", "2.3.1", "prod")))
	defer tp.Shutdown(ctx)
	tr := tp.Tracer("e2e")
	rctx, root := tr.Start(ctx, "invoice approval", trace.WithTimestamp(base), trace.WithAttributes(
		attribute.String("business_process", "invoice_approval"),
		attribute.String("flow_run_id", "run-0001"),
		attribute.String("risk_tier", "2"),
		attribute.String("tenant", "contoso"),
	))
	_, p := tr.Start(rctx, "llm.prompt", trace.WithTimestamp(base.Add(time.Second)), trace.WithAttributes(
		attribute.String("model", "gpt-4o"), attribute.Int("input_tokens", 812)))
	p.End(trace.WithTimestamp(base.Add(2 * time.Second)))
	_, c := tr.Start(rctx, "llm.completion", trace.WithTimestamp(base.Add(2*time.Second)), trace.WithAttributes(
		attribute.Int("output_tokens", 97), attribute.String("finish_reason", "content_filter")))
	c.End(trace.WithTimestamp(base.Add(3 * time.Second)))
	_, tool := tr.Start(rctx, "llm.tool", trace.WithTimestamp(base.Add(4*time.Second)), trace.WithAttributes(
		attribute.String("tool.name", "erp"), attribute.String("tool.action", "post_payment"),
		attribute.String("status", "error"), attribute.Int("retries", 3), attribute.Int("http_status", 503)))
	tool.End(trace.WithTimestamp(base.Add(9 * time.Second)))
	_, tool2 := tr.Start(rctx, "llm.tool", trace.WithTimestamp(base.Add(10*time.Second)), trace.WithAttributes(
		attribute.String("tool.name", "vendor_lookup"), attribute.String("status", "ok"), attribute.Int("retries", 1), attribute.Int("http_status", 429)))
	tool2.End(trace.WithTimestamp(base.Add(11 * time.Second)))
	root.AddEvent("outcome", trace.WithTimestamp(base.Add(12*time.Second)), trace.WithAttributes(
		attribute.Bool("success", false), attribute.String("escalation", "true"),
		attribute.String("reason_code", "erp_unavailable"), attribute.Int("cycle_time_ms", 11900)))
	root.End(trace.WithTimestamp(base.Add(12 * time.Second)))
	if err := tp.ForceFlush(ctx); err != nil {
		t.Fatalf("export over OTLP/HTTP: %v", err)
	}
	return root.SpanContext().TraceID()
}

// sendGenAITask exports over OTLP/gRPC a task in the GenAI conventions, and its
// outcome as a log record over OTLP/HTTP that arrives BEFORE the spans.
func sendGenAITask(t *testing.T, grpcAddr, httpEndpoint string) trace.TraceID {
	ctx := context.Background()
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(grpcAddr), otlptracegrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res("support-triage", "1.4.0", "staging")))
	defer tp.Shutdown(ctx)
	lexp, err := otlploghttp.New(ctx, otlploghttp.WithEndpointURL(httpEndpoint+"/v1/logs"))
	if err != nil {
		t.Fatal(err)
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(lexp)), sdklog.WithResource(res("support-triage", "1.4.0", "staging")))
	defer lp.Shutdown(ctx)

	tr := tp.Tracer("e2e")
	start := base.Add(time.Minute)
	rctx, root := tr.Start(ctx, "invoke_workflow triage", trace.WithTimestamp(start), trace.WithAttributes(
		attribute.String("gen_ai.operation.name", "invoke_workflow"),
		attribute.String("gen_ai.workflow.name", "ticket_triage"),
		attribute.String("gen_ai.agent.version", "1.5.0"),
		attribute.Int("risk_tier", 1),
	))
	for i := 0; i < 2; i++ {
		_, s := tr.Start(rctx, "chat gpt-4o-mini", trace.WithTimestamp(start.Add(time.Duration(i+1)*time.Second)), trace.WithAttributes(
			attribute.String("gen_ai.operation.name", "chat"), attribute.String("gen_ai.request.model", "gpt-4o-mini"),
			attribute.Int("gen_ai.usage.input_tokens", 300+i), attribute.Int("gen_ai.usage.output_tokens", 40),
			attribute.StringSlice("gen_ai.response.finish_reasons", []string{"stop"})))
		s.End(trace.WithTimestamp(start.Add(time.Duration(i+1)*time.Second + 500*time.Millisecond)))
	}
	_, tool := tr.Start(rctx, "execute_tool crm_lookup", trace.WithTimestamp(start.Add(4*time.Second)), trace.WithAttributes(
		attribute.String("gen_ai.operation.name", "execute_tool"), attribute.String("gen_ai.tool.name", "crm_lookup")))
	tool.SetStatus(codes.Error, "timeout")
	tool.End(trace.WithTimestamp(start.Add(6 * time.Second)))

	// The outcome log record goes out first, before any span is exported.
	var rec otellog.Record
	rec.SetTimestamp(start.Add(20 * time.Second))
	rec.SetEventName("outcome")
	rec.SetBody(attribute.StringValue("task finished"))
	rec.AddAttributes(
		attribute.String("event", "outcome"), attribute.String("success", "true"),
		attribute.Bool("escalation", false), attribute.String("reason_code", "resolved"))
	lp.Logger("e2e").Emit(rctx, rec)
	if err := lp.ForceFlush(ctx); err != nil {
		t.Fatalf("export logs: %v", err)
	}

	root.End(trace.WithTimestamp(start.Add(20 * time.Second)))
	if err := tp.ForceFlush(ctx); err != nil {
		t.Fatalf("export over OTLP/gRPC: %v", err)
	}
	return root.SpanContext().TraceID()
}

// handJSON is an OTLP/JSON request written by hand: hex ids (upper case here),
// int64 as strings, enums as numbers, and the outcome as a span event with string
// booleans.
func handJSON(traceID string) []byte {
	start := base.Add(2 * time.Minute).UnixNano()
	return []byte(fmt.Sprintf(`{"resourceSpans":[{"resource":{"attributes":[
 {"key":"service.name","value":{"stringValue":"invoice-agent"}},
 {"key":"service.version","value":{"stringValue":"2.4.0"}},
 {"key":"deployment.environment","value":{"stringValue":"prod"}}]},
 "scopeSpans":[{"scope":{"name":"hand"},"spans":[
  {"traceId":"%s","spanId":"00000000000000A1","name":"pay vendor","kind":2,
   "startTimeUnixNano":"%d","endTimeUnixNano":"%d",
   "attributes":[{"key":"business_process","value":{"stringValue":"vendor_payment"}},
                 {"key":"flow_run_id","value":{"stringValue":"run-json"}}],
   "events":[{"name":"outcome","timeUnixNano":"%d","attributes":[
     {"key":"success","value":{"stringValue":"true"}},{"key":"escalation","value":{"stringValue":"false"}},
     {"key":"reason_code","value":{"stringValue":"paid"}}]}],
   "status":{"code":1}},
  {"traceId":"%s","spanId":"00000000000000A2","parentSpanId":"00000000000000A1","name":"llm.tool",
   "startTimeUnixNano":"%d","endTimeUnixNano":"%d",
   "attributes":[{"key":"tool.name","value":{"stringValue":"bank"}},{"key":"status","value":{"stringValue":"ok"}},
                 {"key":"retries","value":{"intValue":"2"}}]}
 ]}]}]}`, traceID, start, start+int64(45*time.Second), start+int64(45*time.Second),
		traceID, start+int64(time.Second), start+int64(3*time.Second)))
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, body)
	}
}

func postJSON(t *testing.T, url string, body []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, b)
	}
	if strings.Contains(string(b), "rejected") {
		t.Fatalf("POST %s: partial success %s", url, b)
	}
}

func tasksByID(t *testing.T, a *app.App) map[string]map[string]any {
	var list struct {
		Tasks      []map[string]any `json:"tasks"`
		NextCursor string           `json:"next_cursor"`
	}
	getJSON(t, a.HTTPURL()+"/api/v1/tasks?limit=100", &list)
	out := map[string]map[string]any{}
	for _, task := range list.Tasks {
		out[task["task_id"].(string)] = task
	}
	return out
}

func TestEndToEndIngestThroughOTelSDKAndJSON(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { endToEnd(t, startApp(t, app.Options{})) })
	t.Run("postgres", func(t *testing.T) { endToEnd(t, startApp(t, app.Options{DB: pgtest.DSN(t)})) })
}

// endToEnd sends three tasks by three routes (OTel SDK over OTLP/HTTP protobuf,
// OTel SDK over gRPC with the outcome as an earlier log record, hand-written
// OTLP/JSON) and checks every field the tasks API reports.
func endToEnd(t *testing.T, a *app.App) {

	seedID := sendSeedTask(t, a.OTLPHTTPURL())
	genaiID := sendGenAITask(t, a.OTLPGRPCAddr(), a.HTTPURL()) // logs through the main address
	const jsonID = "5B8EFFF798038103D269B633813FC60C"
	postJSON(t, a.OTLPHTTPURL()+"/v1/traces", handJSON(jsonID))

	tasks := tasksByID(t, a)
	if len(tasks) != 3 {
		t.Fatalf("got %d tasks, want 3: %v", len(tasks), tasks)
	}
	ts := func(d time.Duration) string { return base.Add(d).Format(time.RFC3339Nano) }
	want := map[string]map[string]any{
		seedID.String(): {
			"service": "invoice-agent", "environment": "prod", "version": "2.3.1",
			"business_process": "invoice_approval", "risk_tier": "2", "flow_run_id": "run-0001", "tenant": "contoso",
			"start_time": ts(0), "end_time": ts(12 * time.Second), "cycle_time_ms": 11900.0,
			"success": false, "escalated": true, "reason_code": "erp_unavailable",
			"llm_calls": 1.0, "tool_calls": 2.0, "tool_failures": 1.0, "tool_retries": 4.0,
			"input_tokens": 812.0, "output_tokens": 97.0, "safety_blocks": 1.0, "rate_limit_hits": 1.0,
			"span_count": 5.0, "root_seen": true,
		},
		genaiID.String(): {
			"service": "support-triage", "environment": "staging", "version": "1.5.0",
			"business_process": "ticket_triage", "risk_tier": "1", "flow_run_id": "", "tenant": "",
			"start_time": ts(time.Minute), "end_time": ts(time.Minute + 20*time.Second), "cycle_time_ms": 20000.0,
			"success": true, "escalated": false, "reason_code": "resolved",
			"llm_calls": 2.0, "tool_calls": 1.0, "tool_failures": 1.0, "tool_retries": 0.0,
			"input_tokens": 601.0, "output_tokens": 80.0, "safety_blocks": 0.0, "rate_limit_hits": 0.0,
			"span_count": 4.0, "root_seen": true,
		},
		strings.ToLower(jsonID): {
			"service": "invoice-agent", "environment": "prod", "version": "2.4.0",
			"business_process": "vendor_payment", "risk_tier": "", "flow_run_id": "run-json", "tenant": "",
			"start_time": ts(2 * time.Minute), "end_time": ts(2*time.Minute + 45*time.Second), "cycle_time_ms": 45000.0,
			"success": true, "escalated": false, "reason_code": "paid",
			"llm_calls": 0.0, "tool_calls": 1.0, "tool_failures": 0.0, "tool_retries": 2.0,
			"input_tokens": 0.0, "output_tokens": 0.0, "safety_blocks": 0.0, "rate_limit_hits": 0.0,
			"span_count": 2.0, "root_seen": true,
		},
	}
	for id, fields := range want {
		got, ok := tasks[id]
		if !ok {
			t.Errorf("task %s missing from /api/v1/tasks", id)
			continue
		}
		for k, v := range fields {
			if gv := got[k]; fmt.Sprint(gv) != fmt.Sprint(v) {
				if k == "start_time" || k == "end_time" {
					gt, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(gv))
					wt, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(v))
					if gt.Equal(wt) {
						continue
					}
				}
				t.Errorf("task %s: %s = %v, want %v", id, k, gv, v)
			}
		}
	}

	// Newest first.
	var list struct {
		Tasks []struct {
			TaskID string `json:"task_id"`
		} `json:"tasks"`
	}
	getJSON(t, a.HTTPURL()+"/api/v1/tasks", &list)
	if len(list.Tasks) != 3 || list.Tasks[0].TaskID != strings.ToLower(jsonID) || list.Tasks[2].TaskID != seedID.String() {
		t.Errorf("order = %+v, want the JSON task first and the seed task last", list.Tasks)
	}

	// Redelivery of the same batch counts once.
	postJSON(t, a.OTLPHTTPURL()+"/v1/traces", handJSON(jsonID))
	again := tasksByID(t, a)
	if len(again) != 3 || again[strings.ToLower(jsonID)]["span_count"] != 2.0 || again[strings.ToLower(jsonID)]["tool_retries"] != 2.0 {
		t.Errorf("after redelivery: %d tasks, json task %v", len(again), again[strings.ToLower(jsonID)])
	}

	// The task page has the span tree and the outcome.
	var detail struct {
		TaskID string `json:"task_id"`
		Spans  []struct {
			Name     string                  `json:"name"`
			Events   []struct{ Name string } `json:"events"`
			Children []struct {
				Name       string                `json:"name"`
				Status     struct{ Code string } `json:"status"`
				Attributes map[string]any        `json:"attributes"`
			} `json:"children"`
		} `json:"spans"`
	}
	getJSON(t, a.HTTPURL()+"/api/v1/tasks/"+seedID.String(), &detail)
	if len(detail.Spans) != 1 || detail.Spans[0].Name != "invoice approval" || len(detail.Spans[0].Children) != 4 {
		t.Fatalf("span tree = %+v, want one root with 4 children", detail.Spans)
	}
	if len(detail.Spans[0].Events) != 1 || detail.Spans[0].Events[0].Name != "outcome" {
		t.Errorf("root events = %+v, want the outcome", detail.Spans[0].Events)
	}
	if c := detail.Spans[0].Children[2]; c.Name != "llm.tool" || c.Attributes["http_status"] != 503.0 || c.Attributes["retries"] != 3.0 {
		t.Errorf("third child = %+v, want the failed llm.tool with http_status 503", c)
	}

	var svcs struct {
		Services []struct {
			Service   string `json:"service"`
			TaskCount int    `json:"task_count"`
			Versions  []struct {
				Environment, Version string
				TaskCount            int `json:"task_count"`
			} `json:"versions"`
		} `json:"services"`
	}
	getJSON(t, a.HTTPURL()+"/api/v1/services", &svcs)
	if len(svcs.Services) != 2 || svcs.Services[0].Service != "invoice-agent" || svcs.Services[0].TaskCount != 2 ||
		len(svcs.Services[0].Versions) != 2 || svcs.Services[1].TaskCount != 1 {
		t.Errorf("services = %+v", svcs.Services)
	}

	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(a.HTTPURL() + path)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("GET %s: %v %v", path, resp.StatusCode, err)
		}
		resp.Body.Close()
	}
}

func decodeJSON(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
