// Command nullserver answers POST /api/v1/approvals as day2 answers a Tier 0
// request, and does nothing else: it decodes each JSON body and answers
// "approved" at once, storing nothing. Run day2's load generator against it to
// see what a machine and the generator itself take before day2 does any work
// (docs/benchmarks.md, eighth session):
//
//	go run ./bench/nullserver --addr 127.0.0.1:29999 &
//	go run ./cmd/day2 bench approvals --server http://127.0.0.1:29999 --rate 5000 --duration 15s
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"sync/atomic"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:29999", "address to listen on")
	flag.Parse()
	var n atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/approvals", func(w http.ResponseWriter, r *http.Request) {
		var req map[string]any
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, `{"error":"the body is not a JSON object"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":"apr_null%d","state":"approved","tier":0,"auto_approved":true}`, n.Add(1))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {})
	fmt.Fprintf(os.Stderr, "nullserver: answering Tier 0 approvals on http://%s\n", *addr)
	log.Fatal(http.ListenAndServe(*addr, mux))
}
