package auth

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/day2ops/day2"
)

// MinTokenLength is the shortest token Parse accepts. Tokens are compared as
// SHA-256 digests and are not rate limited, so only their length protects them from
// being guessed; 16 random characters cannot be guessed over the network.
const MinTokenLength = 16

// maxProblems caps how many problems one error reports, so a badly broken file
// gives a readable message.
const maxProblems = 20

// maxQuoted is the longest unknown key or scope an error repeats. Anything longer
// could be a token pasted in the wrong place, and tokens are never repeated.
const maxQuoted = MinTokenLength - 1

// LoadFile reads and parses the auth file at path; see Parse.
func LoadFile(path string) (*Authenticator, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, day2.Errorf(day2.EInvalid, "read auth file: %v", err)
	}
	return Parse(data, path)
}

// Parse parses an auth file (see the package documentation for the format) and
// returns an authenticator for its tokens. Filename is used only in messages. On a
// problem it returns an EInvalid error listing every problem found as
// "filename:line: what is wrong and how to fix it"; no token value ever appears in it.
func Parse(data []byte, filename string) (*Authenticator, error) {
	p := &parser{file: filename}
	entries := p.parse(data)
	if len(p.problems) > 0 {
		msg := strings.Join(p.problems, "\n")
		if p.dropped > 0 {
			msg += fmt.Sprintf("\n(and %d more problems)", p.dropped)
		}
		return nil, day2.Errorf(day2.EInvalid, "%s", msg)
	}
	return &Authenticator{entries: entries}, nil
}

type parser struct {
	file     string
	problems []string
	dropped  int
}

func (p *parser) addf(line int, format string, args ...any) {
	if len(p.problems) >= maxProblems {
		p.dropped++
		return
	}
	p.problems = append(p.problems, fmt.Sprintf("%s:%d: ", p.file, line)+fmt.Sprintf(format, args...))
}

const emptyFile = "the auth file is empty; add a tokens: list with an entry for each token"

// yamlLine matches the "yaml: line N: " prefix of yaml.v3 syntax errors.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

func (p *parser) parse(data []byte) []entry {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.addf(1, emptyFile)
			return nil
		}
		p.syntax(err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.addf(extra.Line, "a second YAML document starts here; an auth file holds one document")
		return nil
	} else if !errors.Is(err, io.EOF) {
		p.syntax(err)
		return nil
	}

	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			p.addf(1, emptyFile)
			return nil
		}
		root = root.Content[0]
	}
	root = resolve(root)
	if isNull(root) {
		p.addf(root.Line, emptyFile)
		return nil
	}
	if root.Kind != yaml.MappingNode {
		p.addf(root.Line, "the auth file must be a mapping with a tokens: list")
		return nil
	}
	var list *yaml.Node
	p.fields(root, []string{"tokens"}, func(key string, _, val *yaml.Node) {
		list = val
	})
	if list == nil {
		if len(p.problems) == 0 {
			p.addf(root.Line, "missing tokens: list; add one entry per token with name, token or token_sha256, and scopes")
		}
		return nil
	}
	if isNull(list) || (list.Kind == yaml.SequenceNode && len(list.Content) == 0) {
		p.addf(list.Line, "tokens: is empty; an auth file without tokens would lock everyone out, so add at least one entry")
		return nil
	}
	if list.Kind != yaml.SequenceNode {
		p.addf(list.Line, "tokens: must be a list of entries, each starting with \"- name: ...\"")
		return nil
	}

	var entries []entry
	nameLine := map[string]int{}
	digestAt := map[[32]byte]struct {
		name string
		line int
	}{}
	for _, item := range list.Content {
		e, at, tokenLine, ok := p.entry(resolve(item))
		if !ok {
			continue
		}
		if first, dup := nameLine[e.id.Name]; dup {
			p.addf(at, "name %q is already used at line %d; every token needs its own name, which audit logs record", e.id.Name, first)
			continue
		}
		nameLine[e.id.Name] = at
		if prev, dup := digestAt[e.digest]; dup {
			p.addf(tokenLine, "this token is the same as the one of %q (line %d); give every identity its own token so audit logs can tell them apart", prev.name, prev.line)
			continue
		}
		digestAt[e.digest] = struct {
			name string
			line int
		}{e.id.Name, tokenLine}
		entries = append(entries, e)
	}
	return entries
}

// syntax records a YAML syntax error, taking its line out of yaml.v3's message.
func (p *parser) syntax(err error) {
	msg := err.Error()
	line := 1
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	if strings.Contains(msg, "cannot start any token") {
		msg += " (YAML indents with spaces; a tab at the start of a line causes this)"
	}
	p.addf(line, "invalid YAML: %s", msg)
}

// fields walks the key/value pairs of mapping m, reporting unknown and repeated
// keys, and calls fn for each known key.
func (p *parser) fields(m *yaml.Node, known []string, fn func(key string, k, v *yaml.Node)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := resolve(m.Content[i]), resolve(m.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			p.addf(k.Line, "keys must be plain words; valid keys here are %s", strings.Join(known, ", "))
			continue
		}
		key := k.Value
		if key == "<<" {
			p.addf(k.Line, "merge keys (<<) are not supported in the auth file; write each entry in full")
			continue
		}
		if !slices.Contains(known, key) {
			p.addf(k.Line, "unknown key %s; valid keys here are %s", quoteShort(key), strings.Join(known, ", "))
			continue
		}
		if first, dup := seen[key]; dup {
			p.addf(k.Line, "key %q appears twice (first at line %d); keep one", key, first)
			continue
		}
		seen[key] = k.Line
		fn(key, k, v)
	}
}

// entry validates one item of the tokens list. It returns the entry, the lines of
// its name and of its token or token_sha256, and whether the entry is usable.
func (p *parser) entry(n *yaml.Node) (e entry, nameLine, tokenLine int, ok bool) {
	before := len(p.problems) + p.dropped
	if n.Kind != yaml.MappingNode {
		p.addf(n.Line, "each tokens: entry must be a mapping with name, token or token_sha256, scopes and optional groups")
		return entry{}, 0, 0, false
	}
	nameLine, tokenLine = n.Line, n.Line
	var (
		tokenNode, hashNode *yaml.Node // the values
		tokenKey, hashKey   *yaml.Node // their keys, whose lines messages name
		hasName, hasScopes  bool
	)
	known := []string{"name", "token", "token_sha256", "scopes", "groups"}
	p.fields(n, known, func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			hasName, nameLine = true, k.Line
			e.id.Name = p.name(k, v)
		case "token":
			tokenKey, tokenNode = k, v
		case "token_sha256":
			hashKey, hashNode = k, v
		case "scopes":
			hasScopes = true
			e.id.Scopes = p.scopes(k, v)
		case "groups":
			e.id.Groups = p.groups(k, v)
		}
	})
	if !hasName {
		p.addf(n.Line, "entry has no name; add name: with the identity audit logs should record")
	}
	if !hasScopes {
		p.addf(n.Line, "entry has no scopes; add scopes: with some of %s", scopeList())
	}
	switch {
	case tokenNode != nil && hashNode != nil:
		p.addf(hashKey.Line, "entry has both token and token_sha256; keep one (token_sha256 keeps the secret out of the file)")
	case tokenNode == nil && hashNode == nil:
		p.addf(n.Line, "entry has neither token nor token_sha256; add token_sha256: with the output of `day2 auth hash-token`, or token:")
	case tokenNode != nil:
		tokenLine = tokenKey.Line
		e.digest = p.token(tokenKey.Line, tokenNode)
	default:
		tokenLine = hashKey.Line
		e.digest = p.hash(hashKey.Line, hashNode)
	}
	return e, nameLine, tokenLine, len(p.problems)+p.dropped == before
}

func (p *parser) name(k, v *yaml.Node) string {
	if !isString(v) || v.Value == "" {
		p.addf(k.Line, "name must be a non-empty string without a YAML tag, such as name: alice")
		return ""
	}
	s := v.Value
	switch {
	case strings.TrimSpace(s) != s:
		p.addf(k.Line, "name %q has leading or trailing spaces; remove them", s)
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		p.addf(k.Line, "name %q contains control characters; use letters, digits and punctuation", s)
	case len(s) > 128:
		p.addf(k.Line, "name is %d bytes long; keep it to 128 or fewer", len(s))
	case s == AnonymousName:
		p.addf(k.Line, "name %q is reserved for the unauthenticated loopback identity; choose another", s)
	}
	return s
}

// token checks a plain token, reporting problems at line, and returns its digest.
// It never repeats the value.
func (p *parser) token(line int, v *yaml.Node) [32]byte {
	if !isString(v) {
		p.addf(line, "token must be a plain string without a YAML tag; quote it: token: \"...\"")
		return [32]byte{}
	}
	s := v.Value
	if len(s) < MinTokenLength {
		p.addf(line, "token is %d characters long; use at least %d random characters (for example `openssl rand -hex 32`), because a short token can be guessed", len(s), MinTokenLength)
		return [32]byte{}
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			p.addf(line, "token contains a space, line break or non-ASCII character, which cannot be sent in an Authorization header; use printable ASCII (for example `openssl rand -hex 32`)")
			return [32]byte{}
		}
	}
	return sha256.Sum256([]byte(s))
}

// hash checks a token_sha256 value, reporting problems at line, and returns the
// digest it encodes.
func (p *parser) hash(line int, v *yaml.Node) [32]byte {
	var d [32]byte
	if !isString(v) {
		p.addf(line, "token_sha256 must be a string of 64 hex characters; `day2 auth hash-token` prints one")
		return d
	}
	s := v.Value
	if len(s) != 64 {
		p.addf(line, "token_sha256 is %d characters long, not 64; it is the hex SHA-256 of the token, as `day2 auth hash-token` or `sha256sum` prints it", len(s))
		return d
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		p.addf(line, "token_sha256 is not hexadecimal; it is the hex SHA-256 of the token, as `day2 auth hash-token` or `sha256sum` prints it")
		return d
	}
	return d
}

func (p *parser) scopes(k, v *yaml.Node) []Scope {
	if isNull(v) || (v.Kind == yaml.SequenceNode && len(v.Content) == 0) {
		p.addf(k.Line, "scopes is empty, so the token could do nothing; add some of %s", scopeList())
		return nil
	}
	if v.Kind != yaml.SequenceNode {
		p.addf(k.Line, "scopes must be a list, such as scopes: [read]; valid scopes are %s", scopeList())
		return nil
	}
	var out []Scope
	for _, item := range v.Content {
		item = resolve(item)
		if item.Kind != yaml.ScalarNode || isNull(item) {
			p.addf(item.Line, "each scope must be a word; valid scopes are %s", scopeList())
			continue
		}
		s := Scope(item.Value)
		if !s.Valid() {
			p.addf(item.Line, "unknown scope %s; valid scopes are %s", quoteShort(item.Value), scopeList())
			continue
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func (p *parser) groups(k, v *yaml.Node) []string {
	if isNull(v) {
		return nil
	}
	if v.Kind != yaml.SequenceNode {
		p.addf(k.Line, "groups must be a list, such as groups: [ops]")
		return nil
	}
	var out []string
	for _, item := range v.Content {
		item = resolve(item)
		if item.Kind != yaml.ScalarNode || isNull(item) || strings.TrimSpace(item.Value) == "" {
			p.addf(item.Line, "each group must be a non-empty word, such as ops")
			continue
		}
		if !slices.Contains(out, item.Value) {
			out = append(out, item.Value)
		}
	}
	return out
}

// resolve follows an alias to the node it names, so that anchors can share lists
// such as scopes between entries.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; i < 8 && n.Kind == yaml.AliasNode && n.Alias != nil; i++ {
		n = n.Alias
	}
	return n
}

// isString reports whether n is a scalar that reads as its literal text: untagged
// (numbers and booleans included, as written) or tagged !!str. A tag such as !!binary
// would make the text differ from what YAML decodes, so it is refused.
func isString(n *yaml.Node) bool {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return false
	}
	return n.Style&yaml.TaggedStyle == 0 || n.ShortTag() == "!!str"
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// quoteShort quotes s for an error message unless it is long enough to be a token.
func quoteShort(s string) string {
	if len(s) > maxQuoted {
		return fmt.Sprintf("of %d characters", len(s))
	}
	return strconv.Quote(s)
}
