package otlp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/day2ops/day2"
)

// Content types of OTLP/HTTP.
const (
	contentTypeProto = "application/x-protobuf"
	contentTypeJSON  = "application/json"
)

// Register adds the OTLP/HTTP endpoints POST /v1/traces and POST /v1/logs to mux.
// The patterns carry no method so that other methods get the receiver's own 405
// answer, in the OTLP error format.
func (r *Receiver) Register(mux *http.ServeMux) {
	mux.Handle("/v1/traces", r.TracesHandler())
	mux.Handle("/v1/logs", r.LogsHandler())
}

// TracesHandler returns the handler for OTLP/HTTP trace exports (POST /v1/traces).
func (r *Receiver) TracesHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { r.serveHTTP(w, req, tracesSignal) })
}

// LogsHandler returns the handler for OTLP/HTTP log exports (POST /v1/logs).
func (r *Receiver) LogsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { r.serveHTTP(w, req, logsSignal) })
}

// format is the encoding of a request and therefore of its answer.
type format uint8

const (
	formatOther format = iota
	formatProto
	formatJSON
)

func formatOf(contentType string) format {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return formatOther
	}
	switch mt {
	case contentTypeProto:
		return formatProto
	case contentTypeJSON:
		return formatJSON
	}
	return formatOther
}

// httpError is a failed request: the status, the gRPC code that goes in the
// google.rpc.Status body, and a message for the user.
type httpError struct {
	status int
	code   codes.Code
	msg    string
}

func (r *Receiver) serveHTTP(w http.ResponseWriter, req *http.Request, sig *signal) {
	status := r.exportHTTP(w, req, sig)
	r.m.requests.WithLabelValues("http", sig.name, strconv.Itoa(status)).Inc()
}

// exportHTTP answers one request and returns the status it sent.
func (r *Receiver) exportHTTP(w http.ResponseWriter, req *http.Request, sig *signal) int {
	f := formatOf(req.Header.Get("Content-Type"))
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return writeError(w, f, httpError{http.StatusMethodNotAllowed, codes.Unimplemented,
			fmt.Sprintf("method %s is not allowed on %s; OTLP/HTTP exports are sent with POST", req.Method, req.URL.Path)})
	}
	if f == formatOther {
		return writeError(w, f, httpError{http.StatusUnsupportedMediaType, codes.InvalidArgument,
			fmt.Sprintf("Content-Type %q is not supported; send %s or %s", req.Header.Get("Content-Type"), contentTypeProto, contentTypeJSON)})
	}
	body, herr := r.readBody(w, req)
	if herr != nil {
		if herr.status == http.StatusRequestEntityTooLarge {
			// The rest of the body is not read; do not let the client send it.
			w.Header().Set("Connection", "close")
		}
		return writeError(w, f, *herr)
	}
	defer r.bufs.put(body)

	asJSON := f == formatJSON
	if asJSON && !jsonDepthWithin(*body, maxJSONDepth) {
		return writeError(w, f, httpError{http.StatusBadRequest, codes.InvalidArgument,
			fmt.Sprintf("cannot decode the OTLP/JSON %s request: it nests objects and arrays deeper than %d levels", sig.name, maxJSONDepth)})
	}
	var (
		tasks []day2.TaskData
		rej   Rejections
	)
	if len(*body) > 0 { // an empty body is an empty request, in JSON too
		var err error
		if tasks, rej, err = sig.decode(*body, asJSON, r.lim); err != nil {
			enc := "protobuf"
			if asJSON {
				enc = "JSON"
			}
			return writeError(w, f, httpError{http.StatusBadRequest, codes.InvalidArgument,
				fmt.Sprintf("cannot decode the OTLP/%s %s request: %v", enc, sig.name, err)})
		}
	}

	switch oc, msg := r.store(req.Context(), sig, "http", tasks, rej); oc {
	case invalid:
		return writeError(w, f, httpError{http.StatusBadRequest, codes.InvalidArgument, msg})
	case overloaded:
		w.Header().Set("Retry-After", strconv.FormatInt(r.retryAfterSeconds(), 10))
		return writeError(w, f, httpError{http.StatusTooManyRequests, codes.Unavailable, msg})
	case unavailable, canceled:
		w.Header().Set("Retry-After", strconv.FormatInt(r.retryAfterSeconds(), 10))
		return writeError(w, f, httpError{http.StatusServiceUnavailable, codes.Unavailable, msg})
	case failed:
		return writeError(w, f, httpError{http.StatusInternalServerError, codes.Internal, msg})
	}

	resp, err := sig.response(rej, asJSON)
	if err != nil {
		// The batch is stored, so the retry this answer causes is harmless:
		// ingest is idempotent.
		r.log.ErrorContext(req.Context(), "otlp: encode export response", "signal", sig.name, "err", err)
		return writeError(w, f, httpError{http.StatusInternalServerError, codes.Internal,
			"internal error while encoding the response; the server log has the details"})
	}
	if asJSON {
		w.Header().Set("Content-Type", contentTypeJSON)
	} else {
		w.Header().Set("Content-Type", contentTypeProto)
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(resp)
	return http.StatusOK
}

// writeError sends e as a google.rpc.Status in the request's format, or as plain
// text when the request's format is neither protobuf nor JSON.
func writeError(w http.ResponseWriter, f format, e httpError) int {
	var body []byte
	switch f {
	case formatProto:
		b, err := proto.Marshal(&spb.Status{Code: int32(e.code), Message: e.msg})
		if err == nil {
			w.Header().Set("Content-Type", contentTypeProto)
			body = b
		}
	case formatJSON:
		b, err := json.Marshal(struct {
			Code    int32  `json:"code"`
			Message string `json:"message"`
		}{int32(e.code), e.msg})
		if err == nil {
			w.Header().Set("Content-Type", contentTypeJSON)
			body = b
		}
	}
	if body == nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		body = []byte(e.msg + "\n")
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
	return e.status
}

// maxJSONDepth bounds the nesting of OTLP/JSON bodies. The JSON decoder has no
// bound of its own (the protobuf one stops at 100), and a 16 MiB body of nested
// arrays would otherwise cost seconds of CPU and a deep stack. Real requests
// nest about a dozen levels plus three per nested attribute array.
const maxJSONDepth = 128

// jsonDepthWithin reports whether the objects and arrays of b nest at most max
// levels deep. It does not validate b; the decoder does.
func jsonDepthWithin(b []byte, limit int) bool {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			// Skip the string, escapes included.
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			depth++
			if depth > limit {
				return false
			}
		case '}', ']':
			depth--
		}
	}
	return true
}

// errBodyTooLarge reports a body over the limit, raw or decompressed.
var errBodyTooLarge = errors.New("request body too large")

// readBody reads the request body, decompressing it if needed, into a pooled
// buffer that never grows past the body limit plus one byte, so that neither a
// large body nor a gzip bomb allocates more than the limit.
func (r *Receiver) readBody(w http.ResponseWriter, req *http.Request) (*[]byte, *httpError) {
	limit := r.lim.MaxBodyBytes
	tooLarge := &httpError{http.StatusRequestEntityTooLarge, codes.ResourceExhausted,
		fmt.Sprintf("request body is larger than the limit of %d bytes (after decompression); send smaller batches or raise --max-body", limit)}
	if req.ContentLength > limit {
		return nil, tooLarge
	}
	raw := &limitedReader{r: req.Body, n: limit}
	var src io.Reader = raw
	gzipped := false
	switch enc := strings.ToLower(strings.TrimSpace(req.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		gzipped = true
	default:
		return nil, &httpError{http.StatusUnsupportedMediaType, codes.InvalidArgument,
			fmt.Sprintf("Content-Encoding %q is not supported; send gzip or an uncompressed body", enc)}
	}

	buf := r.bufs.get(req.ContentLength, gzipped)
	if gzipped {
		gz, err := getGzipReader(raw)
		if err != nil {
			r.bufs.put(buf)
			if raw.exceeded {
				return nil, tooLarge
			}
			return nil, &httpError{http.StatusBadRequest, codes.InvalidArgument,
				fmt.Sprintf("cannot decompress the gzip body: %v", err)}
		}
		defer putGzipReader(gz)
		src = gz
	}
	var err error
	*buf, err = readLimited((*buf)[:0], src, limit)
	if err != nil {
		r.bufs.put(buf)
		switch {
		case errors.Is(err, errBodyTooLarge) || raw.exceeded:
			return nil, tooLarge
		case gzipped:
			return nil, &httpError{http.StatusBadRequest, codes.InvalidArgument,
				fmt.Sprintf("cannot decompress the gzip body: %v", err)}
		}
		return nil, &httpError{http.StatusBadRequest, codes.InvalidArgument,
			fmt.Sprintf("cannot read the request body: %v", err)}
	}
	return buf, nil
}

// readLimited appends what src holds to buf and fails with errBodyTooLarge once
// more than limit bytes arrive. The buffer grows to at most limit+1 bytes.
func readLimited(buf []byte, src io.Reader, limit int64) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return buf, errBodyTooLarge
			}
			newCap := min(int64(max(2*cap(buf), 32<<10)), limit+1)
			nb := make([]byte, len(buf), newCap)
			copy(nb, buf)
			buf = nb
		}
		n, err := src.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return buf, errBodyTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// limitedReader reads at most n bytes plus one, and notes when the source had
// more, so that an oversized compressed body is told apart from a corrupt one.
type limitedReader struct {
	r        io.Reader
	n        int64
	exceeded bool
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.exceeded {
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	if int64(n) > l.n {
		l.exceeded = true
		return int(l.n), errBodyTooLarge
	}
	l.n -= int64(n)
	return n, err
}

// bufferPool recycles request body buffers. Buffers are safe to reuse once the
// request is decoded: pdata copies strings and bytes out of the body.
type bufferPool struct{ p sync.Pool }

// maxPooledBuffer is the largest buffer kept for reuse; the occasional huge
// request should not pin its memory.
const maxPooledBuffer = 4 << 20

func (b *bufferPool) get(contentLength int64, gzipped bool) *[]byte {
	bp, _ := b.p.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	// An exact size read ends without a final grow: one byte more lets the
	// reader see EOF in place.
	if !gzipped && contentLength > 0 && int64(cap(*bp)) < contentLength+1 {
		*bp = make([]byte, 0, contentLength+1)
	}
	return bp
}

func (b *bufferPool) put(bp *[]byte) {
	if bp == nil || cap(*bp) > maxPooledBuffer {
		return
	}
	*bp = (*bp)[:0]
	b.p.Put(bp)
}

var gzipReaders sync.Pool

func getGzipReader(src io.Reader) (*gzip.Reader, error) {
	if gz, ok := gzipReaders.Get().(*gzip.Reader); ok {
		if err := gz.Reset(src); err != nil {
			gzipReaders.Put(gz)
			return nil, err
		}
		return gz, nil
	}
	return gzip.NewReader(src)
}

func putGzipReader(gz *gzip.Reader) {
	_ = gz.Close()
	gzipReaders.Put(gz)
}
