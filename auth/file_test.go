package auth

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/day2ops/day2"
)

func TestLoadFileSample(t *testing.T) {
	a, err := LoadFile(filepath.Join("testdata", "auth.yaml"))
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	if a.IsOpen() {
		t.Fatal("an authenticator from a file reports IsOpen")
	}
	want := []Identity{
		{Name: "alice", Groups: []string{"ops", "manager"}, Scopes: []Scope{ScopeRead, ScopeOperate, ScopeApprove}},
		{Name: "agent-fleet", Scopes: []Scope{ScopeIngest}},
		{Name: "bob", Groups: []string{"support"}, Scopes: []Scope{ScopeRead}},
		{Name: "root", Groups: []string{"platform"}, Scopes: []Scope{ScopeAdmin}},
	}
	if len(a.entries) != len(want) {
		t.Fatalf("got %d entries, want %d", len(a.entries), len(want))
	}
	for i, w := range want {
		got := a.entries[i].id
		if got.Name != w.Name || !slices.Equal(got.Groups, w.Groups) || !slices.Equal(got.Scopes, w.Scopes) {
			t.Errorf("entry %d = %+v, want %+v", i, got, w)
		}
	}
}

func TestLoadFileMissing(t *testing.T) {
	_, err := LoadFile(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "read auth file") {
		t.Fatalf("LoadFile of a missing file = %v, want a read error", err)
	}
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []Identity
	}{
		{
			name: "an uppercase token_sha256 is accepted",
			yaml: `
tokens:
  - name: alice
    token_sha256: "` + strings.ToUpper(HashToken("alice-token-0123456789abcdef")) + `"
    scopes: [read]
`,
			want: []Identity{{Name: "alice", Scopes: []Scope{ScopeRead}}},
		},
		{
			name: "anchors share a scope list and repeated scopes and groups collapse",
			yaml: `
tokens:
  - name: alice
    token: "alice-token-0123456789abcdef"
    scopes: &people [read, operate, read]
    groups: [ops, ops]
  - name: bob
    token: "bob-token-0123456789abcdef"
    scopes: *people
`,
			want: []Identity{
				{Name: "alice", Groups: []string{"ops"}, Scopes: []Scope{ScopeRead, ScopeOperate}},
				{Name: "bob", Scopes: []Scope{ScopeRead, ScopeOperate}},
			},
		},
		{
			name: "block-style lists and an empty groups key are accepted",
			yaml: `
tokens:
- name: agent
  token: ingest-token-0123456789abcdef
  scopes:
    - ingest
  groups:
`,
			want: []Identity{{Name: "agent", Scopes: []Scope{ScopeIngest}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Parse([]byte(tt.yaml), "auth.yaml")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			var got []Identity
			for _, e := range a.entries {
				got = append(got, e.id)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if g.Name != w.Name || !slices.Equal(g.Groups, w.Groups) || !slices.Equal(g.Scopes, w.Scopes) {
					t.Errorf("identity %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

// secret appears in the invalid files below as (part of) every token value; no
// error message may contain it.
const secret = "s3cr3t"

func TestParseInvalid(t *testing.T) {
	goodHash := HashToken("a-token-that-is-long-enough")
	tests := []struct {
		name string
		yaml string
		want string // a fragment of the message, with the file:line prefix
	}{
		{
			name: "an empty file",
			yaml: "",
			want: "x.yaml:1: the auth file is empty",
		},
		{
			name: "a file of only comments",
			yaml: "# nothing here\n",
			want: "x.yaml:1: the auth file is empty",
		},
		{
			name: "a top-level list",
			yaml: "- name: alice\n",
			want: "x.yaml:1: the auth file must be a mapping with a tokens: list",
		},
		{
			name: "an unknown top-level key",
			yaml: "version: 1\ntokens:\n  - name: a\n    token: s3cr3t-s3cr3t-s3cr3t\n    scopes: [read]\n",
			want: `x.yaml:1: unknown key "version"; valid keys here are tokens`,
		},
		{
			name: "no tokens key",
			yaml: "{}\n",
			want: "x.yaml:1: missing tokens: list",
		},
		{
			name: "an empty tokens list",
			yaml: "tokens: []\n",
			want: "x.yaml:1: tokens: is empty; an auth file without tokens would lock everyone out",
		},
		{
			name: "a null tokens key",
			yaml: "\ntokens:\n",
			want: "x.yaml:2: tokens: is empty",
		},
		{
			name: "tokens as a mapping",
			yaml: "tokens:\n  alice: s3cr3t-s3cr3t-s3cr3t\n",
			want: "x.yaml:2: tokens: must be a list of entries",
		},
		{
			name: "an entry that is a plain string",
			yaml: "tokens:\n  - s3cr3t-s3cr3t-s3cr3t\n",
			want: "x.yaml:2: each tokens: entry must be a mapping",
		},
		{
			name: "an unknown key in an entry",
			yaml: "tokens:\n  - name: alice\n    token: s3cr3t-s3cr3t-s3cr3t\n    scope: [read]\n",
			want: `x.yaml:4: unknown key "scope"; valid keys here are name, token, token_sha256, scopes, groups`,
		},
		{
			name: "a token pasted as a key is not repeated",
			yaml: "tokens:\n  - name: alice\n    s3cr3t-s3cr3t-s3cr3t: x\n    token: s3cr3t-s3cr3t-s3cr3t-2\n    scopes: [read]\n",
			want: "x.yaml:3: unknown key of 20 characters",
		},
		{
			name: "a repeated key",
			yaml: "tokens:\n  - name: alice\n    name: bob\n    token: s3cr3t-s3cr3t-s3cr3t\n    scopes: [read]\n",
			want: `x.yaml:3: key "name" appears twice (first at line 2)`,
		},
		{
			name: "a merge key in an entry",
			yaml: "tokens:\n  - name: a\n    token: s3cr3t-s3cr3t-s3cr3t\n    scopes: &s [read]\n  - <<: {scopes: [read]}\n    name: b\n    token: s3cr3t-s3cr3t-s3cr3t-2\n",
			want: "x.yaml:5: merge keys (<<) are not supported",
		},
		{
			name: "a missing name",
			yaml: "tokens:\n  - token: s3cr3t-s3cr3t-s3cr3t\n    scopes: [read]\n",
			want: "x.yaml:2: entry has no name; add name:",
		},
		{
			name: "an empty name",
			yaml: "tokens:\n  - name: \"\"\n    token: s3cr3t-s3cr3t-s3cr3t\n    scopes: [read]\n",
			want: "x.yaml:2: name must be a non-empty string",
		},
		{
			name: "a name with trailing spaces",
			yaml: "tokens:\n  - name: \"alice \"\n    token: s3cr3t-s3cr3t-s3cr3t\n    scopes: [read]\n",
			want: `x.yaml:2: name "alice " has leading or trailing spaces`,
		},
		{
			name: "the reserved name anonymous",
			yaml: "tokens:\n  - name: anonymous\n    token: s3cr3t-s3cr3t-s3cr3t\n    scopes: [read]\n",
			want: `x.yaml:2: name "anonymous" is reserved`,
		},
		{
			name: "a duplicate name",
			yaml: "tokens:\n  - name: alice\n    token: s3cr3t-s3cr3t-s3cr3t\n    scopes: [read]\n  - name: alice\n    token: s3cr3t-s3cr3t-s3cr3t-2\n    scopes: [read]\n",
			want: `x.yaml:5: name "alice" is already used at line 2`,
		},
		{
			name: "a duplicate name is reported at the name",
			yaml: "tokens:\n  - name: alice\n    token: s3cr3t-s3cr3t-s3cr3t\n    scopes: [read]\n  - scopes: [read]\n    token: s3cr3t-s3cr3t-s3cr3t-2\n    name: alice\n",
			want: `x.yaml:7: name "alice" is already used at line 2`,
		},
		{
			name: "both token and token_sha256",
			yaml: "tokens:\n  - name: alice\n    token: s3cr3t-s3cr3t-s3cr3t\n    token_sha256: " + goodHash + "\n    scopes: [read]\n",
			want: "x.yaml:4: entry has both token and token_sha256; keep one",
		},
		{
			name: "neither token nor token_sha256",
			yaml: "tokens:\n  - name: alice\n    scopes: [read]\n",
			want: "x.yaml:2: entry has neither token nor token_sha256",
		},
		{
			name: "a short token_sha256",
			yaml: "tokens:\n  - name: alice\n    token_sha256: abcdef0123\n    scopes: [read]\n",
			want: "x.yaml:3: token_sha256 is 10 characters long, not 64",
		},
		{
			name: "a token_sha256 that is not hex",
			yaml: "tokens:\n  - name: alice\n    token_sha256: " + strings.Repeat("zz", 32) + "\n    scopes: [read]\n",
			want: "x.yaml:3: token_sha256 is not hexadecimal",
		},
		{
			name: "a token_sha256 that is a list",
			yaml: "tokens:\n  - name: alice\n    token_sha256: [" + goodHash + "]\n    scopes: [read]\n",
			want: "x.yaml:3: token_sha256 must be a string of 64 hex characters",
		},
		{
			name: "a token that is a list",
			yaml: "tokens:\n  - name: alice\n    token: [s3cr3t-s3cr3t-s3cr3t]\n    scopes: [read]\n",
			want: "x.yaml:3: token must be a plain string",
		},
		{
			name: "a token with a YAML tag",
			yaml: "tokens:\n  - name: alice\n    token: !!binary czNjcjN0LXMzY3IzdC1zM2NyM3Q=\n    scopes: [read]\n",
			want: "x.yaml:3: token must be a plain string without a YAML tag",
		},
		{
			name: "a short token",
			yaml: "tokens:\n  - name: alice\n    token: s3cr3t\n    scopes: [read]\n",
			want: "x.yaml:3: token is 6 characters long; use at least 16 random characters (for example `openssl rand -hex 32`), because a short token can be guessed",
		},
		{
			name: "a token with a space",
			yaml: "tokens:\n  - name: alice\n    token: \"s3cr3t s3cr3t s3cr3t\"\n    scopes: [read]\n",
			want: "x.yaml:3: token contains a space, line break or non-ASCII character",
		},
		{
			name: "a token from a literal block keeps its line break",
			yaml: "tokens:\n  - name: alice\n    token: |\n      s3cr3t-s3cr3t-s3cr3t\n    scopes: [read]\n",
			want: "x.yaml:3: token contains a space, line break or non-ASCII character",
		},
		{
			name: "an unknown scope",
			yaml: "tokens:\n  - name: alice\n    token: s3cr3t-s3cr3t-s3cr3t\n    scopes: [read, wrte]\n",
			want: `x.yaml:4: unknown scope "wrte"; valid scopes are ingest, read, operate, approve, admin`,
		},
		{
			name: "an unknown scope on its own line",
			yaml: "tokens:\n  - name: alice\n    token: s3cr3t-s3cr3t-s3cr3t\n    scopes:\n      - read\n      - Admin\n",
			want: `x.yaml:6: unknown scope "Admin"`,
		},
		{
			name: "empty scopes",
			yaml: "tokens:\n  - name: alice\n    token: s3cr3t-s3cr3t-s3cr3t\n    scopes: []\n",
			want: "x.yaml:4: scopes is empty, so the token could do nothing",
		},
		{
			name: "null scopes",
			yaml: "tokens:\n  - name: alice\n    token: s3cr3t-s3cr3t-s3cr3t\n    scopes:\n",
			want: "x.yaml:4: scopes is empty",
		},
		{
			name: "scopes as a single word",
			yaml: "tokens:\n  - name: alice\n    token: s3cr3t-s3cr3t-s3cr3t\n    scopes: read\n",
			want: "x.yaml:4: scopes must be a list",
		},
		{
			name: "missing scopes",
			yaml: "tokens:\n  - name: alice\n    token: s3cr3t-s3cr3t-s3cr3t\n",
			want: "x.yaml:2: entry has no scopes; add scopes: with some of ingest, read, operate, approve, admin",
		},
		{
			name: "an empty group",
			yaml: "tokens:\n  - name: alice\n    token: s3cr3t-s3cr3t-s3cr3t\n    scopes: [read]\n    groups: [ops, \"\"]\n",
			want: "x.yaml:5: each group must be a non-empty word",
		},
		{
			name: "a duplicate token",
			yaml: "tokens:\n  - name: alice\n    token: s3cr3t-s3cr3t-s3cr3t\n    scopes: [read]\n  - name: bob\n    token: s3cr3t-s3cr3t-s3cr3t\n    scopes: [read]\n",
			want: `x.yaml:6: this token is the same as the one of "alice" (line 3)`,
		},
		{
			name: "a duplicate token given once plain and once hashed",
			yaml: "tokens:\n  - name: alice\n    token_sha256: " + HashToken("s3cr3t-s3cr3t-s3cr3t") + "\n    scopes: [read]\n  - name: bob\n    token: s3cr3t-s3cr3t-s3cr3t\n    scopes: [read]\n",
			want: `x.yaml:6: this token is the same as the one of "alice" (line 3)`,
		},
		{
			name: "a YAML syntax error",
			yaml: "tokens:\n  - name: alice\n    token: \"s3cr3t-s3cr3t-s3cr3t\n",
			want: "x.yaml:3: invalid YAML: ",
		},
		{
			name: "a tab used for indentation",
			yaml: "tokens:\n\t- name: alice\n",
			want: "x.yaml:2: invalid YAML: found character that cannot start any token (YAML indents with spaces",
		},
		{
			name: "two documents",
			yaml: "tokens:\n  - name: alice\n    token: s3cr3t-s3cr3t-s3cr3t\n    scopes: [read]\n---\ntokens: []\n",
			want: "x.yaml:5: a second YAML document starts here",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Parse([]byte(tt.yaml), "x.yaml")
			if err == nil {
				t.Fatalf("Parse accepted the file: %+v", a.entries)
			}
			if a != nil {
				t.Errorf("Parse returned an authenticator with its error")
			}
			if code := day2.ErrorCode(err); code != day2.EInvalid {
				t.Errorf("error code = %q, want %q", code, day2.EInvalid)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error:\n%s\nwant it to contain:\n%s", msg, tt.want)
			}
			if strings.Contains(msg, secret) {
				t.Errorf("error repeats a token:\n%s", msg)
			}
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	yaml := "tokens:\n  - name: alice\n    token: short\n    scopes: [read]\n  - name: bob\n    scopes: [nope]\n"
	_, err := Parse([]byte(yaml), "x.yaml")
	if err == nil {
		t.Fatal("Parse accepted the file")
	}
	for _, want := range []string{"x.yaml:3: token is 5 characters long", "x.yaml:5: entry has neither", `x.yaml:6: unknown scope "nope"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error:\n%v\nwant it to contain %q", err, want)
		}
	}
}

func TestParseCapsProblems(t *testing.T) {
	var b strings.Builder
	b.WriteString("tokens:\n")
	for range 30 {
		b.WriteString("  - name: x\n")
	}
	_, err := Parse([]byte(b.String()), "x.yaml")
	if err == nil {
		t.Fatal("Parse accepted the file")
	}
	if lines := strings.Count(err.Error(), "\n") + 1; lines != maxProblems+1 {
		t.Errorf("error has %d lines, want %d:\n%v", lines, maxProblems+1, err)
	}
	if !strings.Contains(err.Error(), "more problems)") {
		t.Errorf("error does not say problems were left out:\n%v", err)
	}
}
