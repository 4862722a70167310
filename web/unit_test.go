package web

import (
	"math"
	"testing"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/slo"
)

func TestFormats(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"a ratio is a percentage with two decimals", pct(0.938181), "93.82%"},
		{"a missing ratio is a dash", pctp(nil), "–"},
		{"an objective keeps only its digits", objective(0.995), "99.5%"},
		{"the complement of an objective has no float noise", objective(1 - 0.95), "5%"},
		{"counts get thousands separators", count(1234567), "1,234,567"},
		{"negative counts too", count(-1234), "-1,234"},
		{"small rates keep two decimals", num(4.256), "4.26"},
		{"large rates are whole", num(1234.5), "1,235"},
		{"millions are short", num(2.5e6), "2.5M"},
		{"NaN is a dash", num(math.NaN()), "–"},
		{"cycle times under a second are in ms", seconds(850), "850 ms"},
		{"cycle times are in seconds", seconds(34260), "34.3 s"},
		{"whole seconds drop the decimal", seconds(120000), "120 s"},
		{"long cycle times are in minutes", seconds(750000), "12.5 min"},
		{"days are days", human(28 * 24 * time.Hour), "28d"},
		{"hours and minutes", human(90 * time.Minute), "1h30m"},
		{"whole hours", human(6 * time.Hour), "6h"},
		{"a rise has a plus", signed("3.10 pp", 0.031), "+3.10 pp"},
		{"a fall has a minus sign", signed("3.10 pp", -0.031), "−3.10 pp"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestVersionLess(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"numeric parts compare as numbers", "1.9.2", "1.10.0", true},
		{"and not as text", "1.10.0", "1.9.2", false},
		{"a leading v is ignored", "v2.3.1", "2.4.0", true},
		{"a shorter version comes first", "2.4", "2.4.1", true},
		{"text parts compare as text", "1.0.0-beta", "1.0.0-rc", true},
		{"equal versions are not less", "1.4.0", "1.4.0", false},
	}
	for _, tt := range tests {
		if got := versionLess(tt.a, tt.b); got != tt.want {
			t.Errorf("%s: versionLess(%q, %q) = %v", tt.name, tt.a, tt.b, got)
		}
	}
}

func TestSafeNext(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"a local path is kept", "/slos?env=prod", "/slos?env=prod"},
		{"nothing goes to the overview", "", "/"},
		{"another host is refused", "https://evil.example/", "/"},
		{"a protocol-relative URL is refused", "//evil.example/", "/"},
		{"a backslash trick is refused", "/\\evil.example", "/"},
		{"a header injection is refused", "/x\r\nSet-Cookie: a=b", "/"},
		{"the login page does not loop", "/login?next=/", "/"},
	}
	for _, tt := range tests {
		if got := safeNext(tt.in); got != tt.want {
			t.Errorf("%s: safeNext(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestBucketStarts(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	got := bucketStarts(at("2026-11-26T09:10:00Z"), at("2026-11-26T10:40:00Z"), 30*time.Minute)
	want := []slo.Interval{
		{From: at("2026-11-26T09:10:00Z"), To: at("2026-11-26T09:30:00Z")},
		{From: at("2026-11-26T09:30:00Z"), To: at("2026-11-26T10:00:00Z")},
		{From: at("2026-11-26T10:00:00Z"), To: at("2026-11-26T10:30:00Z")},
		{From: at("2026-11-26T10:30:00Z"), To: at("2026-11-26T10:40:00Z")},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d buckets %v, want %v", len(got), got, want)
	}
	for i := range want {
		if !got[i].From.Equal(want[i].From) || !got[i].To.Equal(want[i].To) {
			t.Errorf("bucket %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestSparkline(t *testing.T) {
	tests := []struct {
		name   string
		values []float64
		floor  bool
		path   string
	}{
		{"a rising line from the bottom-left corner", []float64{0, 1, 2}, true, "M2 28 L50 15 L98 2"},
		{"a gap starts a new stroke", []float64{1, math.NaN(), 1}, true, "M2 2 M98 2"},
		{"a flat line sits in the middle", []float64{5, 5}, false, "M2 15 L98 15"},
		{"no data draws nothing", []float64{math.NaN()}, true, ""},
	}
	for _, tt := range tests {
		if got := sparkline(tt.values, 100, 30, tt.floor, "x").Path; got != tt.path {
			t.Errorf("%s: path %q, want %q", tt.name, got, tt.path)
		}
	}
}

func TestNiceStep(t *testing.T) {
	tests := []struct {
		span, want float64
	}{{0.5, 0.1}, {1, 0.2}, {0.03, 0.01}, {3, 1}, {0.08, 0.02}}
	for _, tt := range tests {
		if got := niceStep(tt.span); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("niceStep(%g) = %g, want %g", tt.span, got, tt.want)
		}
	}
}

func TestWaterfall(t *testing.T) {
	id := func(b byte) day2.SpanID { return day2.SpanID{b} }
	const ms = int64(time.Millisecond)
	spans := []day2.Span{
		{SpanID: id(3), ParentSpanID: id(1), Name: "llm.tool", Start: 600 * ms, End: 1000 * ms,
			StatusCode: day2.StatusError, Attrs: day2.Attrs{{Key: "retries", Value: day2.IntValue(2)}, {Key: "http_status", Value: day2.IntValue(429)}}},
		{SpanID: id(1), Name: "triage", Start: 0, End: 1000 * ms,
			Events: []day2.Event{{Name: "outcome", Time: 1000 * ms}}},
		{SpanID: id(2), ParentSpanID: id(1), Name: "chat gpt-4o", Start: 100 * ms, End: 500 * ms,
			Attrs: day2.Attrs{{Key: "gen_ai.operation.name", Value: day2.StringValue("chat")}, {Key: "gen_ai.usage.input_tokens", Value: day2.IntValue(1200)}}},
		{SpanID: id(4), ParentSpanID: id(9), Name: "orphan", Start: 200 * ms, End: 300 * ms},
	}
	rows, lo, hi := waterfall(spans)
	if lo != 0 || hi != 1000*ms {
		t.Errorf("extent [%d, %d), want [0, 1s)", lo, hi)
	}
	want := []struct {
		name, role string
		depth      int
		offset     float64
		failed     bool
	}{
		{"triage", roleRoot, 0, 0, false},
		{"chat gpt-4o", roleLLM, 1, 10, false},
		{"llm.tool", roleTool, 1, 60, true},
		{"orphan", roleOther, 0, 20, false},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	for i, w := range want {
		r := rows[i]
		if r.Span.Name != w.name || r.Role != w.role || r.Depth != w.depth || r.OffsetPct != w.offset || r.Failed != w.failed {
			t.Errorf("row %d = %s %s depth %d at %.1f%% failed %v, want %+v", i, r.Span.Name, r.Role, r.Depth, r.OffsetPct, r.Failed, w)
		}
	}
	if tool := rows[2]; tool.Retries != 2 || !tool.RateLimit {
		t.Errorf("tool row: %d retries, rate-limited %v; want 2 and true", tool.Retries, tool.RateLimit)
	}
	if m := rows[0].Markers; len(m) != 1 || !m[0].Outcome || m[0].OffsetPct != 100 {
		t.Errorf("root markers %+v, want the outcome at 100%%", m)
	}
	if rows[1].Tokens != "1,200 in / 0 out" {
		t.Errorf("LLM tokens %q", rows[1].Tokens)
	}
}
