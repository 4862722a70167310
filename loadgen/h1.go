package loadgen

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// h1Conn is one keep-alive HTTP/1.1 connection that carries one request at a
// time: the approvals load generator's own client. On a machine whose cores
// day2 shares with its load generator, every microsecond the client spends is
// taken from the server it measures. net/http's client runs two goroutines per
// connection and hands each request and answer between them, and builds
// header maps; this one writes each request with one call and reads the
// answer from a buffer. With it, a run at 3,000 requests/s took 0.25 cores
// of client CPU instead of 0.37. It speaks just enough HTTP/1.1 for day2's
// answers: a status line, headers, and a body by Content-Length, chunked, or
// up to the end of the connection.
type h1Conn struct {
	addr      string // host:port to dial
	host      string // the Host header
	path      string
	tlsConfig *tls.Config // nil for http
	timeout   time.Duration

	mu      sync.Mutex // guards c for interrupt
	c       net.Conn
	stopped bool // guarded by mu: interrupt was called
	r       *bufio.Reader
	req     []byte
	ans     []byte
}

var errInterrupted = errors.New("interrupted")

// interrupt makes the request in progress, and every later one, fail at once.
// It may be called from another goroutine.
func (h *h1Conn) interrupt() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	if h.c != nil {
		_ = h.c.SetDeadline(time.Unix(1, 0))
	}
}

// newH1Conn returns an unconnected client of the endpoint u (http or https);
// it dials on its first request and again after a connection is lost.
func newH1Conn(u *url.URL, timeout time.Duration) *h1Conn {
	h := &h1Conn{host: u.Host, path: u.RequestURI(), timeout: timeout}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	h.addr = net.JoinHostPort(u.Hostname(), port)
	if u.Scheme == "https" {
		h.tlsConfig = &tls.Config{ServerName: u.Hostname()}
	}
	return h
}

// close drops the connection; the next request dials a new one.
func (h *h1Conn) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.c != nil {
		h.c.Close()
		h.c, h.r = nil, nil
	}
}

// post sends body as a JSON POST with the optional bearer token and returns
// the answer's status and body; the body is valid until the next call. On any
// error the connection is closed.
func (h *h1Conn) post(body []byte, token string) (int, []byte, error) {
	h.mu.Lock()
	stopped, c := h.stopped, h.c
	h.mu.Unlock()
	if stopped {
		return 0, nil, errInterrupted
	}
	if c == nil {
		d := net.Dialer{Timeout: h.timeout, KeepAlive: 30 * time.Second}
		var c net.Conn
		var err error
		if h.tlsConfig != nil {
			c, err = tls.DialWithDialer(&d, "tcp", h.addr, h.tlsConfig)
		} else {
			c, err = d.Dial("tcp", h.addr)
		}
		if err != nil {
			return 0, nil, err
		}
		h.mu.Lock()
		h.c, h.r = c, bufio.NewReaderSize(c, 16<<10)
		if h.stopped {
			_ = c.SetDeadline(time.Unix(1, 0))
		}
		h.mu.Unlock()
	}
	req := append(h.req[:0], "POST "...)
	req = append(req, h.path...)
	req = append(req, " HTTP/1.1\r\nHost: "...)
	req = append(req, h.host...)
	req = append(req, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	req = strconv.AppendInt(req, int64(len(body)), 10)
	if token != "" {
		req = append(req, "\r\nAuthorization: Bearer "...)
		req = append(req, token...)
	}
	req = append(req, "\r\n\r\n"...)
	req = append(req, body...)
	h.req = req
	h.mu.Lock()
	err := h.c.SetDeadline(time.Now().Add(h.timeout))
	if h.stopped {
		err = errInterrupted
	}
	h.mu.Unlock()
	if err != nil {
		h.close()
		return 0, nil, err
	}
	if _, err := h.c.Write(req); err != nil {
		h.close()
		return 0, nil, err
	}
	status, ans, keep, err := h.readAnswer()
	if err != nil {
		h.close()
		return 0, nil, err
	}
	if !keep {
		h.close()
	}
	return status, ans, nil
}

var errMalformed = errors.New("malformed HTTP answer")

// readAnswer reads one answer: its status, body, and whether the connection
// stays open.
func (h *h1Conn) readAnswer() (status int, body []byte, keep bool, err error) {
	line, err := h.line()
	if err != nil {
		return 0, nil, false, err
	}
	// HTTP/1.1 201 Created
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, nil, false, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, false, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	keep = line[7] == '1' // HTTP/1.0 closes unless told otherwise; day2 speaks 1.1
	length, chunked := int64(-1), false
	for {
		line, err := h.line()
		if err != nil {
			return 0, nil, false, err
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, nil, false, fmt.Errorf("%w: header %q", errMalformed, line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "content-length"):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil || length < 0 {
				return 0, nil, false, fmt.Errorf("%w: Content-Length %q", errMalformed, value)
			}
		case asciiEqualFold(name, "transfer-encoding"):
			chunked = asciiEqualFold(value, "chunked")
		case asciiEqualFold(name, "connection"):
			keep = !asciiEqualFold(value, "close")
		}
	}
	h.ans = h.ans[:0]
	switch {
	case status/100 == 1 || status == http.StatusNoContent || status == http.StatusNotModified:
		// No body, whatever the headers say.
	case chunked:
		err = h.readChunked()
	case length >= 0:
		if length > 64<<20 {
			return 0, nil, false, fmt.Errorf("%w: a %d-byte answer", errMalformed, length)
		}
		h.ans = append(h.ans, make([]byte, length)...)
		_, err = io.ReadFull(h.r, h.ans)
	default:
		h.ans, err = io.ReadAll(io.LimitReader(h.r, 64<<20))
		keep = false
	}
	if err != nil {
		return 0, nil, false, err
	}
	return status, h.ans, keep, nil
}

// readChunked appends a chunked body to h.ans.
func (h *h1Conn) readChunked() error {
	for {
		line, err := h.line()
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(line, []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		if err != nil || n < 0 || n > 64<<20 || int64(len(h.ans))+n > 64<<20 {
			return fmt.Errorf("%w: chunk size %q", errMalformed, line)
		}
		if n == 0 {
			for { // trailers, up to the empty line
				line, err := h.line()
				if err != nil || len(line) == 0 {
					return err
				}
			}
		}
		start := len(h.ans)
		h.ans = append(h.ans, make([]byte, n)...)
		if _, err := io.ReadFull(h.r, h.ans[start:]); err != nil {
			return err
		}
		if line, err = h.line(); err != nil {
			return err
		}
		if len(line) != 0 {
			return fmt.Errorf("%w: no line end after a chunk", errMalformed)
		}
	}
}

// line returns the next line without its line end; it is valid until the next
// read.
func (h *h1Conn) line() ([]byte, error) {
	line, err := h.r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("%w: a line longer than %d bytes", errMalformed, h.r.Size())
		}
		return nil, err
	}
	return bytes.TrimSuffix(line[:len(line)-1], []byte("\r")), nil
}

// asciiEqualFold reports whether b equals the lower-case ASCII s, ignoring
// case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
