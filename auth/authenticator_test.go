package auth

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/day2ops/day2"
)

// The tokens of testdata/auth.yaml.
const (
	aliceToken = "alice-token-0123456789abcdef" // stored as token_sha256
	agentToken = "ingest-token-0123456789abcdef"
	bobToken   = "bob-token-0123456789abcdef"
	rootToken  = "admin-token-0123456789abcdef"
)

func loadSample(t *testing.T) *Authenticator {
	t.Helper()
	a, err := LoadFile(filepath.Join("testdata", "auth.yaml"))
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	return a
}

func TestAuthenticate(t *testing.T) {
	a := loadSample(t)
	tests := []struct {
		name     string
		header   string
		wantName string // "" when an error is expected
		wantMsg  string // a fragment of the error message
	}{
		{name: "a plain token", header: "Bearer " + bobToken, wantName: "bob"},
		{name: "a token stored as token_sha256", header: "Bearer " + aliceToken, wantName: "alice"},
		{name: "the scheme is case-insensitive", header: "bearer " + agentToken, wantName: "agent-fleet"},
		{name: "extra spaces around the token", header: "BEARER   " + rootToken + " ", wantName: "root"},
		{name: "a missing header", header: "", wantMsg: `send the header "Authorization: Bearer <token>"`},
		{name: "an unknown token", header: "Bearer " + bobToken + "x", wantMsg: "the token is not known to this server"},
		{name: "the sha256 itself is not a token", header: "Bearer " + HashToken(aliceToken), wantMsg: "not known"},
		{name: "the basic scheme", header: "Basic " + bobToken, wantMsg: `not of the form "Bearer <token>"`},
		{name: "a token without a scheme", header: bobToken, wantMsg: `not of the form "Bearer <token>"`},
		{name: "the scheme without a token", header: "Bearer ", wantMsg: `not of the form "Bearer <token>"`},
		{name: "two words after the scheme", header: "Bearer " + bobToken + " " + aliceToken, wantMsg: `not of the form`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := a.Authenticate(tt.header)
			if tt.wantName != "" {
				if err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				if id.Name != tt.wantName {
					t.Fatalf("identity = %q, want %q", id.Name, tt.wantName)
				}
				return
			}
			if err == nil {
				t.Fatalf("Authenticate returned %+v, want an error", id)
			}
			if code := day2.ErrorCode(err); code != day2.EUnauthorized {
				t.Errorf("code = %q, want %q", code, day2.EUnauthorized)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
			for _, tok := range []string{aliceToken, agentToken, bobToken, rootToken} {
				if strings.Contains(err.Error(), tok) {
					t.Errorf("error %q repeats a token", err)
				}
			}
		})
	}
}

func TestAuthenticateReturnsACopy(t *testing.T) {
	a := loadSample(t)
	id, err := a.AuthenticateToken(aliceToken)
	if err != nil {
		t.Fatal(err)
	}
	id.Scopes[0] = ScopeAdmin
	id.Groups[0] = "root"
	again, _ := a.AuthenticateToken(aliceToken)
	if again.Has(ScopeAdmin) || again.InGroup("root") {
		t.Fatalf("changing a returned identity changed the authenticator: %+v", again)
	}
}

func TestAuthenticateTokenEmpty(t *testing.T) {
	_, err := loadSample(t).AuthenticateToken("")
	if day2.ErrorCode(err) != day2.EUnauthorized {
		t.Fatalf("AuthenticateToken(\"\") = %v, want unauthorized", err)
	}
}

func TestOpen(t *testing.T) {
	a := Open()
	if !a.IsOpen() {
		t.Fatal("Open().IsOpen() = false")
	}
	for _, h := range []string{"", "Bearer whatever-it-is-here", "garbage"} {
		id, err := a.Authenticate(h)
		if err != nil {
			t.Fatalf("Authenticate(%q): %v", h, err)
		}
		if id.Name != AnonymousName {
			t.Errorf("Authenticate(%q) name = %q, want %q", h, id.Name, AnonymousName)
		}
		for _, s := range AllScopes() {
			if !id.Has(s) {
				t.Errorf("the anonymous identity lacks %q", s)
			}
		}
	}
}

func TestHashToken(t *testing.T) {
	// sha256("test"), as `printf %s test | sha256sum` prints it.
	const want = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	if got := HashToken("test"); got != want {
		t.Fatalf("HashToken(\"test\") = %s, want %s", got, want)
	}
}

func TestScopes(t *testing.T) {
	tests := []struct {
		name   string
		scopes []Scope
		has    []Scope
		hasNot []Scope
	}{
		{
			name:   "admin implies read, operate and approve but not ingest",
			scopes: []Scope{ScopeAdmin},
			has:    []Scope{ScopeAdmin, ScopeRead, ScopeOperate, ScopeApprove},
			hasNot: []Scope{ScopeIngest},
		},
		{
			name:   "ingest implies nothing",
			scopes: []Scope{ScopeIngest},
			has:    []Scope{ScopeIngest},
			hasNot: []Scope{ScopeRead, ScopeOperate, ScopeApprove, ScopeAdmin},
		},
		{
			name:   "operate does not imply read or approve",
			scopes: []Scope{ScopeOperate},
			has:    []Scope{ScopeOperate},
			hasNot: []Scope{ScopeRead, ScopeApprove, ScopeAdmin, ScopeIngest},
		},
		{
			name:   "approve does not imply operate",
			scopes: []Scope{ScopeRead, ScopeApprove},
			has:    []Scope{ScopeRead, ScopeApprove},
			hasNot: []Scope{ScopeOperate, ScopeAdmin, ScopeIngest},
		},
		{
			name:   "no scopes hold nothing, not even the empty scope",
			hasNot: []Scope{"", ScopeRead, ScopeIngest, ScopeAdmin},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := Identity{Name: "x", Scopes: tt.scopes}
			for _, s := range tt.has {
				if !id.Has(s) {
					t.Errorf("Has(%q) = false, want true", s)
				}
				if err := id.Require(s); err != nil {
					t.Errorf("Require(%q) = %v", s, err)
				}
			}
			for _, s := range tt.hasNot {
				if id.Has(s) {
					t.Errorf("Has(%q) = true, want false", s)
				}
				if err := id.Require(s); day2.ErrorCode(err) != day2.EForbidden {
					t.Errorf("Require(%q) = %v, want a forbidden error", s, err)
				}
			}
		})
	}
}

func TestRequireMessage(t *testing.T) {
	err := Identity{Name: "bob", Scopes: []Scope{ScopeRead}}.Require(ScopeOperate)
	want := `token "bob" lacks the "operate" scope this request needs; add operate (or admin) to its scopes in the auth file`
	if err == nil || err.Error() != want {
		t.Fatalf("Require = %v, want %q", err, want)
	}
	err = Identity{Name: "root", Scopes: []Scope{ScopeAdmin}}.Require(ScopeIngest)
	want = `token "root" lacks the "ingest" scope this request needs; add ingest to its scopes in the auth file`
	if err == nil || err.Error() != want {
		t.Fatalf("Require = %v, want %q", err, want)
	}
}

func TestParseScope(t *testing.T) {
	for _, s := range AllScopes() {
		if got, err := ParseScope(string(s)); err != nil || got != s {
			t.Errorf("ParseScope(%q) = %q, %v", s, got, err)
		}
	}
	_, err := ParseScope("root")
	if day2.ErrorCode(err) != day2.EInvalid || !strings.Contains(err.Error(), "valid scopes are ingest, read, operate, approve, admin") {
		t.Errorf("ParseScope(\"root\") = %v", err)
	}
}

func TestInGroup(t *testing.T) {
	id := Identity{Name: "alice", Groups: []string{"ops", "manager"}}
	if !id.InGroup("ops") || !id.InGroup("manager") {
		t.Error("InGroup misses a group the identity is in")
	}
	if id.InGroup("Ops") || id.InGroup("") || id.InGroup("security") {
		t.Error("InGroup matches a group the identity is not in")
	}
}

func TestContext(t *testing.T) {
	if _, ok := FromContext(context.Background()); ok {
		t.Fatal("FromContext found an identity in an empty context")
	}
	want := Identity{Name: "alice", Groups: []string{"ops"}, Scopes: []Scope{ScopeRead}}
	got, ok := FromContext(WithIdentity(context.Background(), want))
	if !ok || got.Name != want.Name || !slices.Equal(got.Groups, want.Groups) || !slices.Equal(got.Scopes, want.Scopes) {
		t.Fatalf("FromContext = %+v, %v; want %+v", got, ok, want)
	}
}
