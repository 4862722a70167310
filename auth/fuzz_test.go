package auth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/day2ops/day2"
)

// FuzzParse checks that Parse never panics, that a file it accepts yields usable
// identities, each reachable by its plain token, and that a file it rejects gets an
// EInvalid error that repeats none of its tokens.
func FuzzParse(f *testing.F) {
	sample, err := os.ReadFile(filepath.Join("testdata", "auth.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sample)
	for _, s := range []string{
		"",
		"tokens: []\n",
		"tokens:\n  - name: a\n    token: s3cr3t-s3cr3t-s3cr3t\n    scopes: &s [read, admin]\n  - name: b\n    token_sha256: " + HashToken("x") + "\n    scopes: *s\n    groups: [ops]\n",
		"tokens:\n  - name: a\n    token: s3cr3t\n    scopes: [wrte]\n    extra: 1\n",
		"tokens:\n  - <<: {name: a}\n    token: s3cr3t-s3cr3t-s3cr3t\n    scopes: [ingest]\n",
		"tokens:\n\t- name: a\n",
		"a: &a [*a]\n",
		"tokens:\n  - name: !!str a\n    token: !!binary czNjcjN0LXMzY3IzdC1zM2NyM3Q=\n    scopes: [read]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Parse(data, "fuzz.yaml")
		if err != nil {
			if a != nil {
				t.Fatal("Parse returned an authenticator with its error")
			}
			if day2.ErrorCode(err) != day2.EInvalid {
				t.Fatalf("error code %q, want %q: %v", day2.ErrorCode(err), day2.EInvalid, err)
			}
			checkNoTokenInError(t, data, err.Error())
			return
		}
		if a == nil || a.IsOpen() || len(a.entries) == 0 {
			t.Fatalf("Parse accepted a file but returned no tokens: %+v", a)
		}
		names := map[string]bool{}
		digests := map[[32]byte]bool{}
		for _, e := range a.entries {
			id := e.id
			if id.Name == "" || id.Name == AnonymousName || names[id.Name] {
				t.Fatalf("unusable or repeated name %q", id.Name)
			}
			names[id.Name] = true
			if digests[e.digest] {
				t.Fatalf("two entries share a token")
			}
			digests[e.digest] = true
			if len(id.Scopes) == 0 {
				t.Fatalf("identity %q has no scopes", id.Name)
			}
			for _, s := range id.Scopes {
				if !s.Valid() || !id.Has(s) {
					t.Fatalf("identity %q has unusable scope %q", id.Name, s)
				}
			}
			for _, g := range id.Groups {
				if strings.TrimSpace(g) == "" {
					t.Fatalf("identity %q has an empty group", id.Name)
				}
			}
		}
		// Every plain token must authenticate as the entry that holds it.
		var doc struct {
			Tokens []struct{ Name, Token string }
		}
		if yaml.Unmarshal(data, &doc) == nil {
			for _, e := range doc.Tokens {
				if e.Token == "" {
					continue
				}
				id, err := a.Authenticate("Bearer " + e.Token)
				if err != nil || id.Name != e.Name {
					t.Fatalf("token of %q authenticates as %q, %v", e.Name, id.Name, err)
				}
			}
		}
	})
}

// checkNoTokenInError fails if msg contains a token value of the file, unless the
// same text also appears elsewhere in the file (as a name, say) and so may be quoted
// for that reason. Short values are skipped: they match by chance.
func checkNoTokenInError(t *testing.T, data []byte, msg string) {
	t.Helper()
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return
	}
	var tokens, others []string
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil {
			return
		}
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if k.Value == "token" && v.Kind == yaml.ScalarNode {
					tokens = append(tokens, v.Value)
				} else {
					walk(v)
				}
				walk(k)
			}
			return
		}
		if n.Kind == yaml.ScalarNode {
			others = append(others, n.Value)
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&root)
	for _, tok := range tokens {
		if len(tok) < 8 || strings.Contains("fuzz.yaml", tok) {
			continue
		}
		elsewhere := false
		for _, o := range others {
			if strings.Contains(o, tok) {
				elsewhere = true
				break
			}
		}
		if !elsewhere && strings.Contains(msg, tok) {
			t.Fatalf("error repeats a token value:\n%s", msg)
		}
	}
}
