package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/isodiff/isodiff/isodiff"
	"github.com/isodiff/isodiff/report"
)

// progressLine draws isodiff.Progress reports as one line on a terminal:
// the stage and step, a bar with throughput and time left while both
// images are read, "N/M" while files are explained or handed to
// diffoscope, a spinner with a count where the total is not known. It
// never uses colour (NO_COLOR is honoured by having none).
type progressLine struct {
	w   io.Writer
	mu  sync.Mutex
	key string
	bar *progressbar.ProgressBar
}

func newProgressLine(w io.Writer) *progressLine { return &progressLine{w: w} }

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (p *progressLine) report(r isodiff.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := r.Stage + "\x00" + r.Step
	if key != p.key || p.bar == nil {
		p.clearLocked()
		p.key = key
		desc := "[" + r.Stage + "]"
		if r.Step != "" {
			desc += " " + termSafe(r.Step) // may name a container path from the image
		}
		opts := []progressbar.Option{
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionThrottle(100 * time.Millisecond),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionEnableColorCodes(false),
			progressbar.OptionSetWidth(24),
			progressbar.OptionUseIECUnits(true),
			progressbar.OptionSetRenderBlankState(true),
		}
		total := r.Total
		switch {
		case r.Bytes:
			opts = append(opts, progressbar.OptionShowBytes(true), progressbar.OptionShowTotalBytes(true),
				progressbar.OptionSetPredictTime(true))
		case total > 0:
			opts = append(opts, progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(false))
		default:
			total = -1 // a spinner, turned by each report (no timer of its own to outlive it)
			opts = append(opts, progressbar.OptionShowCount(), progressbar.OptionSpinnerType(14),
				progressbar.OptionSetSpinnerChangeInterval(0))
		}
		p.bar = progressbar.NewOptions64(total, opts...)
	}
	if r.Item != "" {
		p.bar.Describe(fmt.Sprintf("[%s] %s %s", r.Stage, termSafe(r.Step), termSafe(shorten(r.Item, 48))))
	}
	p.bar.Set64(r.Done)
}

// clear removes the line, before the summary is printed.
func (p *progressLine) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
}

func (p *progressLine) clearLocked() {
	if p.bar != nil {
		p.bar.Exit() // stops its rendering
		p.bar.Clear()
		p.bar = nil
	}
}

// termSafe escapes image-derived text for the terminal as the summary
// does: controls, bidi and invisible characters escaped, on one line.
func termSafe(s string) string {
	return strings.TrimSuffix(report.SafeText(report.OneLine(s)), "\n")
}

// shorten keeps the end of a long path, which names the file.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return "..." + string(r[len(r)-n+3:])
}
