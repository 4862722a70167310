package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// clientFlags are the flags of commands that talk to a running day2.
type clientFlags struct {
	server, token, output string
}

func (c *clientFlags) register(fs *pflag.FlagSet) {
	def := os.Getenv("DAY2_SERVER")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	fs.StringVar(&c.server, "server", def, "base URL of day2 (default $DAY2_SERVER or http://127.0.0.1:8080)")
	fs.StringVar(&c.token, "token", os.Getenv("DAY2_TOKEN"), "API token (default $DAY2_TOKEN)")
	fs.StringVar(&c.output, "output", "text", "text or json")
}

func (c *clientFlags) checkOutput() error {
	if c.output != "text" && c.output != "json" {
		return &exitError{2, fmt.Errorf("--output %q: use text or json", c.output)}
	}
	return nil
}

// apiError is an error answer of the day2 API.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status)
	}
	return fmt.Sprintf("HTTP %d", e.Status)
}

// answer finishes a request made for the command what (e.g. "flags list"): a
// failed request exits 2, its error prefixed with what, and with --output json
// the answer is written as received. done reports that nothing is left to do;
// otherwise the caller prints the decoded answer as text.
func (c *clientFlags) answer(cmd *cobra.Command, what string, raw []byte, err error) (done bool, _ error) {
	if err != nil {
		return true, &exitError{2, fmt.Errorf("%s: %w", what, err)}
	}
	if c.output == "json" {
		_, err := cmd.OutOrStdout().Write(raw)
		return true, err
	}
	return false, nil
}

// get fetches path from the server into v, returning the raw body too.
func (c *clientFlags) get(ctx context.Context, path string, q url.Values, v any) ([]byte, error) {
	return c.do(ctx, http.MethodGet, path, q, nil, v)
}

// send encodes in as the JSON body of a method request to path and decodes
// the answer into v, returning the raw answer too.
func (c *clientFlags) send(ctx context.Context, method, path string, in, v any) ([]byte, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	return c.do(ctx, method, path, nil, bytes.NewReader(b), v)
}

func (c *clientFlags) do(ctx context.Context, method, path string, q url.Values, body io.Reader, v any) ([]byte, error) {
	u, err := url.Parse(strings.TrimRight(c.server, "/") + path)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("--server %q is not a URL like http://127.0.0.1:8080", c.server)
	}
	if q != nil {
		u.RawQuery = q.Encode()
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, fmt.Errorf("cannot reach day2 at %s: %v (is it running? set --server or $DAY2_SERVER)", c.server, ue.Err)
		}
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read answer of %s: %w", u, err)
	}
	if resp.StatusCode >= 300 {
		ae := &apiError{Status: resp.StatusCode}
		var eb struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(raw, &eb) == nil {
			ae.Code, ae.Message = eb.Error.Code, eb.Error.Message
		}
		if resp.StatusCode == http.StatusUnauthorized && ae.Message == "" {
			ae.Message = "day2 wants a token: pass --token or set $DAY2_TOKEN"
		}
		return raw, ae
	}
	if v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			return raw, fmt.Errorf("day2 at %s answered something that is not its API (%v); is --server right?", c.server, err)
		}
	}
	return raw, nil
}
