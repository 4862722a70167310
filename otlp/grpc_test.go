package otlp

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/status"

	"github.com/day2ops/day2"
)

// startGRPC serves a receiver for sink on a loopback port and returns a client
// connection to it.
func startGRPC(t *testing.T, sink Sink, lim Limits) (*grpc.ClientConn, *Receiver) {
	t.Helper()
	recv, err := NewReceiver(sink, lim, WithRetryAfter(1500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(GRPCServerOptions(lim)...)
	recv.RegisterGRPC(srv)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
		<-done
	})
	return conn, recv
}

func TestGRPCTraces(t *testing.T) {
	fixture := decodeTracesJSON(t, readTestdata(t, "agent_task.json"))
	partial, ss := tracesOf()
	newSpan(ss, traceID(1), spanID(1), "ok")
	newSpan(ss, traceID(1), pcommon.SpanID{}, "no.span.id")
	allBad, ss2 := tracesOf()
	newSpan(ss2, pcommon.TraceID{}, spanID(1), "no.trace.id")

	tests := []struct {
		name         string
		traces       ptrace.Traces
		sinkErr      error
		callOpts     []grpc.CallOption
		lim          Limits
		wantCode     codes.Code
		wantMessage  string
		wantRejected int64
		wantRetry    time.Duration
		wantStored   int
	}{
		{name: "the fixture is stored", traces: fixture, wantCode: codes.OK, wantStored: 5},
		{name: "gzip-compressed calls are accepted", traces: fixture, callOpts: []grpc.CallOption{grpc.UseCompressor(gzip.Name)}, wantCode: codes.OK, wantStored: 5},
		{name: "an empty request is accepted", traces: ptrace.NewTraces(), wantCode: codes.OK},
		{
			name: "partial success", traces: partial, wantCode: codes.OK, wantStored: 1,
			wantRejected: 1, wantMessage: `rejected 1 of 2 spans: span "no.span.id" (trace 5b8efff7980381030000000000000001, span 0000000000000000) has an invalid all-zero span id`,
		},
		{name: "every span rejected", traces: allBad, wantCode: codes.InvalidArgument, wantMessage: "rejected 1 of 1 spans"},
		{
			name: "an overloaded sink", traces: fixture, sinkErr: day2.Errorf(day2.EOverloaded, "the ingest queue is full; retry later"),
			wantCode: codes.Unavailable, wantMessage: "the ingest queue is full", wantRetry: 1500 * time.Millisecond,
		},
		{
			name: "an unavailable sink", traces: fixture, sinkErr: day2.Errorf(day2.EUnavailable, "day2 is shutting down"),
			wantCode: codes.Unavailable, wantMessage: "day2 is shutting down", wantRetry: 1500 * time.Millisecond,
		},
		{
			name: "a failing sink hides the details", traces: fixture, sinkErr: errors.New("secret detail"),
			wantCode: codes.Internal, wantMessage: "internal error while storing spans",
		},
		{
			name: "a message over the body limit", traces: realisticTraces(10), lim: Limits{MaxBodyBytes: 1024},
			wantCode: codes.ResourceExhausted, wantMessage: "larger than max",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := &collectSink{err: tc.sinkErr}
			conn, recv := startGRPC(t, sink, tc.lim)
			client := ptraceotlp.NewGRPCClient(conn)
			resp, err := client.Export(context.Background(), ptraceotlp.NewExportRequestFromTraces(tc.traces), tc.callOpts...)
			st := status.Convert(err)
			if st.Code() != tc.wantCode {
				t.Fatalf("code = %v (%s), want %v", st.Code(), st.Message(), tc.wantCode)
			}
			msg := st.Message()
			if err == nil {
				ps := resp.PartialSuccess()
				if ps.RejectedSpans() != tc.wantRejected {
					t.Errorf("rejected spans = %d, want %d", ps.RejectedSpans(), tc.wantRejected)
				}
				msg = ps.ErrorMessage()
			}
			if !strings.Contains(msg, tc.wantMessage) || strings.Contains(msg, "secret") {
				t.Errorf("message %q, want one containing %q", msg, tc.wantMessage)
			}
			var retry time.Duration
			for _, d := range st.Details() {
				if ri, ok := d.(*errdetails.RetryInfo); ok {
					retry = ri.GetRetryDelay().AsDuration()
				}
			}
			if retry != tc.wantRetry {
				t.Errorf("RetryInfo delay = %v, want %v", retry, tc.wantRetry)
			}
			if got := len(sink.spans()); got != tc.wantStored {
				t.Errorf("stored %d spans, want %d", got, tc.wantStored)
			}
			// gRPC itself refuses oversized messages before the receiver sees them.
			wantCounted := 1.0
			if tc.wantCode == codes.ResourceExhausted {
				wantCounted = 0
			}
			if got := counterValue(t, recv.m.requests.WithLabelValues("grpc", "traces", tc.wantCode.String())); got != wantCounted {
				t.Errorf("day2_otlp_requests_total{transport=grpc,signal=traces,code=%s} = %v, want %v", tc.wantCode, got, wantCounted)
			}
		})
	}
}

func TestGRPCLogs(t *testing.T) {
	sink := &collectSink{}
	conn, _ := startGRPC(t, sink, Limits{})
	client := plogotlp.NewGRPCClient(conn)
	ld := decodeLogsJSON(t, readTestdata(t, "agent_logs.json"))
	resp, err := client.Export(context.Background(), plogotlp.NewExportRequestFromLogs(ld))
	if err != nil {
		t.Fatal(err)
	}
	if ps := resp.PartialSuccess(); ps.RejectedLogRecords() != 0 || ps.ErrorMessage() != "" {
		t.Errorf("partial success %d %q", ps.RejectedLogRecords(), ps.ErrorMessage())
	}
	logs := sink.logs()
	if len(logs) != 2 || logs[0].EventName != "outcome" {
		t.Errorf("stored %+v", logs)
	}

	// The same records over HTTP/JSON and gRPC/protobuf get the same ids, so an
	// exporter switching transports does not duplicate them.
	tasks, _ := LogsToTasks(decodeLogsJSON(t, readTestdata(t, "agent_logs.json")), Limits{})
	for i := range logs {
		if logs[i].ID != tasks[0].Logs[i].ID {
			t.Errorf("record %d: id %x over gRPC, %x converted directly", i, logs[i].ID, tasks[0].Logs[i].ID)
		}
	}
}
