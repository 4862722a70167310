package auth

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/day2ops/day2"
)

// UnaryServerInterceptor returns a gRPC interceptor that authenticates each call by
// its "authorization" metadata ("Bearer <token>") and requires scope: a missing or
// unknown token fails with codes.Unauthenticated, a token without the scope with
// codes.PermissionDenied. An empty scope means any valid token will do. The
// handler's context carries the Identity.
func (a *Authenticator) UnaryServerInterceptor(scope Scope) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		id, err := a.authenticateRPC(ctx, scope)
		if err != nil {
			return nil, err
		}
		return handler(WithIdentity(ctx, id), req)
	}
}

// StreamServerInterceptor returns the streaming counterpart of
// UnaryServerInterceptor: it checks the token once, when the stream opens.
func (a *Authenticator) StreamServerInterceptor(scope Scope) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		id, err := a.authenticateRPC(ss.Context(), scope)
		if err != nil {
			return err
		}
		return handler(srv, &identityStream{ServerStream: ss, ctx: WithIdentity(ss.Context(), id)})
	}
}

// authenticateRPC returns the identity of the call in ctx, or a gRPC status error.
func (a *Authenticator) authenticateRPC(ctx context.Context, scope Scope) (Identity, error) {
	var err error
	id := anonymous()
	if !a.open {
		md, _ := metadata.FromIncomingContext(ctx)
		switch v := md.Get("authorization"); len(v) {
		case 0:
			err = day2.Errorf(day2.EUnauthorized, `this call needs a token: send the metadata "authorization: Bearer <token>" with a token from the server's auth file`)
		case 1:
			id, err = a.Authenticate(v[0])
		default:
			err = day2.Errorf(day2.EUnauthorized, "the call has %d authorization metadata values; send exactly one", len(v))
		}
	}
	if err == nil && scope != "" {
		err = id.Require(scope)
	}
	if err == nil {
		return id, nil
	}
	c := codes.Unauthenticated
	if day2.ErrorCode(err) == day2.EForbidden {
		c = codes.PermissionDenied
	}
	return Identity{}, status.Error(c, day2.ErrorMessage(err))
}

// identityStream is a grpc.ServerStream whose context carries the Identity.
type identityStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *identityStream) Context() context.Context { return s.ctx }
