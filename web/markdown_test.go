package web

import (
	"io"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// markdownTags are the elements the Markdown converter writes itself.
var markdownTags = []string{"a", "br", "code", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li", "ol", "p", "pre",
	"strong", "table", "tbody", "td", "th", "thead", "tr", "ul"}

// checkSafeHTML fails unless out holds only the converter's own elements and
// attributes, with links to http(s) or same-site addresses: nothing of the
// input may become markup.
func checkSafeHTML(t *testing.T, src, out string) {
	t.Helper()
	z := html.NewTokenizer(strings.NewReader(out))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if z.Err() != io.EOF {
				t.Fatalf("output for %q is not HTML: %v", src, z.Err())
			}
			return
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		tok := z.Token()
		if !slices.Contains(markdownTags, tok.Data) {
			t.Fatalf("element <%s> in the output for %q:\n%s", tok.Data, src, out)
		}
		for _, a := range tok.Attr {
			switch a.Key {
			case "href":
				h := strings.ToLower(strings.TrimSpace(a.Val))
				if !(strings.HasPrefix(h, "http://") || strings.HasPrefix(h, "https://") || strings.HasPrefix(h, "/") && !strings.HasPrefix(h, "//")) {
					t.Fatalf("link to %q in the output for %q", a.Val, src)
				}
			case "rel", "scope", "start", "class":
			default:
				t.Fatalf("attribute %s=%q on <%s> in the output for %q", a.Key, a.Val, tok.Data, src)
			}
		}
	}
}

func TestMarkdownRendersAndEscapes(t *testing.T) {
	src := "# Tool outage\n\n- **Detect** the <b>spike</b>\n- see [runbook](/incidents/in_1)\n\n[bad](javascript:alert(1))\n"
	got := string(markdown(src))
	for _, want := range []string{"Tool outage</h", "<li>", "<strong>Detect</strong>", "&lt;b&gt;spike&lt;/b&gt;", `href="/incidents/in_1"`} {
		if !strings.Contains(got, want) {
			t.Errorf("rendered Markdown lacks %q:\n%s", want, got)
		}
	}
	checkSafeHTML(t, src, got)
}

// FuzzMarkdown feeds the converter arbitrary text (runbooks, notes and alert
// summaries are written by people and by other systems) and checks that no
// markup of the input survives.
func FuzzMarkdown(f *testing.F) {
	for _, s := range []string{
		"# Title\n\n| a | b |\n|---|---|\n| <script>x</script> | `code` |\n",
		"- [ ] item\n  - nested [link](http://example.com)\n\n---\n*em* **strong**",
		"[x](javascript:alert(1)) <img src=x onerror=alert(1)>",
		"[x](\"onmouseover=alert(1) \") [y](//evil.example/x)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		checkSafeHTML(t, src, string(markdown(src)))
	})
}
