// Package auth decides who is calling day2 and what they may do: it loads the auth
// file, checks bearer tokens in constant time, guards HTTP routes and gRPC services
// by scope, and refuses to expose an unauthenticated server beyond loopback.
//
// # Security defaults
//
// Without an auth file day2 runs Open: every request is served as the local
// "anonymous" identity, which holds every scope. That is only safe on a laptop, so
// CheckListenAddr refuses any non-loopback listen address (including ":8080", which
// means all interfaces) unless --auth-file is given, or --insecure says a proxy in
// front of day2 does the authentication.
//
// # The auth file
//
// With --auth-file FILE every OTLP request needs a token with the ingest scope and
// every API request a token with the scope its route asks for, sent as
// "Authorization: Bearer <token>" (or, for the web UI, in the day2_token cookie).
// The file is YAML:
//
//	tokens:
//	  - name: alice              # the identity recorded in audit logs and approvals
//	    token_sha256: "9f86d0…"  # hex SHA-256 of the token; or token: "<the token>"
//	    scopes: [read, operate, approve]
//	    groups: [ops, manager]
//	  - name: agent-fleet
//	    token: "…"               # at least 16 characters
//	    scopes: [ingest]
//
// token_sha256 lets the file hold no secret: HashToken (exposed as
// `day2 auth hash-token`) prints the value for a token, and a token can be made with
// `openssl rand -hex 32`. Each entry needs a unique name, exactly one of token and
// token_sha256, a unique token, and at least one scope. Parse rejects unknown keys
// and names the file and line of every problem; it never repeats a token in an
// error, and this package never logs.
//
// # Scopes
//
// The scopes are ingest (send OTLP telemetry), read (use the read-only API and
// dashboard), operate (change flags, weights, rollouts, incidents), approve (decide
// approval requests) and admin. They are independent, with one exception: admin
// implies read, operate and approve, because an operator expects the administrator to
// be able to do anything a person can do. Admin does not imply ingest: ingest tokens
// are machine credentials copied into every agent's configuration, and keeping them
// apart means an administrator's token never works there and so never ends up there.
// Likewise ingest implies nothing, so a token leaked from an agent cannot read data.
// Operate and approve do not imply read: give a person [read, operate] to let them
// look before they change.
package auth

import (
	"context"
	"slices"
	"strings"

	"github.com/day2ops/day2"
)

// Scope names a right a token grants.
type Scope string

// The scopes a token can hold; see the package documentation for what each grants.
const (
	ScopeIngest  Scope = "ingest"
	ScopeRead    Scope = "read"
	ScopeOperate Scope = "operate"
	ScopeApprove Scope = "approve"
	ScopeAdmin   Scope = "admin"
)

// AllScopes returns every scope, in the order the documentation lists them.
func AllScopes() []Scope {
	return []Scope{ScopeIngest, ScopeRead, ScopeOperate, ScopeApprove, ScopeAdmin}
}

// Valid reports whether s is one of the defined scopes.
func (s Scope) Valid() bool {
	return slices.Contains(AllScopes(), s)
}

// ParseScope returns the scope named s, or an EInvalid error listing the valid ones.
func ParseScope(s string) (Scope, error) {
	if sc := Scope(s); sc.Valid() {
		return sc, nil
	}
	return "", day2.Errorf(day2.EInvalid, "unknown scope %q; valid scopes are %s", s, scopeList())
}

// scopeList returns the valid scopes as "ingest, read, operate, approve, admin".
func scopeList() string {
	names := make([]string, 0, 5)
	for _, s := range AllScopes() {
		names = append(names, string(s))
	}
	return strings.Join(names, ", ")
}

// AnonymousName is the name of the identity an Open authenticator gives every
// request; Parse refuses it as a token name so audit logs stay unambiguous.
const AnonymousName = "anonymous"

// Identity is an authenticated caller: the name recorded in audit logs and
// approvals, the groups approvals can be routed to, and the scopes the token grants.
// Treat Groups and Scopes as read-only.
type Identity struct {
	Name   string
	Groups []string
	Scopes []Scope
}

// Has reports whether the identity holds scope s, either directly or, for read,
// operate and approve, through admin.
func (id Identity) Has(s Scope) bool {
	if slices.Contains(id.Scopes, s) {
		return true
	}
	switch s {
	case ScopeRead, ScopeOperate, ScopeApprove:
		return slices.Contains(id.Scopes, ScopeAdmin)
	}
	return false
}

// InGroup reports whether the identity is a member of group g (exact match).
func (id Identity) InGroup(g string) bool {
	return slices.Contains(id.Groups, g)
}

// Require returns nil if the identity holds scope s, and otherwise an EForbidden
// error that names the identity and the missing scope.
func (id Identity) Require(s Scope) error {
	if id.Has(s) {
		return nil
	}
	hint := "add " + string(s) + " to its scopes in the auth file"
	if s == ScopeRead || s == ScopeOperate || s == ScopeApprove {
		hint = "add " + string(s) + " (or admin) to its scopes in the auth file"
	}
	return day2.Errorf(day2.EForbidden, "token %q lacks the %q scope this request needs; %s", id.Name, s, hint)
}

// clone returns a copy of id whose slices the caller may keep or change.
func (id Identity) clone() Identity {
	return Identity{Name: id.Name, Groups: slices.Clone(id.Groups), Scopes: slices.Clone(id.Scopes)}
}

type identityKey struct{}

// WithIdentity returns a copy of ctx that carries id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// FromContext returns the identity WithIdentity stored in ctx, and whether there
// was one.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}
