package otlp

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/day2ops/day2"
)

// fuzzLimits are small so that the fuzzer reaches the limit checks easily.
var fuzzLimits = Limits{MaxAttributes: 4, MaxValueLength: 32}

// checkValue fails when v or an element of it is longer than the limit.
func checkValue(t *testing.T, where string, v day2.Value) {
	t.Helper()
	if v.Kind != day2.KindBytes && len(v.Str) > fuzzLimits.MaxValueLength {
		t.Fatalf("%s: value of %d bytes passed the limit of %d", where, len(v.Str), fuzzLimits.MaxValueLength)
	}
	for _, e := range v.Arr {
		checkValue(t, where, e)
	}
}

func checkAttrs(t *testing.T, where string, attrs day2.Attrs) {
	t.Helper()
	if len(attrs) > fuzzLimits.MaxAttributes {
		t.Fatalf("%s: %d attributes passed the limit of %d", where, len(attrs), fuzzLimits.MaxAttributes)
	}
	for _, a := range attrs {
		checkValue(t, where, a.Value)
	}
}

// checkTasks asserts what the conversion promises whatever the input.
func checkTasks(t *testing.T, tasks []day2.TaskData, rej Rejections) {
	t.Helper()
	stored := 0
	seen := make(map[day2.TraceID]bool)
	for _, task := range tasks {
		if task.TraceID.IsZero() {
			t.Fatal("a task with the zero trace id")
		}
		if seen[task.TraceID] {
			t.Fatalf("trace %s split over two tasks", task.TraceID)
		}
		seen[task.TraceID] = true
		if len(task.Spans)+len(task.Logs) == 0 {
			t.Fatalf("task %s is empty", task.TraceID)
		}
		for _, sp := range task.Spans {
			if sp.TraceID != task.TraceID || sp.SpanID.IsZero() || sp.Resource == nil {
				t.Fatalf("span %v in task %s: bad ids or no resource", sp, task.TraceID)
			}
			checkAttrs(t, sp.String(), sp.Attrs)
			for _, ev := range sp.Events {
				checkAttrs(t, sp.String()+" event "+ev.Name, ev.Attrs)
			}
		}
		for _, lr := range task.Logs {
			if lr.TraceID != task.TraceID || lr.Resource == nil {
				t.Fatalf("log record of trace %s in task %s", lr.TraceID, task.TraceID)
			}
			if len(lr.Body) > fuzzLimits.MaxValueLength {
				t.Fatalf("log body of %d bytes passed the limit", len(lr.Body))
			}
			checkAttrs(t, "log record", lr.Attrs)
		}
		stored += len(task.Spans) + len(task.Logs)
	}
	if stored+rej.Rejected+rej.Dropped != rej.Received {
		t.Fatalf("stored %d + rejected %d + dropped %d != received %d", stored, rej.Rejected, rej.Dropped, rej.Received)
	}
	if (rej.Rejected > 0) != (rej.Message != "") {
		t.Fatalf("rejected %d with message %q", rej.Rejected, rej.Message)
	}
}

func FuzzTracesJSON(f *testing.F) {
	f.Add(readTestdata(f, "agent_task.json"))
	f.Add(marshalTracesJSON(f, realisticTraces(1)))
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5B8EFFF798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"x","attributes":[{"key":"a","value":{"arrayValue":{"values":[{"kvlistValue":{"values":[{"key":"k","value":{"bytesValue":"AQID"}}]}}]}}}]}]}]}]}`))
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"","spanId":"eee19b7ec3c1b174"}]}]}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		req := ptraceotlp.NewExportRequest()
		if err := req.UnmarshalJSON(data); err != nil {
			return
		}
		tasks, rej := TracesToTasks(req.Traces(), fuzzLimits)
		checkTasks(t, tasks, rej)
	})
}

func FuzzLogsJSON(f *testing.F) {
	f.Add(readTestdata(f, "agent_logs.json"))
	f.Add([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"5b8efff798038103d269b633813fc60c","body":{"kvlistValue":{"values":[{"key":"k","value":{"doubleValue":"NaN"}}]}}}]}]}]}`))
	f.Add([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"no trace"}}]}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		req := plogotlp.NewExportRequest()
		if err := req.UnmarshalJSON(data); err != nil {
			return
		}
		tasks, rej := LogsToTasks(req.Logs(), fuzzLimits)
		checkTasks(t, tasks, rej)
		// Converting the same request again gives the same record ids.
		again, _ := LogsToTasks(req.Logs(), fuzzLimits)
		for i := range tasks {
			for j := range tasks[i].Logs {
				if tasks[i].Logs[j].ID != again[i].Logs[j].ID {
					t.Fatalf("log record id not stable: %x then %x", tasks[i].Logs[j].ID, again[i].Logs[j].ID)
				}
			}
		}
	})
}

func FuzzTracesProto(f *testing.F) {
	f.Add(marshalTracesProto(f, decodeTracesJSON(f, readTestdata(f, "agent_task.json"))))
	f.Add(marshalTracesProto(f, realisticTraces(1)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		req := ptraceotlp.NewExportRequest()
		if err := req.UnmarshalProto(data); err != nil {
			return
		}
		tasks, rej := TracesToTasks(req.Traces(), fuzzLimits)
		checkTasks(t, tasks, rej)
	})
}
