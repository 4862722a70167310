package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"

	"github.com/day2ops/day2"
)

// Authenticator maps bearer tokens to identities. It is either Open (no auth file:
// everyone is the anonymous identity) or built by Parse or LoadFile from an auth
// file. It is safe for concurrent use and never changes after it is built.
type Authenticator struct {
	open    bool
	entries []entry
}

// entry is one token of the auth file: only the SHA-256 of the token is kept, so a
// plain token from the file does not stay in memory longer than parsing takes.
type entry struct {
	digest [32]byte
	id     Identity
}

// Open returns an authenticator for a server without an auth file: it answers every
// request, with or without a token, with the anonymous identity, which holds every
// scope. Use it only on a loopback address; CheckListenAddr enforces that.
func Open() *Authenticator {
	return &Authenticator{open: true}
}

// IsOpen reports whether a was made by Open, that is, whether no tokens are
// configured.
func (a *Authenticator) IsOpen() bool { return a.open }

// anonymous returns the identity of every request to an Open authenticator.
func anonymous() Identity {
	return Identity{Name: AnonymousName, Scopes: AllScopes()}
}

// HashToken returns the lowercase hex SHA-256 of token: the value to put in an auth
// file's token_sha256 so that the file holds no secret. `day2 auth hash-token`
// prints it; `printf %s TOKEN | sha256sum` gives the same.
func HashToken(token string) string {
	d := sha256.Sum256([]byte(token))
	return hex.EncodeToString(d[:])
}

// Authenticate returns the identity of the token in an Authorization header value of
// the form "Bearer <token>" (the scheme is case-insensitive). A missing, malformed or
// unknown token yields an EUnauthorized error whose message says how to fix it and
// never repeats the token. An Open authenticator returns the anonymous identity
// whatever the header holds.
func (a *Authenticator) Authenticate(authorizationHeader string) (Identity, error) {
	if a.open {
		return anonymous(), nil
	}
	if authorizationHeader == "" {
		return Identity{}, day2.Errorf(day2.EUnauthorized,
			`this request needs a token: send the header "Authorization: Bearer <token>" with a token from the server's auth file`)
	}
	token, ok := bearerToken(authorizationHeader)
	if !ok {
		return Identity{}, day2.Errorf(day2.EUnauthorized,
			`the Authorization header is not of the form "Bearer <token>"; day2 accepts only bearer tokens`)
	}
	return a.AuthenticateToken(token)
}

// AuthenticateToken returns the identity of a bare token, as the web UI receives it
// from a login form or the day2_token cookie. It compares the token's SHA-256 with
// every configured digest in constant time and without stopping at a match, so the
// time taken says nothing about which tokens exist. An Open authenticator returns
// the anonymous identity.
func (a *Authenticator) AuthenticateToken(token string) (Identity, error) {
	if a.open {
		return anonymous(), nil
	}
	if token == "" {
		return Identity{}, day2.Errorf(day2.EUnauthorized,
			"the token is empty; send a token from the server's auth file")
	}
	d := sha256.Sum256([]byte(token))
	found, index := 0, 0
	for i := range a.entries {
		eq := subtle.ConstantTimeCompare(d[:], a.entries[i].digest[:])
		index = subtle.ConstantTimeSelect(eq, i, index)
		found |= eq
	}
	if found != 1 {
		return Identity{}, day2.Errorf(day2.EUnauthorized,
			"the token is not known to this server; check that it is listed in the auth file (as token, or as token_sha256 from `day2 auth hash-token`) and that the server was restarted after the file changed")
	}
	return a.entries[index].id.clone(), nil
}

// bearerToken extracts the token of a "Bearer <token>" header value.
func bearerToken(h string) (string, bool) {
	scheme, rest, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token := strings.Trim(rest, " \t")
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}
