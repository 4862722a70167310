package auth

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// recorder is a gRPC interceptor pair, chained after the auth interceptors, that
// remembers the identity each call's context carried.
type recorder struct {
	mu   sync.Mutex
	last string
}

func (r *recorder) record(ctx context.Context) {
	id, ok := FromContext(ctx)
	name := "<none>"
	if ok {
		name = id.Name
	}
	r.mu.Lock()
	r.last = name
	r.mu.Unlock()
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.last = ""
	r.mu.Unlock()
}

func (r *recorder) lastName() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// startGRPC serves the standard health service on a loopback port behind a's
// interceptors requiring scope, and returns a client for it.
func startGRPC(t *testing.T, a *Authenticator, scope Scope) (healthpb.HealthClient, *recorder) {
	t.Helper()
	rec := &recorder{}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor(scope),
			func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
				rec.record(ctx)
				return h(ctx, req)
			}),
		grpc.ChainStreamInterceptor(a.StreamServerInterceptor(scope),
			func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
				rec.record(ss.Context())
				return h(srv, ss)
			}),
	)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///"+lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return healthpb.NewHealthClient(conn), rec
}

type grpcCase struct {
	name     string
	md       []string // authorization metadata values
	wantCode codes.Code
	wantName string // the identity the service saw, when wantCode is OK
	wantMsg  string // a fragment of the status message otherwise
}

var grpcCases = []grpcCase{
	{name: "no token", wantCode: codes.Unauthenticated, wantMsg: `"authorization: Bearer <token>"`},
	{name: "an unknown token", md: []string{"Bearer not-a-known-token-at-all"}, wantCode: codes.Unauthenticated, wantMsg: "not known"},
	{name: "a malformed value", md: []string{agentToken}, wantCode: codes.Unauthenticated, wantMsg: `not of the form "Bearer <token>"`},
	{name: "two values", md: []string{"Bearer " + agentToken, "Bearer " + bobToken}, wantCode: codes.Unauthenticated, wantMsg: "2 authorization metadata values"},
	{name: "the scope", md: []string{"Bearer " + agentToken}, wantCode: codes.OK, wantName: "agent-fleet"},
	{name: "the scheme is case-insensitive", md: []string{"bearer " + agentToken}, wantCode: codes.OK, wantName: "agent-fleet"},
	{name: "read is not ingest", md: []string{"Bearer " + bobToken}, wantCode: codes.PermissionDenied, wantMsg: `token "bob" lacks the "ingest" scope`},
	{name: "admin is not ingest", md: []string{"Bearer " + rootToken}, wantCode: codes.PermissionDenied, wantMsg: `lacks the "ingest" scope`},
}

func outgoing(md []string) context.Context {
	ctx := context.Background()
	for _, v := range md {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", v)
	}
	return ctx
}

func checkStatus(t *testing.T, err error, tt grpcCase, rec *recorder) {
	t.Helper()
	if code := status.Code(err); code != tt.wantCode {
		t.Fatalf("code = %v, want %v (%v)", code, tt.wantCode, err)
	}
	if tt.wantCode == codes.OK {
		if got := rec.lastName(); got != tt.wantName {
			t.Errorf("the service saw identity %q, want %q", got, tt.wantName)
		}
		return
	}
	msg := status.Convert(err).Message()
	if !strings.Contains(msg, tt.wantMsg) {
		t.Errorf("message %q does not contain %q", msg, tt.wantMsg)
	}
	for _, tok := range []string{agentToken, bobToken, rootToken} {
		if strings.Contains(msg, tok) {
			t.Errorf("message %q repeats a token", msg)
		}
	}
}

func TestUnaryServerInterceptor(t *testing.T) {
	client, rec := startGRPC(t, loadSample(t), ScopeIngest)
	for _, tt := range grpcCases {
		t.Run(tt.name, func(t *testing.T) {
			rec.reset()
			resp, err := client.Check(outgoing(tt.md), &healthpb.HealthCheckRequest{})
			checkStatus(t, err, tt, rec)
			if err == nil && resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("health status = %v", resp.GetStatus())
			}
		})
	}
}

func TestStreamServerInterceptor(t *testing.T) {
	client, rec := startGRPC(t, loadSample(t), ScopeIngest)
	for _, tt := range grpcCases {
		t.Run(tt.name, func(t *testing.T) {
			rec.reset()
			ctx, cancel := context.WithCancel(outgoing(tt.md))
			defer cancel()
			stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{})
			if err != nil {
				t.Fatalf("Watch: %v", err)
			}
			// A server-streaming call reports the interceptor's verdict on the first Recv.
			resp, err := stream.Recv()
			checkStatus(t, err, tt, rec)
			if err == nil && resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("health status = %v", resp.GetStatus())
			}
		})
	}
}

func TestInterceptorsOpen(t *testing.T) {
	client, rec := startGRPC(t, Open(), ScopeIngest)
	if _, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("Check without a token on an Open authenticator: %v", err)
	}
	if got := rec.lastName(); got != AnonymousName {
		t.Errorf("the service saw identity %q, want %q", got, AnonymousName)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("Watch without a token on an Open authenticator: %v", err)
	}
}

func TestInterceptorEmptyScope(t *testing.T) {
	client, rec := startGRPC(t, loadSample(t), "")
	if _, err := client.Check(outgoing([]string{"Bearer " + bobToken}), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("Check with any valid token: %v", err)
	}
	if got := rec.lastName(); got != "bob" {
		t.Errorf("the service saw identity %q, want bob", got)
	}
	_, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{})
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("Check without a token = %v, want Unauthenticated", err)
	}
}
