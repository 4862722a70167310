package config

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/day2ops/day2/slo"
)

// rfc1123 matches an RFC 1123 label, the names OpenSLO requires.
var rfc1123 = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// checkName reports a name that is not an RFC 1123 label.
func (l *loader) checkName(line int, what, name string) bool {
	if len(name) <= 63 && rfc1123.MatchString(name) {
		return true
	}
	hint := ""
	if s := slug(name); s != "" && rfc1123.MatchString(s) {
		hint = fmt.Sprintf(" (try %q)", s)
	}
	l.addf(line, "%s %s is not a valid name: use at most 63 lowercase letters, digits and -, starting and ending with a letter or digit, such as checkout-availability%s", what, quote(name), hint)
	return false
}

// Units of OpenSLO duration shorthand. A month is 30 days, a quarter 90 days and
// a year 365 days: the nominal lengths day2 uses for rolling windows and for the
// burn-rate thresholds of calendar windows.
var shorthandUnits = map[byte]time.Duration{
	'm': time.Minute,
	'h': time.Hour,
	'd': 24 * time.Hour,
	'w': 7 * 24 * time.Hour,
	'M': 30 * 24 * time.Hour,
	'Q': 90 * 24 * time.Hour,
	'Y': 365 * 24 * time.Hour,
}

// shorthand is a parsed OpenSLO duration: Count of Unit, lasting D.
type shorthand struct {
	count int64
	unit  byte
	d     time.Duration
	text  string
}

// parseShorthand parses OpenSLO's duration shorthand: a whole number and one
// case-sensitive unit (m, h, d, w, M, Q, Y), such as 5m, 28d, 1M. It returns a
// message for the user when s is not one. zero allows a count of 0.
func parseShorthand(s string, zero bool) (shorthand, string) {
	const units = "m (minutes), h, d, w, M (months), Q or Y"
	if s == "" {
		return shorthand{}, "is empty; write a whole number and a unit, such as 28d"
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	num, unit := s[:i], s[i:]
	switch {
	case strings.ContainsAny(s, " \t"):
		return shorthand{}, "must be one word, a whole number and a unit, such as 28d"
	case i == 0:
		return shorthand{}, "must start with a whole number, such as 28d"
	case unit == "":
		return shorthand{}, fmt.Sprintf("has no unit; write e.g. %sd or %sm, with one of the units %s", num, num, units)
	case unit[0] == '.':
		return shorthand{}, "must be a whole number and a unit, such as 90m instead of 1.5h"
	case len(unit) > 1:
		if _, err := time.ParseDuration(s); err == nil || strings.IndexAny(unit[1:], "0123456789") >= 0 {
			return shorthand{}, "must be one whole number and one unit (OpenSLO duration shorthand), such as 90m instead of 1h30m"
		}
		return shorthand{}, fmt.Sprintf("has the unknown unit %q; use one of %s", unit, units)
	}
	u := unit[0]
	per, ok := shorthandUnits[u]
	if !ok {
		switch u {
		case 's':
			return shorthand{}, "uses seconds, which OpenSLO durations do not have; use " + units
		case 'D', 'H', 'W':
			return shorthand{}, fmt.Sprintf("uses %q; units are case-sensitive: write %s%c (M is months, m is minutes)", unit, num, u+'a'-'A')
		}
		return shorthand{}, fmt.Sprintf("has the unknown unit %q; use one of %s", unit, units)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > int64(math.MaxInt64/per) || n > 1e6 {
		return shorthand{}, "is too long"
	}
	if n == 0 && !zero {
		return shorthand{}, "must be longer than zero"
	}
	return shorthand{count: n, unit: u, d: time.Duration(n) * per, text: s}, ""
}

// duration reads an OpenSLO duration field.
func (l *loader) duration(f field, example string, zero bool) (shorthand, bool) {
	s, ok := l.text(f, example)
	if !ok {
		return shorthand{}, false
	}
	d, msg := parseShorthand(s, zero)
	if msg != "" {
		l.addf(f.line(), "%s %s %s", f.name(), quote(s), msg)
		return shorthand{}, false
	}
	return d, true
}

const timeWindowExample = "timeWindow: [{duration: 28d, isRolling: true}]"
const calendarExample = `calendar: {startTime: "2026-01-01 00:00:00", timeZone: Europe/Berlin}`

// timeWindow reads one timeWindow item: rolling {duration, isRolling: true} or
// calendar {duration, calendar: {startTime, timeZone}, isRolling: false}.
func (l *loader) timeWindow(n field) (slo.TimeWindow, bool) {
	before := l.count()
	m, ok := l.mapping(n.val, n.line(), "a timeWindow item", "{duration: 28d, isRolling: true}", "duration", "isRolling", "calendar")
	if !ok {
		return slo.TimeWindow{}, false
	}
	var w slo.TimeWindow
	var d shorthand
	if f := m["duration"]; f.ok() {
		d, _ = l.duration(f, "28d", false)
	} else {
		l.need(f, n.line(), "the time window needs duration:, such as duration: 28d")
	}
	rolling, rollingSet := false, false
	if f := m["isRolling"]; f.ok() {
		rolling, rollingSet = l.boolean(f)
	}
	cal := m["calendar"]
	switch {
	case cal.ok() && rolling:
		l.addf(cal.line(), "a window cannot be both rolling and calendar-aligned: remove calendar:, or set isRolling: false")
	case !cal.ok() && !rollingSet && m["isRolling"].ok():
		// isRolling is wrong; already reported.
	case cal.key == nil && (m["isRolling"].key == nil || rollingSet && !rolling):
		at := n.line()
		if f := m["isRolling"]; f.ok() {
			at = f.line()
		}
		l.addf(at, "the time window needs isRolling: true for a rolling window, or a calendar for a calendar-aligned one, such as %s", calendarExample)
	}
	if cal.ok() && !rolling {
		l.calendar(cal, &w)
		if d.d > 0 && !strings.ContainsRune("dwMQY", rune(d.unit)) {
			l.addf(m["duration"].line(), "a calendar window is counted in days, weeks, months, quarters or years (d, w, M, Q, Y), not %q; for a window of hours use a rolling one", d.text)
		}
		w.CalendarUnit, w.CalendarCount = string(d.unit), int(d.count)
	} else {
		w.Rolling = true
	}
	if l.count() != before || d.d == 0 {
		return slo.TimeWindow{}, false
	}
	w.Duration, w.Text = d.d, d.text
	return w, true
}

// calendar reads a calendar window's start and time zone into w.
func (l *loader) calendar(cal field, w *slo.TimeWindow) {
	c, ok := l.mapping(cal.val, cal.line(), "calendar", calendarExample, "startTime", "timeZone")
	if !ok {
		return
	}
	if f := c["timeZone"]; f.ok() {
		w.Location = l.location(f)
	} else {
		l.need(f, cal.line(), "calendar needs timeZone:, an IANA time zone such as Europe/Berlin or UTC")
	}
	if f := c["startTime"]; f.ok() {
		if w.Location != nil {
			w.CalendarStart, _ = l.startTime(f, w.Location)
		}
	} else {
		l.need(f, cal.line(), `calendar needs startTime:, the start of the first period, such as startTime: "2026-01-01 00:00:00"`)
	}
}

// location reads an IANA time zone name.
func (l *loader) location(f field) *time.Location {
	name, ok := l.text(f, "Europe/Berlin")
	if !ok {
		return nil
	}
	if name == "Local" || strings.HasPrefix(name, "/") || strings.Contains(name, "..") {
		l.addf(f.line(), "%s %s is not an IANA time zone; write e.g. Europe/Berlin, America/New_York or UTC", f.name(), quote(name))
		return nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		l.addf(f.line(), "%s %s is not a known IANA time zone; write e.g. Europe/Berlin, America/New_York or UTC", f.name(), quote(name))
		return nil
	}
	return loc
}

// startTime reads a calendar start: a date and time without zone, in loc.
func (l *loader) startTime(f field, loc *time.Location) (time.Time, bool) {
	s, ok := l.text(f, `"2026-01-01 00:00:00"`)
	if !ok {
		return time.Time{}, false
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, true
		}
	}
	if _, err := time.Parse(time.RFC3339, s); err == nil {
		l.addf(f.line(), "startTime %s has a time zone; write the local time as \"2026-01-01 00:00:00\" and the zone in timeZone", quote(s))
		return time.Time{}, false
	}
	l.addf(f.line(), "startTime %s is not a date and time; write it as \"2026-01-01 00:00:00\" (local time in timeZone)", quote(s))
	return time.Time{}, false
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

const businessHoursExample = `business_hours: {time_zone: Europe/Berlin, days: [mon, tue, wed, thu, fri], hours: "09:00-17:00"}`

// businessHours reads a day2 business_hours mapping.
func (l *loader) businessHours(f field) (*slo.BusinessHours, bool) {
	before := l.count()
	m, ok := l.mapping(f.val, f.line(), "business_hours", businessHoursExample, "time_zone", "days", "hours")
	if !ok {
		return nil, false
	}
	bh := &slo.BusinessHours{}
	for _, k := range []string{"time_zone", "days", "hours"} {
		if !m[k].ok() {
			l.need(m[k], f.line(), "business_hours needs %s; for example %s", k, businessHoursExample)
		}
	}
	if z := m["time_zone"]; z.ok() {
		bh.Location = l.location(z)
	}
	var days []string
	if d := m["days"]; d.ok() {
		items, ok := l.list(d, "days: [mon, tue, wed, thu, fri]")
		if ok && len(items) == 0 {
			l.addf(d.line(), "days is empty; list the working days, such as [mon, tue, wed, thu, fri]")
		}
		for _, item := range items {
			wd, known := parseDay(item)
			if !known {
				l.addf(item.Line, "days: %s is not a day; use mon, tue, wed, thu, fri, sat or sun", describe(item))
				continue
			}
			if slices.Contains(bh.Days, wd) {
				l.addf(item.Line, "days: %s is listed twice", item.Value)
				continue
			}
			bh.Days = append(bh.Days, wd)
			days = append(days, strings.ToLower(wd.String()[:3]))
		}
	}
	if h := m["hours"]; h.ok() {
		if s, ok := l.text(h, `"09:00-17:00"`); ok {
			var msg string
			bh.Start, bh.End, msg = parseHours(s)
			if msg != "" {
				l.addf(h.line(), "hours %s %s", quote(s), msg)
			}
		}
	}
	if l.count() != before {
		return nil, false
	}
	bh.Text = fmt.Sprintf("%s %s-%s %s", strings.Join(days, ","), clock(bh.Start), clock(bh.End), bh.Location)
	return bh, true
}

// parseDay reads a day of the week: mon or monday, in any case.
func parseDay(n *yaml.Node) (time.Weekday, bool) {
	if n.Kind != yaml.ScalarNode {
		return 0, false
	}
	s := strings.ToLower(n.Value)
	if len(s) < 3 {
		return 0, false
	}
	wd, ok := weekdays[s[:3]]
	if !ok || (s != s[:3] && s != strings.ToLower(wd.String())) {
		return 0, false
	}
	return wd, true
}

// parseHours parses "HH:MM-HH:MM" into offsets from midnight.
func parseHours(s string) (start, end time.Duration, msg string) {
	const form = `must be a start and an end time, such as "09:00-17:00"`
	a, b, ok := strings.Cut(strings.ReplaceAll(s, " ", ""), "-")
	if !ok {
		return 0, 0, form
	}
	start, okA := parseClock(a)
	end, okB := parseClock(b)
	switch {
	case !okA || !okB:
		return 0, 0, form + " (24-hour clock, end at most 24:00)"
	case start >= end:
		return 0, 0, "must end after it starts; hours that cross midnight are not supported, so use 00:00-24:00 and list the days"
	}
	return start, end, ""
}

func parseClock(s string) (time.Duration, bool) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 {
		return 0, false
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, false
	}
	return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, true
}

func clock(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d.Hours()), int(d.Minutes())%60)
}

// round12 removes the float noise of unit conversions, such as 99.9/100.
func round12(x float64) float64 { return math.Round(x*1e12) / 1e12 }

// percent formats a fraction as a percentage for messages and summaries.
func percent(x float64) string {
	return strconv.FormatFloat(math.Round(x*100*1e6)/1e6, 'f', -1, 64) + "%"
}
