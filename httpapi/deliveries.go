package httpapi

import (
	"net/http"
	"strconv"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/auth"
	"github.com/day2ops/day2/notify"
)

// RegisterDeliveries mounts GET /api/v1/notifications: the outbox's recent
// deliveries, newest first, with their state, attempts and last error, so an
// operator can see whether Teams, Slack, PagerDuty or a webhook got a message.
func RegisterDeliveries(s *Server, ob *notify.Outbox) {
	s.HandleFunc("GET /api/v1/notifications", auth.ScopeRead, func(w http.ResponseWriter, r *http.Request) {
		limit := 100
		if v := r.URL.Query().Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1000 {
				WriteError(w, r, s.log, day2.Errorf(day2.EInvalid, "limit %q: give a number from 1 to 1000", v))
				return
			}
			limit = n
		}
		ds, err := ob.List(r.Context(), limit)
		if err != nil {
			WriteError(w, r, s.log, err)
			return
		}
		if ds == nil {
			ds = []notify.Delivery{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"notifications": ds})
	})
}
