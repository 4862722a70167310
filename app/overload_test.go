package app_test

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/day2ops/day2/app"
	"github.com/day2ops/day2/sqlite"
)

// TestFullQueueAnswers429AndMemoryStaysBounded stalls the store (another
// connection holds SQLite's write lock), floods day2 with requests, and checks
// that the queue refuses what it cannot hold with 429 and Retry-After, that heap
// memory stays far below what the refused telemetry would need, and that the
// queued requests are stored once the store is free again.
func TestFullQueueAnswers429AndMemoryStaysBounded(t *testing.T) {
	dir := t.TempDir()
	a := startApp(t, app.Options{DataDir: dir, MaxQueuedItems: 3000})

	// Hold the write lock so commits wait (busy_timeout) instead of finishing.
	blocker, err := sql.Open("sqlite", filepath.Join(dir, sqlite.FileName)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Close()
	conn, err := blocker.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	locked := true
	defer func() {
		if locked {
			conn.ExecContext(context.Background(), "ROLLBACK")
		}
		conn.Close()
	}()

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	const senders, perSender, tasksPerRequest = 8, 40, 300 // 320 requests, 288,000 spans
	var (
		ok, throttled, other atomic.Int64
		retryAfterMissing    atomic.Int64
		peakHeap             atomic.Uint64
		okIDs                sync.Map
		wg                   sync.WaitGroup
	)
	done := make(chan struct{})
	go func() { // sample the heap while the flood is on
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peakHeap.Load() {
				peakHeap.Store(ms.HeapInuse)
			}
		}
	}()
	client := &http.Client{Timeout: 30 * time.Second}
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			for i := 0; i < perSender; i++ {
				seq := 1_000_000 + s*1000 + i
				body, ids := batch(seq*1000, tasksPerRequest)
				resp, err := client.Post(a.HTTPURL()+"/v1/traces", "application/x-protobuf", bytes.NewReader(body))
				if err != nil {
					other.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusOK:
					ok.Add(1)
					okIDs.Store(ids[0], true)
				case http.StatusTooManyRequests, http.StatusServiceUnavailable:
					throttled.Add(1)
					if resp.Header.Get("Retry-After") == "" {
						retryAfterMissing.Add(1)
					}
				default:
					other.Add(1)
				}
			}
		}(s)
	}
	// Release the store once the flood has met a full queue for a while.
	deadline := time.Now().Add(8 * time.Second)
	for throttled.Load() < 100 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	conn.ExecContext(context.Background(), "ROLLBACK")
	locked = false
	wg.Wait()
	close(done)

	t.Logf("%d stored, %d refused (429/503), %d other; heap before %d MiB, peak %d MiB",
		ok.Load(), throttled.Load(), other.Load(), before.HeapInuse>>20, peakHeap.Load()>>20)
	if throttled.Load() == 0 {
		t.Fatal("no request was refused although the store was stalled and the queue holds 3,000 spans")
	}
	if retryAfterMissing.Load() > 0 {
		t.Errorf("%d refusals lacked a Retry-After header", retryAfterMissing.Load())
	}
	if other.Load() > 0 {
		t.Errorf("%d requests failed otherwise", other.Load())
	}
	// 288,000 spans held in memory would take several hundred MiB; the bounded
	// queue and in-flight limit keep the growth to a small multiple of one request.
	if !raceEnabled {
		if grown := int64(peakHeap.Load()) - int64(before.HeapInuse); grown > 150<<20 {
			t.Errorf("heap grew by %d MiB during the flood; the queue is not bounding memory", grown>>20)
		}
	}
	// Everything acknowledged is there.
	okIDs.Range(func(k, _ any) bool {
		id := k.([16]byte)
		resp, err := http.Get(a.HTTPURL() + "/api/v1/tasks/" + hexID(id))
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("acknowledged task %x is missing", id)
		}
		if resp != nil {
			resp.Body.Close()
		}
		return true
	})
}
