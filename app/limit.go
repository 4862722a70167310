package app

import (
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/httpapi"
)

// ingestConcurrency is how many OTLP requests may be read and decoded at once.
// Decoding is CPU-bound, so more than a few per core only adds memory: each
// request may hold a body of up to --max-body.
func ingestConcurrency() int { return 4 * runtime.GOMAXPROCS(0) }

// limitConcurrency bounds the OTLP requests in flight. A request that finds no
// slot within a short wait is answered 429 with Retry-After, so memory stays
// bounded however many exporters connect. Other routes pass through.
func limitConcurrency(next http.Handler, n int) http.Handler {
	slots := make(chan struct{}, n)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v1/") {
			next.ServeHTTP(w, r)
			return
		}
		timer := time.NewTimer(500 * time.Millisecond)
		defer timer.Stop()
		select {
		case slots <- struct{}{}:
		case <-timer.C:
			httpapi.WriteError(w, r, nil, day2.Errorf(day2.EOverloaded, "too many OTLP requests in flight (limit %d); retry after the Retry-After delay", n))
			return
		case <-r.Context().Done():
			return
		}
		defer func() { <-slots }()
		next.ServeHTTP(w, r)
	})
}
