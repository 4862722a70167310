package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// echoServer answers each POST with its body, counting the connections it
// accepted; handle may change the answer.
func echoServer(t *testing.T, tls bool, handle func(w http.ResponseWriter, body []byte) bool) (*httptest.Server, *atomic.Int64) {
	var conns atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" ||
			r.Header.Get("Authorization") != "Bearer t0k" || r.Host == "" {
			http.Error(w, fmt.Sprintf("bad request: %s %s %q", r.Method, r.Header, r.Host), http.StatusBadRequest)
			return
		}
		if handle != nil && handle(w, body) {
			return
		}
		w.WriteHeader(http.StatusCreated)
		w.Write(body)
	})
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, &conns
}

func h1For(t *testing.T, srv *httptest.Server) *h1Conn {
	t.Helper()
	u, err := url.Parse(srv.URL + "/api/v1/approvals")
	if err != nil {
		t.Fatal(err)
	}
	c := newH1Conn(u, 5*time.Second)
	if c.tlsConfig != nil {
		c.tlsConfig.RootCAs = srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	}
	t.Cleanup(c.close)
	return c
}

func TestH1ConnKeepsOneConnectionAlive(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls %v", tls), func(t *testing.T) {
			srv, conns := echoServer(t, tls, nil)
			c := h1For(t, srv)
			for i := range 50 {
				body := fmt.Appendf(nil, `{"n": %d}`, i)
				code, ans, err := c.post(body, "t0k")
				if err != nil || code != http.StatusCreated || !bytes.Equal(ans, body) {
					t.Fatalf("request %d: %d %q, %v; want 201 and the body echoed", i, code, ans, err)
				}
			}
			if n := conns.Load(); n != 1 {
				t.Errorf("50 requests used %d connections, want 1", n)
			}
		})
	}
}

func TestH1ConnReadsChunkedAnswers(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 2048) // past net/http's buffer: sent chunked
	srv, _ := echoServer(t, false, func(w http.ResponseWriter, body []byte) bool {
		w.WriteHeader(http.StatusOK)
		w.Write(body)
		w.(http.Flusher).Flush()
		w.Write(big)
		return true
	})
	c := h1For(t, srv)
	for range 3 {
		code, ans, err := c.post([]byte("{}"), "t0k")
		if err != nil || code != http.StatusOK || !bytes.Equal(ans, append([]byte("{}"), big...)) {
			t.Fatalf("chunked answer: %d, %d bytes, %v; want 200 and %d bytes", code, len(ans), err, 2+len(big))
		}
	}
}

func TestH1ConnRedialsAfterConnectionClose(t *testing.T) {
	srv, conns := echoServer(t, false, func(w http.ResponseWriter, body []byte) bool {
		w.Header().Set("Connection", "close")
		return false
	})
	c := h1For(t, srv)
	for i := range 3 {
		if code, _, err := c.post([]byte("{}"), "t0k"); err != nil || code != http.StatusCreated {
			t.Fatalf("request %d: %d, %v", i, code, err)
		}
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("3 requests answered with Connection: close used %d connections, want 3", n)
	}
}

func TestH1ConnInterrupt(t *testing.T) {
	release := make(chan struct{})
	srv, _ := echoServer(t, false, func(w http.ResponseWriter, body []byte) bool {
		<-release
		return false
	})
	defer close(release)
	c := h1For(t, srv)
	go func() {
		time.Sleep(50 * time.Millisecond)
		c.interrupt()
	}()
	start := time.Now()
	if _, _, err := c.post([]byte("{}"), "t0k"); err == nil {
		t.Fatal("a request to a server that never answers succeeded after interrupt")
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("interrupt took %v to end the request; the request timeout is 5 s", took)
	}
	if _, _, err := c.post([]byte("{}"), "t0k"); !errors.Is(err, errInterrupted) {
		t.Errorf("a request after interrupt: %v, want errInterrupted", err)
	}
}

// rawServer answers every connection with answer and closes it.
func rawServer(t *testing.T, answer string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				r := bufio.NewReader(conn)
				for { // the request's head, then its body by Content-Length
					line, err := r.ReadString('\n')
					if err != nil || line == "\r\n" {
						break
					}
				}
				conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
				io.Copy(io.Discard, r)
				io.WriteString(conn, answer)
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

func TestH1ConnAnswers(t *testing.T) {
	tests := []struct {
		name, answer string
		code         int
		body         string
		err          string
	}{
		{"up to the end without a length", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello", 200, "hello", ""},
		{"no content", "HTTP/1.1 204 No Content\r\n\r\n", 204, "", ""},
		{"HTTP/1.0 with a length", "HTTP/1.0 503 Service Unavailable\r\ncontent-length: 4\r\n\r\nbusy", 503, "busy", ""},
		{"chunked with an extension and trailers", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nX-T: 1\r\n\r\n", 200, "abc", ""},
		{"not HTTP", "SSH-2.0-OpenSSH_9.2\r\n", 0, "", "status line"},
		{"a bad status", "HTTP/1.1 2x0 OK\r\n\r\n", 0, "", "status line"},
		{"a bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, "", "Content-Length"},
		{"a header without a colon", "HTTP/1.1 200 OK\r\nnonsense\r\n\r\n", 0, "", "header"},
		{"a short body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0, "", "EOF"},
		{"a bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, "", "chunk size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, _ := url.Parse(rawServer(t, tt.answer) + "/api/v1/approvals")
			c := newH1Conn(u, 5*time.Second)
			defer c.close()
			code, body, err := c.post([]byte("{}"), "")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("post: %d %q, %v; want an error about %q", code, body, err, tt.err)
				}
				return
			}
			if err != nil || code != tt.code || string(body) != tt.body {
				t.Fatalf("post: %d %q, %v; want %d %q", code, body, err, tt.code, tt.body)
			}
		})
	}
}

// FuzzH1Answer: no input makes the answer reader panic, loop or return a body
// longer than the input.
func FuzzH1Answer(f *testing.F) {
	f.Add([]byte("HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"))
	f.Add([]byte("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nrest"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h := &h1Conn{r: bufio.NewReaderSize(bytes.NewReader(data), 64)}
		_, body, _, err := h.readAnswer()
		if err == nil && len(body) > len(data) {
			t.Fatalf("a %d-byte body from %d bytes of input", len(body), len(data))
		}
	})
}
