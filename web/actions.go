package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/auth"
)

// Pages that change state (promote a rollout, decide an approval, pull an
// incident lever) do it with plain HTML forms posted to day2 itself: no
// JavaScript. A form handler is wrapped by action, which refuses cross-origin
// posts (the login cookie is SameSite=Strict as well), checks the scope the
// action needs, and after the change redirects back with a message (Post/
// Redirect/Get), so reloading the page never repeats the action.

// action wraps a form handler: fn does the change as the signed-in identity
// and returns where to go back to and what to say.
func (u *UI) action(scope auth.Scope, fn func(w http.ResponseWriter, r *http.Request, id auth.Identity) (back, msg string, err error)) http.Handler {
	return u.csrf.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := auth.FromContext(r.Context())
		if err := id.Require(scope); err != nil {
			u.fail(w, r, err)
			return
		}
		if err := r.ParseForm(); err != nil {
			u.fail(w, r, day2.Errorf(day2.EInvalid, "the form could not be read: %v", err))
			return
		}
		back, msg, err := fn(w, r, id)
		if err != nil {
			if back == "" {
				u.fail(w, r, err)
				return
			}
			msg = "error: " + day2.ErrorMessage(err)
		}
		http.Redirect(w, r, withFlash(back, msg), http.StatusSeeOther)
	}))
}

// withFlash adds the message shown once on the page redirected to.
func withFlash(path, msg string) string {
	if msg == "" {
		return path
	}
	u, err := url.Parse(path)
	if err != nil {
		return path
	}
	q := u.Query()
	q.Set("flash", msg)
	u.RawQuery = q.Encode()
	return u.String()
}

// can reports whether the signed-in identity holds scope, to show or hide
// action buttons.
func can(r *http.Request, scope auth.Scope) bool {
	id, ok := auth.FromContext(r.Context())
	return ok && id.Has(scope)
}

// flash is the message a form's redirect carries (?flash=), shown once at the
// top of the page; Error is set for the messages of refused actions.
type flash struct {
	Message string
	Error   bool
}

// flashOf reads the flash message of r, cut to 500 characters.
func flashOf(r *http.Request) flash {
	m := r.URL.Query().Get("flash")
	if rs := []rune(m); len(rs) > 500 {
		m = string(rs[:500]) + "…"
	}
	if msg, ok := strings.CutPrefix(m, "error: "); ok {
		return flash{Message: msg, Error: true}
	}
	return flash{Message: m}
}
