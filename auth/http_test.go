package auth

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// newTestServer serves a small API guarded by a's Middleware: GET /api/things needs
// read, POST /api/things operate, POST /v1/traces ingest, GET /api/whoami any token,
// and POST /api/approvals (wrapped with Require) approve. Each handler answers with
// the name of the identity in its context.
func newTestServer(t *testing.T, a *Authenticator) *httptest.Server {
	t.Helper()
	whoami := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := FromContext(r.Context())
		if !ok {
			http.Error(w, "no identity in context", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, id.Name)
	})
	api := http.NewServeMux()
	api.Handle("GET /api/things", whoami)
	api.Handle("POST /api/things", whoami)
	api.Handle("POST /v1/traces", whoami)
	api.Handle("GET /api/whoami", whoami)
	scopeFor := func(r *http.Request) Scope {
		switch {
		case r.URL.Path == "/v1/traces":
			return ScopeIngest
		case r.URL.Path == "/api/whoami":
			return ""
		case r.Method == http.MethodGet:
			return ScopeRead
		default:
			return ScopeOperate
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/", a.Middleware(scopeFor)(api))
	mux.Handle("POST /api/approvals", a.Require(ScopeApprove)(whoami))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

type httpCase struct {
	name       string
	method     string
	path       string
	header     http.Header
	cookie     string // value of the day2_token cookie, if not ""
	wantStatus int
	wantBody   string // the identity name on success, or a fragment of the error message
	wantCode   string // the JSON error code on failure
}

func runHTTPCases(t *testing.T, srv *httptest.Server, tests []httpCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			for k, vs := range tt.header {
				for _, v := range vs {
					req.Header.Add(k, v)
				}
			}
			if tt.cookie != "" {
				req.AddCookie(&http.Cookie{Name: CookieName, Value: tt.cookie})
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body: %s", resp.StatusCode, tt.wantStatus, body)
			}
			if tt.wantStatus == http.StatusOK {
				if string(body) != tt.wantBody {
					t.Fatalf("body = %q, want %q", body, tt.wantBody)
				}
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			wwwAuth := resp.Header.Get("WWW-Authenticate")
			if tt.wantStatus == http.StatusUnauthorized && wwwAuth != `Bearer realm="day2"` {
				t.Errorf("WWW-Authenticate = %q, want %q", wwwAuth, `Bearer realm="day2"`)
			}
			if tt.wantStatus != http.StatusUnauthorized && wwwAuth != "" {
				t.Errorf("WWW-Authenticate = %q on a %d", wwwAuth, tt.wantStatus)
			}
			var e struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("body %q is not the JSON error: %v", body, err)
			}
			if e.Error.Code != tt.wantCode {
				t.Errorf("error code = %q, want %q", e.Error.Code, tt.wantCode)
			}
			if !strings.Contains(e.Error.Message, tt.wantBody) {
				t.Errorf("error message %q does not contain %q", e.Error.Message, tt.wantBody)
			}
			for _, tok := range []string{aliceToken, agentToken, bobToken, rootToken} {
				if strings.Contains(string(body), tok) {
					t.Errorf("response repeats a token: %s", body)
				}
			}
		})
	}
}

func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

func TestMiddlewareWithAuthFile(t *testing.T) {
	srv := newTestServer(t, loadSample(t))
	const (
		get  = http.MethodGet
		post = http.MethodPost
		ok   = http.StatusOK
		u401 = http.StatusUnauthorized
		f403 = http.StatusForbidden
	)
	runHTTPCases(t, srv, []httpCase{
		{name: "no token", method: get, path: "/api/things", wantStatus: u401, wantCode: "unauthorized", wantBody: "Authorization: Bearer <token>"},
		{name: "an unknown token", method: get, path: "/api/things", header: bearer("not-a-known-token-at-all"), wantStatus: u401, wantCode: "unauthorized", wantBody: "not known"},
		{name: "the basic scheme", method: get, path: "/api/things", header: http.Header{"Authorization": {"Basic " + bobToken}}, wantStatus: u401, wantCode: "unauthorized", wantBody: "Bearer <token>"},
		{name: "two Authorization headers", method: get, path: "/api/things", header: http.Header{"Authorization": {"Bearer " + bobToken, "Bearer " + rootToken}}, wantStatus: u401, wantCode: "unauthorized", wantBody: "2 Authorization headers"},
		{name: "read with read", method: get, path: "/api/things", header: bearer(bobToken), wantStatus: ok, wantBody: "bob"},
		{name: "operate without operate", method: post, path: "/api/things", header: bearer(bobToken), wantStatus: f403, wantCode: "forbidden", wantBody: `token "bob" lacks the "operate" scope`},
		{name: "operate with operate", method: post, path: "/api/things", header: bearer(aliceToken), wantStatus: ok, wantBody: "alice"},
		{name: "read through admin", method: get, path: "/api/things", header: bearer(rootToken), wantStatus: ok, wantBody: "root"},
		{name: "operate through admin", method: post, path: "/api/things", header: bearer(rootToken), wantStatus: ok, wantBody: "root"},
		{name: "admin cannot ingest", method: post, path: "/v1/traces", header: bearer(rootToken), wantStatus: f403, wantCode: "forbidden", wantBody: `lacks the "ingest" scope`},
		{name: "ingest with ingest", method: post, path: "/v1/traces", header: bearer(agentToken), wantStatus: ok, wantBody: "agent-fleet"},
		{name: "ingest cannot read", method: get, path: "/api/things", header: bearer(agentToken), wantStatus: f403, wantCode: "forbidden", wantBody: `lacks the "read" scope`},
		{name: "an empty scope takes any token", method: get, path: "/api/whoami", header: bearer(agentToken), wantStatus: ok, wantBody: "agent-fleet"},
		{name: "an empty scope still needs a token", method: get, path: "/api/whoami", wantStatus: u401, wantCode: "unauthorized", wantBody: "needs a token"},
		{name: "Require lets approve through", method: post, path: "/api/approvals", header: bearer(aliceToken), wantStatus: ok, wantBody: "alice"},
		{name: "Require stops read", method: post, path: "/api/approvals", header: bearer(bobToken), wantStatus: f403, wantCode: "forbidden", wantBody: `lacks the "approve" scope`},
		{name: "a public route needs no token", method: get, path: "/healthz", wantStatus: ok, wantBody: "ok"},
		{name: "the cookie", method: get, path: "/api/things", cookie: bobToken, wantStatus: ok, wantBody: "bob"},
		{name: "an unknown cookie", method: get, path: "/api/things", cookie: "not-a-known-token-at-all", wantStatus: u401, wantCode: "unauthorized", wantBody: "day2_token cookie holds no valid token"},
		{name: "the header wins over the cookie", method: get, path: "/api/things", header: bearer("not-a-known-token-at-all"), cookie: bobToken, wantStatus: u401, wantCode: "unauthorized", wantBody: "not known"},
		{name: "a cookie POST from day2's own page", method: post, path: "/api/things", cookie: aliceToken, header: http.Header{"Sec-Fetch-Site": {"same-origin"}}, wantStatus: ok, wantBody: "alice"},
		{name: "a cookie POST from another site", method: post, path: "/api/things", cookie: aliceToken, header: http.Header{"Sec-Fetch-Site": {"cross-site"}}, wantStatus: f403, wantCode: "forbidden", wantBody: "cross-origin POST request refused"},
		{name: "a cookie GET from another site", method: get, path: "/api/things", cookie: bobToken, header: http.Header{"Sec-Fetch-Site": {"cross-site"}}, wantStatus: ok, wantBody: "bob"},
		{name: "a bearer POST from another site", method: post, path: "/api/things", header: http.Header{"Authorization": {"Bearer " + aliceToken}, "Sec-Fetch-Site": {"cross-site"}}, wantStatus: ok, wantBody: "alice"},
	})
}

func TestMiddlewareOpen(t *testing.T) {
	srv := newTestServer(t, Open())
	runHTTPCases(t, srv, []httpCase{
		{name: "no token", method: http.MethodGet, path: "/api/things", wantStatus: http.StatusOK, wantBody: AnonymousName},
		{name: "any header", method: http.MethodPost, path: "/api/approvals", header: bearer("anything-at-all-here"), wantStatus: http.StatusOK, wantBody: AnonymousName},
		{name: "a CLI POST", method: http.MethodPost, path: "/api/things", wantStatus: http.StatusOK, wantBody: AnonymousName},
		{name: "a POST from day2's own page", method: http.MethodPost, path: "/api/things", header: http.Header{"Sec-Fetch-Site": {"same-origin"}}, wantStatus: http.StatusOK, wantBody: AnonymousName},
		{name: "a POST from another site", method: http.MethodPost, path: "/api/things", header: http.Header{"Sec-Fetch-Site": {"cross-site"}}, wantStatus: http.StatusForbidden, wantCode: "forbidden", wantBody: "cross-origin POST request refused"},
		{name: "an approval from another site", method: http.MethodPost, path: "/api/approvals", header: http.Header{"Origin": {"https://evil.example"}}, wantStatus: http.StatusForbidden, wantCode: "forbidden", wantBody: "cross-origin"},
		{name: "browser telemetry from another origin", method: http.MethodPost, path: "/v1/traces", header: http.Header{"Sec-Fetch-Site": {"same-site"}}, wantStatus: http.StatusOK, wantBody: AnonymousName},
	})
}
