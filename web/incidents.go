package web

import (
	"html"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/approval"
	"github.com/day2ops/day2/auth"
	"github.com/day2ops/day2/incident"
)

// The incidents pages are the list (open incidents first), one page per
// incident with its timeline, triage, runbook and the forms that act on it
// (acknowledge, pull a mitigation lever, note, resolve), its postmortem draft,
// and the daily digest and weekly review. The Markdown the incident service
// writes (runbooks, postmortems, digests) is converted to HTML by markdown,
// which escapes all text, so nothing from an alert or a note becomes markup.

// Limits of the incidents pages.
const (
	maxOpenIncidents   = 1000
	recentResolved     = 50
	maxFilteredResults = 200
)

// incidentRoutes registers the incidents pages.
func (u *UI) incidentRoutes() {
	u.mux.HandleFunc("GET /incidents", u.incidentList)
	u.mux.HandleFunc("GET /incidents/{id}", u.incidentPage)
	u.mux.HandleFunc("GET /incidents/{id}/postmortem", u.postmortemPage)
	u.mux.HandleFunc("GET /review", u.reviewPage)
	u.mux.Handle("POST /incidents/{id}/ack", u.action(auth.ScopeOperate, u.incidentAck))
	u.mux.Handle("POST /incidents/{id}/mitigate", u.action(auth.ScopeOperate, u.incidentMitigate))
	u.mux.Handle("POST /incidents/{id}/resolve", u.action(auth.ScopeOperate, u.incidentResolve))
	u.mux.Handle("POST /incidents/{id}/note", u.action(auth.ScopeOperate, u.incidentNote))
}

type incidentListPage struct {
	chrome
	flash
	Service, State, Severity string
	States                   []string
	Services                 []string
	Open                     []incidentRow
	Resolved                 []incidentRow
	// Filtered is set when one state is asked for: then Open or Resolved
	// holds them all, and the other is empty.
	Filtered bool
	APIURL   string
}

// incidentRow is an incident in the list.
type incidentRow struct {
	I      incident.Incident
	Age    string // open for, or how long it lasted
	Alerts string // firing / all
}

func (u *UI) incidentList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := incidentListPage{chrome: u.chrome(r, "Incidents", "incidents"), flash: flashOf(r),
		Service: q.Get("service"), State: q.Get("state"), Severity: q.Get("severity"),
		States: []string{"open", incident.StateTriggered, incident.StateAcknowledged, incident.StateMitigated, incident.StateResolved}}
	p.Refresh = 60
	switch p.Severity {
	case "", incident.SeverityPage, incident.SeverityTicket:
	default:
		u.fail(w, r, day2.Errorf(day2.EInvalid, "severity=%q is not page or ticket", p.Severity))
		return
	}
	ctx := r.Context()
	now := u.incidents.Now()
	var open, resolved []incident.Incident
	var err error
	if p.State == "" {
		if open, err = u.incidents.List(ctx, incident.Filter{State: "open", Service: p.Service, Limit: maxOpenIncidents}); err == nil {
			resolved, err = u.incidents.List(ctx, incident.Filter{State: incident.StateResolved, Service: p.Service, Limit: recentResolved})
		}
	} else {
		p.Filtered = true
		var incs []incident.Incident
		incs, err = u.incidents.List(ctx, incident.Filter{State: p.State, Service: p.Service, Limit: maxFilteredResults})
		if p.State == incident.StateResolved {
			resolved = incs
		} else {
			open = incs
		}
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	// Pages before tickets; newest first within each.
	sort.SliceStable(open, func(i, j int) bool {
		return open[i].Severity == incident.SeverityPage && open[j].Severity != incident.SeverityPage
	})
	services := map[string]bool{p.Service: true}
	rows := func(incs []incident.Incident) []incidentRow {
		var out []incidentRow
		for _, inc := range incs {
			services[inc.Service] = true
			if p.Severity != "" && inc.Severity != p.Severity {
				continue
			}
			out = append(out, incidentRow{I: inc, Age: incidentAge(&inc, now), Alerts: strconv.Itoa(inc.Firing()) + " / " + strconv.Itoa(len(inc.Alerts))})
		}
		return out
	}
	p.Open, p.Resolved = rows(open), rows(resolved)
	delete(services, "")
	for s := range services {
		p.Services = append(p.Services, s)
	}
	sort.Strings(p.Services)
	p.APIURL = link("/api/v1/incidents", "service", p.Service, "state", p.State)
	u.render(w, http.StatusOK, "incidents.html", p)
}

// incidentAge is how long an incident has lasted since it was detected: until
// now, or until it was resolved.
func incidentAge(inc *incident.Incident, now time.Time) string {
	end := now
	if !inc.Open() {
		end = inc.ResolvedAt
	}
	return latencyText(end.Sub(incidentStart(inc)))
}

// incidentStart is when an incident began: its first alert's start, or its
// opening when that is earlier or unknown.
func incidentStart(inc *incident.Incident) time.Time {
	if inc.DetectedAt.IsZero() || inc.OpenedAt.Before(inc.DetectedAt) {
		return inc.OpenedAt
	}
	return inc.DetectedAt
}

type incidentPage struct {
	chrome
	flash
	I           incident.Incident
	Open        bool
	Firing      int
	Started     time.Time
	Times       []incidentTime
	Runbook     template.HTML
	RunbookErr  string
	RunbookLink string // an alert's own runbook, when it is a web link
	Timeline    []timelineRow
	Failing     []failingTask
	CanOperate  bool
	Switch      *approval.Switch
	Overrides   []string
	APIURL      string
}

// incidentTime is one of an incident's milestones.
type incidentTime struct {
	Label, At, After string
}

type timelineRow struct {
	E    incident.Entry
	Fail bool // a lever that failed
}

// failingTask is a triage link to a failed task, on this dashboard.
type failingTask struct {
	incident.TaskLink
	Href string
}

func (u *UI) incidentPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	inc, err := u.incidents.Get(ctx, r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	p := incidentPage{chrome: u.chrome(r, inc.Title, "incidents"), flash: flashOf(r), I: inc, Open: inc.Open(), Firing: inc.Firing(),
		Started: incidentStart(&inc), CanOperate: can(r, auth.ScopeOperate), Overrides: incident.OverrideNames,
		APIURL: "/api/v1/incidents/" + inc.ID}
	after := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return latencyText(t.Sub(p.Started)) + " after detection"
	}
	p.Times = []incidentTime{
		{"Detected", stampSec(inc.DetectedAt), ""},
		{"Opened", stampSec(inc.OpenedAt), after(inc.OpenedAt)},
		{"Acknowledged", stampSec(inc.AcknowledgedAt), after(inc.AcknowledgedAt)},
		{"Mitigated", stampSec(inc.MitigatedAt), after(inc.MitigatedAt)},
		{"Resolved", stampSec(inc.ResolvedAt), after(inc.ResolvedAt)},
	}
	for _, e := range inc.Timeline {
		fail := e.Type == incident.EntryMitigation && e.Data["ok"] == false
		p.Timeline = append(p.Timeline, timelineRow{E: e, Fail: fail})
	}
	if t := inc.Triage; t != nil {
		for _, ft := range t.FailingTasks {
			f := failingTask{TaskLink: ft}
			if _, err := day2.ParseTraceID(ft.TaskID); err == nil {
				f.Href = "/tasks/" + ft.TaskID
			}
			p.Failing = append(p.Failing, f)
		}
	}
	if md, err := u.incidents.Runbook(ctx, inc.ID); err != nil {
		u.log.Error("render runbook", "incident", inc.ID, "err", err)
		p.RunbookErr = day2.ErrorMessage(err)
	} else {
		p.Runbook = markdown(md)
	}
	if safeHref(inc.RunbookURL) {
		p.RunbookLink = inc.RunbookURL
	}
	if u.approvals != nil && inc.Service != "" {
		if sw, err := u.approvals.Switch(ctx, inc.Service); err == nil {
			p.Switch = &sw
		}
	}
	u.render(w, http.StatusOK, "incident.html", p)
}

// The form handlers act as the signed-in identity and go back to the
// incident's page with what happened, or with the service's refusal.

func (u *UI) incidentAck(w http.ResponseWriter, r *http.Request, id auth.Identity) (string, string, error) {
	inc, err := u.incidents.Ack(r.Context(), id.Name, r.PathValue("id"), strings.TrimSpace(r.PostForm.Get("reason")))
	return incidentBack(r, err, "Acknowledged: "+inc.Title+".")
}

func (u *UI) incidentResolve(w http.ResponseWriter, r *http.Request, id auth.Identity) (string, string, error) {
	inc, err := u.incidents.Resolve(r.Context(), id.Name, r.PathValue("id"), strings.TrimSpace(r.PostForm.Get("reason")))
	return incidentBack(r, err, "Resolved: "+inc.Title+".")
}

func (u *UI) incidentNote(w http.ResponseWriter, r *http.Request, id auth.Identity) (string, string, error) {
	_, err := u.incidents.Note(r.Context(), id.Name, r.PathValue("id"), r.PostForm.Get("text"))
	return incidentBack(r, err, "Note added to the timeline.")
}

// incidentMitigate pulls the lever the form names (none: the incident was
// mitigated by other means).
func (u *UI) incidentMitigate(w http.ResponseWriter, r *http.Request, id auth.Identity) (string, string, error) {
	f := r.PostForm
	lr := incident.LeverRequest{Lever: f.Get("lever"), Reason: f.Get("reason"), Flag: strings.TrimSpace(f.Get("flag")),
		Name: f.Get("name")}
	switch f.Get("on") {
	case "on":
		lr.On = ptrTo(true)
	case "off":
		lr.On = ptrTo(false)
	case "":
	default:
		return incidentBack(r, day2.Errorf(day2.EInvalid, "on=%q: choose on or off", f.Get("on")), "")
	}
	if lr.Lever == incident.LeverOverride {
		lr.Value = strings.TrimSpace(f.Get("value"))
	}
	inc, err := u.incidents.Mitigate(r.Context(), id.Name, r.PathValue("id"), lr)
	msg := "Marked mitigated."
	for i := len(inc.Timeline) - 1; i >= 0 && lr.Lever != ""; i-- {
		if e := inc.Timeline[i]; e.Type == incident.EntryMitigation {
			msg = "Done: " + e.Text
			break
		}
	}
	return incidentBack(r, err, msg)
}

// incidentBack returns to the incident's page with msg, or with err's
// message; an unknown incident is the error page.
func incidentBack(r *http.Request, err error, msg string) (string, string, error) {
	if err != nil && day2.ErrorCode(err) == day2.ENotFound {
		return "", "", err
	}
	return "/incidents/" + r.PathValue("id"), msg, err
}

func ptrTo[T any](v T) *T { return &v }

// markdownPage shows a Markdown document of the incident service: a
// postmortem draft or a digest.
type markdownPage struct {
	chrome
	Heading string
	Back    string // link back, with BackText
	Tabs    []tab
	BackTxt string
	RawURL  string
	Doc     template.HTML
}

type tab struct {
	Text, URL string
	Current   bool
}

func (u *UI) postmortemPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	inc, err := u.incidents.Get(ctx, r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	md, err := u.incidents.Postmortem(ctx, inc.ID)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, http.StatusOK, "markdown-page", markdownPage{chrome: u.chrome(r, "Postmortem: "+inc.Title, "incidents"),
		Heading: "Postmortem draft", Back: "/incidents/" + inc.ID, BackTxt: "Incident " + inc.ID,
		RawURL: "/api/v1/incidents/" + inc.ID + "/postmortem", Doc: markdown(md)})
}

func (u *UI) reviewPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	period := r.URL.Query().Get("period")
	now := u.incidents.Now()
	var md string
	var err error
	switch period {
	case "", "day":
		period = "day"
		md, err = u.incidents.Digest(ctx, now)
	case "week":
		md, err = u.incidents.WeeklyReview(ctx, now)
	default:
		err = day2.Errorf(day2.EInvalid, "period=%q is unknown; use day (the daily digest) or week (the weekly review)", period)
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	heading := map[string]string{"day": "Daily digest", "week": "Weekly reliability review"}[period]
	u.render(w, http.StatusOK, "markdown-page", markdownPage{chrome: u.chrome(r, heading, "incidents"),
		Heading: heading, Back: "/incidents", BackTxt: "Incidents",
		Tabs:   []tab{{"Daily digest", "/review?period=day", period == "day"}, {"Weekly review", "/review?period=week", period == "week"}},
		RawURL: "/api/v1/review?period=" + period, Doc: markdown(md)})
}

// markdown converts the Markdown the incident service writes (runbooks,
// postmortems, digests) to HTML: ATX headings (one level down, under the
// page's h1), paragraphs, bullet and numbered lists nested by indentation
// (with task boxes), pipe tables, rules, fenced code, and inline code, bold,
// italics and links. It is not a full CommonMark: anything else stays text.
// All text is escaped, raw HTML included, and only http, https and same-site
// links become links, so text from alerts, notes and requests is never markup.
func markdown(src string) template.HTML {
	lines := strings.Split(strings.ReplaceAll(strings.ReplaceAll(src, "\r\n", "\n"), "\t", "    "), "\n")
	var b strings.Builder
	var para []string
	type list struct {
		indent  int
		ordered bool
	}
	var lists []list
	flush := func() {
		if len(para) > 0 {
			b.WriteString("<p>" + mdInline(strings.Join(para, " "), false) + "</p>\n")
			para = nil
		}
	}
	closeList := func() {
		l := lists[len(lists)-1]
		lists = lists[:len(lists)-1]
		if l.ordered {
			b.WriteString("</li></ol>\n")
		} else {
			b.WriteString("</li></ul>\n")
		}
	}
	closeLists := func() {
		for len(lists) > 0 {
			closeList()
		}
	}
	for i := 0; i < len(lines); i++ {
		line := strings.TrimRight(lines[i], " ")
		text := strings.TrimLeft(line, " ")
		indent := len(line) - len(text)
		if text == "" {
			flush()
			continue
		}
		if strings.HasPrefix(text, "```") {
			flush()
			closeLists()
			var code []string
			for i++; i < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[i]), "```"); i++ {
				code = append(code, lines[i])
			}
			b.WriteString("<pre><code>" + html.EscapeString(strings.Join(code, "\n")) + "</code></pre>\n")
			continue
		}
		if level, title, ok := mdHeading(text); ok && indent < 4 {
			flush()
			closeLists()
			h := "h" + strconv.Itoa(min(level+1, 6))
			b.WriteString("<" + h + ">" + mdInline(title, false) + "</" + h + ">\n")
			continue
		}
		if mdRule(text) {
			flush()
			closeLists()
			b.WriteString("<hr>\n")
			continue
		}
		if strings.HasPrefix(text, "|") && i+1 < len(lines) && mdTableSeparator(strings.TrimSpace(lines[i+1])) {
			flush()
			closeLists()
			b.WriteString("<table><thead><tr>")
			for _, c := range mdCells(text) {
				b.WriteString("<th scope=\"col\">" + mdInline(c, false) + "</th>")
			}
			b.WriteString("</tr></thead><tbody>\n")
			for i += 2; i < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i]), "|"); i++ {
				b.WriteString("<tr>")
				for _, c := range mdCells(strings.TrimSpace(lines[i])) {
					b.WriteString("<td>" + mdInline(c, false) + "</td>")
				}
				b.WriteString("</tr>\n")
			}
			i--
			b.WriteString("</tbody></table>\n")
			continue
		}
		if ordered, start, item, ok := mdItem(text); ok {
			flush()
			for len(lists) > 0 && lists[len(lists)-1].indent > indent {
				closeList()
			}
			if n := len(lists); n > 0 && indent < lists[n-1].indent+2 && lists[n-1].ordered == ordered {
				b.WriteString("</li>\n<li>")
			} else {
				if n > 0 && indent < lists[n-1].indent+2 {
					closeList() // same level, other kind of list
				}
				switch {
				case !ordered:
					b.WriteString("<ul>\n<li>")
				case start != 1:
					b.WriteString("<ol start=\"" + strconv.Itoa(start) + "\">\n<li>")
				default:
					b.WriteString("<ol>\n<li>")
				}
				lists = append(lists, list{indent: indent, ordered: ordered})
			}
			switch {
			case strings.HasPrefix(item, "[ ] "):
				item = "☐ " + item[4:]
			case strings.HasPrefix(item, "[x] "), strings.HasPrefix(item, "[X] "):
				item = "☑ " + item[4:]
			}
			b.WriteString(mdInline(item, false))
			continue
		}
		if len(lists) > 0 && indent > 0 && len(para) == 0 {
			b.WriteString("<br>" + mdInline(text, false)) // continues the open item
			continue
		}
		closeLists()
		para = append(para, text)
	}
	flush()
	closeLists()
	return template.HTML(b.String())
}

// mdHeading parses "## Title".
func mdHeading(s string) (level int, title string, ok bool) {
	for level < len(s) && s[level] == '#' {
		level++
	}
	if level == 0 || level > 6 || (level < len(s) && s[level] != ' ') {
		return 0, "", false
	}
	return level, strings.TrimRight(strings.TrimSpace(s[level:]), "# "), true
}

// mdRule reports whether s is a thematic break: ---, *** or ___.
func mdRule(s string) bool {
	s = strings.ReplaceAll(s, " ", "")
	if len(s) < 3 {
		return false
	}
	return strings.Count(s, s[:1]) == len(s) && strings.ContainsAny(s[:1], "-*_")
}

// mdItem parses a list item: "- text", "* text", "+ text", "3. text", "3) text".
func mdItem(s string) (ordered bool, start int, item string, ok bool) {
	if s != "" && strings.ContainsRune("-*+", rune(s[0])) && (len(s) == 1 || s[1] == ' ') {
		return false, 0, strings.TrimSpace(s[1:]), true
	}
	n := 0
	for n < len(s) && n < 9 && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	if n == 0 || n+1 >= len(s) || (s[n] != '.' && s[n] != ')') || s[n+1] != ' ' {
		return false, 0, "", false
	}
	start, _ = strconv.Atoi(s[:n])
	return true, start, strings.TrimSpace(s[n+2:]), true
}

// mdTableSeparator reports whether s is a table's header separator, such as
// |---|:---:|.
func mdTableSeparator(s string) bool {
	if !strings.HasPrefix(s, "|") || !strings.Contains(s, "-") {
		return false
	}
	return strings.Trim(s, "|-: ") == ""
}

// mdCells splits a table row into its cells; "\|" is a | inside a cell.
func mdCells(row string) []string {
	row = strings.TrimSpace(row)
	row = strings.TrimPrefix(row, "|")
	if strings.HasSuffix(row, "|") && !strings.HasSuffix(row, "\\|") {
		row = row[:len(row)-1]
	}
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(row); i++ {
		switch {
		case row[i] == '\\' && i+1 < len(row) && row[i+1] == '|':
			cur.WriteByte('|')
			i++
		case row[i] == '|':
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(row[i])
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

// mdInline converts the inline Markdown of s to escaped HTML: `code`,
// **bold**, *italics* and _italics_, [links](url), bare http(s) addresses and
// backslash escapes. Inside link text (inLink) no further links are made.
func mdInline(s string, inLink bool) string {
	var b strings.Builder
	text := func(t string) { b.WriteString(html.EscapeString(t)) }
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && strings.IndexByte("\\`*_[]()#+-.!|<>", s[i+1]) >= 0:
			text(s[i+1 : i+2])
			i += 2
			continue
		case c == '`':
			n := 1
			for i+n < len(s) && s[i+n] == '`' {
				n++
			}
			fence := s[i : i+n]
			if j := strings.Index(s[i+n:], fence); j >= 0 {
				b.WriteString("<code>" + html.EscapeString(strings.TrimSpace(s[i+n:i+n+j])) + "</code>")
				i += n + j + n
				continue
			}
			text(fence)
			i += n
			continue
		case c == '*' && strings.HasPrefix(s[i:], "**"):
			if j := strings.Index(s[i+2:], "**"); j > 0 && s[i+2] != ' ' && s[i+1+j] != ' ' {
				b.WriteString("<strong>" + mdInline(s[i+2:i+2+j], inLink) + "</strong>")
				i += j + 4
				continue
			}
		case (c == '*' || c == '_') && mdCanOpen(s, i):
			if j := mdCloser(s, i); j > 0 {
				b.WriteString("<em>" + mdInline(s[i+1:j], inLink) + "</em>")
				i = j + 1
				continue
			}
		case c == '[' && !inLink:
			if end, label, href, ok := mdLink(s, i); ok {
				b.WriteString(`<a href="` + html.EscapeString(href) + `"` + linkRel(href) + ">" + mdInline(label, true) + "</a>")
				i = end
				continue
			}
		case (c == 'h' || c == 'H') && !inLink && (i == 0 || !isWordByte(s[i-1])):
			if n := mdAutolink(s[i:]); n > 0 {
				u := s[i : i+n]
				b.WriteString(`<a href="` + html.EscapeString(u) + `"` + linkRel(u) + ">" + html.EscapeString(u) + "</a>")
				i += n
				continue
			}
		}
		text(s[i : i+1])
		i++
	}
	return b.String()
}

// mdCanOpen reports whether the * or _ at i may open an emphasis: a
// non-space follows it, and for _ no letter or digit precedes it (so
// snake_case names stay as they are).
func mdCanOpen(s string, i int) bool {
	if i+1 >= len(s) || s[i+1] == ' ' || s[i+1] == s[i] {
		return false
	}
	return s[i] == '*' || i == 0 || !isWordByte(s[i-1])
}

// mdCloser returns the index of the delimiter closing the emphasis opened at
// i, or -1.
func mdCloser(s string, i int) int {
	d := s[i]
	for j := i + 2; j < len(s); j++ {
		if s[j] != d || s[j-1] == ' ' || s[j-1] == '\\' {
			continue
		}
		if d == '_' && j+1 < len(s) && isWordByte(s[j+1]) {
			continue
		}
		if d == '*' && j+1 < len(s) && s[j+1] == '*' {
			j++
			continue
		}
		return j
	}
	return -1
}

// mdLink parses [label](href) at i and reports whether it is a link with a
// safe address; end is the index after it.
func mdLink(s string, i int) (end int, label, href string, ok bool) {
	j := strings.Index(s[i:], "](")
	if j < 0 {
		return 0, "", "", false
	}
	label = s[i+1 : i+j]
	if strings.ContainsAny(label, "[]") {
		return 0, "", "", false
	}
	rest := s[i+j+2:]
	k := strings.IndexByte(rest, ')')
	if k < 0 {
		return 0, "", "", false
	}
	href = rest[:k]
	if !safeHref(href) || strings.ContainsAny(href, " \"'<>") {
		return 0, "", "", false
	}
	return i + j + 2 + k + 1, label, href, true
}

// mdAutolink returns the length of the http(s) address at the start of s, 0
// when there is none. Trailing punctuation is not part of it, nor is a closing
// parenthesis that opens nowhere in it.
func mdAutolink(s string) int {
	lower := strings.ToLower(s[:min(len(s), 8)])
	prefix := 0
	switch {
	case strings.HasPrefix(lower, "http://"):
		prefix = len("http://")
	case strings.HasPrefix(lower, "https://"):
		prefix = len("https://")
	default:
		return 0
	}
	n := strings.IndexAny(s, " \"'<>`|")
	if n < 0 {
		n = len(s)
	}
	for n > prefix {
		c := s[n-1]
		if strings.IndexByte(".,;:!?*_", c) < 0 && (c != ')' || strings.Count(s[:n], "(") >= strings.Count(s[:n], ")")) {
			break
		}
		n--
	}
	if n <= prefix {
		return 0
	}
	return n
}

// safeHref reports whether href may be a link: an http or https address, or a
// path on this server.
func safeHref(href string) bool {
	if strings.ContainsFunc(href, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
		return false
	}
	lower := strings.ToLower(href)
	switch {
	case strings.HasPrefix(lower, "https://") && len(href) > len("https://"),
		strings.HasPrefix(lower, "http://") && len(href) > len("http://"):
		return true
	case strings.HasPrefix(href, "/") && !strings.HasPrefix(href, "//"):
		return true
	}
	return false
}

// linkRel keeps links to other sites from learning where they came from.
func linkRel(href string) string {
	if strings.HasPrefix(href, "/") {
		return ""
	}
	return ` rel="noopener noreferrer"`
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}
