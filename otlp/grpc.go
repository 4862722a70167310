package otlp

import (
	"context"
	"math"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // OTLP exporters may compress with gzip
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/day2ops/day2"
)

// GRPCServerOptions returns the options a gRPC server needs to serve OTLP under
// lim: the receive message size limit is the body limit, checked by gRPC after
// decompression.
func GRPCServerOptions(lim Limits) []grpc.ServerOption {
	lim = lim.withDefaults()
	return []grpc.ServerOption{grpc.MaxRecvMsgSize(int(min(lim.MaxBodyBytes, math.MaxInt)))}
}

// RegisterGRPC registers the OTLP trace and logs services on s.
func (r *Receiver) RegisterGRPC(s *grpc.Server) {
	ptraceotlp.RegisterGRPCServer(s, r.TraceServer())
	plogotlp.RegisterGRPCServer(s, r.LogsServer())
}

// TraceServer returns the OTLP/gRPC trace service
// (opentelemetry.proto.collector.trace.v1.TraceService).
func (r *Receiver) TraceServer() ptraceotlp.GRPCServer { return &traceServer{r: r} }

// LogsServer returns the OTLP/gRPC logs service
// (opentelemetry.proto.collector.logs.v1.LogsService).
func (r *Receiver) LogsServer() plogotlp.GRPCServer { return &logsServer{r: r} }

type traceServer struct {
	ptraceotlp.UnimplementedGRPCServer
	r *Receiver
}

// Export implements ptraceotlp.GRPCServer.
func (s *traceServer) Export(ctx context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	tasks, rej := TracesToTasks(req.Traces(), s.r.lim)
	if err := s.r.exportGRPC(ctx, tracesSignal, tasks, rej); err != nil {
		return ptraceotlp.NewExportResponse(), err
	}
	return tracesResponse(rej), nil
}

type logsServer struct {
	plogotlp.UnimplementedGRPCServer
	r *Receiver
}

// Export implements plogotlp.GRPCServer.
func (s *logsServer) Export(ctx context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	tasks, rej := LogsToTasks(req.Logs(), s.r.lim)
	if err := s.r.exportGRPC(ctx, logsSignal, tasks, rej); err != nil {
		return plogotlp.NewExportResponse(), err
	}
	return logsResponse(rej), nil
}

// exportGRPC stores a converted request and returns the gRPC status error for
// its outcome, or nil when the response should be sent.
func (r *Receiver) exportGRPC(ctx context.Context, sig *signal, tasks []day2.TaskData, rej Rejections) error {
	oc, msg := r.store(ctx, sig, "grpc", tasks, rej)
	var st *status.Status
	switch oc {
	case accepted:
		r.m.requests.WithLabelValues("grpc", sig.name, codes.OK.String()).Inc()
		return nil
	case invalid:
		st = status.New(codes.InvalidArgument, msg)
	case overloaded, unavailable:
		// OTLP: UNAVAILABLE is the retryable code; RetryInfo says how long to wait.
		st = status.New(codes.Unavailable, msg)
		if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(r.retryAfter)}); err == nil {
			st = d
		}
	case canceled:
		st = status.FromContextError(ctx.Err())
		if st.Code() == codes.Unknown {
			st = status.New(codes.Canceled, msg)
		}
	default:
		st = status.New(codes.Internal, msg)
	}
	r.m.requests.WithLabelValues("grpc", sig.name, st.Code().String()).Inc()
	return st.Err()
}
