package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/auth"
)

// cookieMaxAge is how long a browser keeps the token after logging in. The token
// itself stays valid until it is removed from the auth file.
const cookieMaxAge = 7 * 24 * time.Hour

type loginPage struct {
	chrome
	Open  bool
	Next  string
	Error string
}

// loginHandler serves the login form, which takes a token from the auth file and
// keeps it in an HttpOnly, SameSite=Strict cookie, and the logout button. Both
// posts are refused when a browser marks them cross-origin, so another site
// cannot log a visitor in or out.
func (u *UI) loginHandler() http.Handler {
	mux := http.NewServeMux()
	csrf := http.NewCrossOriginProtection()
	mux.HandleFunc("GET /login", u.loginForm)
	mux.Handle("POST /login", csrf.Handler(http.HandlerFunc(u.loginSubmit)))
	mux.Handle("POST /logout", csrf.Handler(http.HandlerFunc(u.logout)))
	return mux
}

func (u *UI) loginForm(w http.ResponseWriter, r *http.Request) {
	p := loginPage{chrome: u.chrome(r, "Log in", "login"), Open: u.auth.IsOpen(), Next: safeNext(r.URL.Query().Get("next"))}
	u.render(w, http.StatusOK, "login.html", p)
}

func (u *UI) loginSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<14)
	if err := r.ParseForm(); err != nil {
		u.fail(w, r, day2.Errorf(day2.EInvalid, "the login form could not be read; send it from the login page"))
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	if u.auth.IsOpen() {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	id, err := u.auth.AuthenticateToken(token)
	if err == nil {
		err = id.Require(auth.ScopeRead)
	}
	if err != nil {
		p := loginPage{chrome: u.chrome(r, "Log in", "login"), Next: next, Error: day2.ErrorMessage(err)}
		u.render(w, http.StatusOK, "login.html", p)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: auth.CookieName, Value: token, Path: "/", MaxAge: int(cookieMaxAge.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: auth.CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext keeps a post-login destination only when it is a path on this server,
// so the login page cannot be used to send someone elsewhere.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.ContainsAny(next, "\r\n\\") || strings.HasPrefix(next, "/login") {
		return "/"
	}
	return next
}
