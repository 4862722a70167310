package web

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Charts are drawn on the server as SVG, so pages need no JavaScript. A chart
// is a list of values (NaN for a step without data, drawn as a gap) turned into
// path data in a fixed viewBox that CSS scales to the width of its box.

// spark is a small line chart without axes, for tiles.
type spark struct {
	W, H  int
	Path  string // SVG path data; empty when there is no data point
	Dot   point  // the last point with data, highlighted
	HasPt bool
	Label string // what the chart shows, for screen readers and the tooltip
}

type point struct{ X, Y float64 }

// sparkline draws values (NaN = no data) in a w by h box. floor, when true,
// pins the bottom of the scale at zero, which suits counts and rates.
func sparkline(values []float64, w, h int, floor bool, label string) spark {
	s := spark{W: w, H: h, Label: label}
	lo, hi, ok := extent(values)
	if !ok {
		return s
	}
	if floor && lo > 0 {
		lo = 0
	}
	if hi == lo {
		hi, lo = hi+1, lo-1
		if floor && lo < 0 {
			lo = 0
		}
	}
	pad := 2.0
	x := func(i int) float64 {
		if len(values) == 1 {
			return float64(w) / 2
		}
		return pad + float64(i)*(float64(w)-2*pad)/float64(len(values)-1)
	}
	y := func(v float64) float64 { return pad + (hi-v)*(float64(h)-2*pad)/(hi-lo) }
	var b strings.Builder
	pen := false
	for i, v := range values {
		if math.IsNaN(v) {
			pen = false
			continue
		}
		p := point{round1(x(i)), round1(y(v))}
		if pen {
			b.WriteString(" L")
		} else {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteByte('M')
		}
		b.WriteString(ftoa(p.X) + " " + ftoa(p.Y))
		pen = true
		s.Dot, s.HasPt = p, true
	}
	s.Path = b.String()
	return s
}

// lineChart is a chart with a y axis, reference lines and time labels, for the
// SLO page.
type lineChart struct {
	W, H           int
	Left, Right    int // plot area margins
	Top, Bottom    int
	Path           string
	Refs           []refLine
	YTicks         []tick
	XTicks         []tick
	Label          string
	HasData        bool
	PlotW, PlotH   int
	PlotX1, PlotY1 int // right and bottom edges of the plot area
}

type refLine struct {
	Y     float64
	Label string
	Class string
}

type tick struct {
	Pos    float64
	Label  string
	Anchor string // text-anchor of the label
}

// newLineChart draws values at times ts (same length; NaN = no data) between lo
// and hi on the y axis; refs are horizontal lines (an objective, zero) and
// yfmt formats the axis labels.
func newLineChart(ts []time.Time, values []float64, lo, hi float64, refs []refLine, yfmt func(float64) string, label string) lineChart {
	c := lineChart{W: 720, H: 190, Left: 64, Right: 12, Top: 10, Bottom: 26, Label: label}
	c.PlotW, c.PlotH = c.W-c.Left-c.Right, c.H-c.Top-c.Bottom
	c.PlotX1, c.PlotY1 = c.Left+c.PlotW, c.Top+c.PlotH
	if hi <= lo {
		hi = lo + 1
	}
	y := func(v float64) float64 {
		v = math.Max(lo, math.Min(hi, v))
		return round1(float64(c.Top) + (hi-v)*float64(c.PlotH)/(hi-lo))
	}
	var t0, t1 time.Time
	if len(ts) > 0 {
		t0, t1 = ts[0], ts[len(ts)-1]
	}
	span := t1.Sub(t0).Seconds()
	x := func(t time.Time) float64 {
		if span <= 0 {
			return float64(c.Left + c.PlotW/2)
		}
		return round1(float64(c.Left) + t.Sub(t0).Seconds()*float64(c.PlotW)/span)
	}
	var b strings.Builder
	pen := false
	for i, v := range values {
		if math.IsNaN(v) {
			pen = false
			continue
		}
		if pen {
			b.WriteString(" L")
		} else {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteByte('M')
		}
		b.WriteString(ftoa(x(ts[i])) + " " + ftoa(y(v)))
		pen = true
		c.HasData = true
	}
	c.Path = b.String()
	for _, r := range refs {
		if r.Y < lo || r.Y > hi {
			continue
		}
		c.Refs = append(c.Refs, refLine{Y: y(r.Y), Label: r.Label, Class: r.Class})
	}
	step := niceStep(hi - lo)
	for v := math.Ceil(lo/step-1e-9) * step; v <= hi+1e-9; v += step {
		c.YTicks = append(c.YTicks, tick{Pos: y(v), Label: yfmt(v)})
	}
	if span > 0 {
		layout := "Jan 2"
		if t1.Sub(t0) <= 48*time.Hour {
			layout = "Jan 2 15:04"
		}
		for i := 0; i <= 4; i++ {
			t := t0.Add(time.Duration(float64(t1.Sub(t0)) * float64(i) / 4))
			anchor := "middle"
			switch i {
			case 0:
				anchor = "start"
			case 4:
				anchor = "end"
			}
			c.XTicks = append(c.XTicks, tick{Pos: x(t), Label: t.UTC().Format(layout), Anchor: anchor})
		}
	}
	return c
}

// niceStep returns a round step (1, 2 or 5 times a power of ten) that cuts
// span into at most five parts.
func niceStep(span float64) float64 {
	if span <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(span/5)))
	for _, m := range []float64{1, 2, 5, 10} {
		if span/(m*p) <= 5 {
			return m * p
		}
	}
	return 10 * p
}

// niceFloor rounds lo down to a multiple of the nice step for [lo, hi].
func niceFloor(lo, hi float64) float64 {
	s := niceStep(hi - lo)
	return math.Floor(lo/s+1e-9) * s
}

// extent returns the smallest and largest values that are not NaN.
func extent(values []float64) (lo, hi float64, ok bool) {
	for _, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		if !ok {
			lo, hi, ok = v, v, true
			continue
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	return lo, hi, ok
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
