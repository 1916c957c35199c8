package isodiff

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/isodiff/isodiff/iso9660"
	"github.com/isodiff/isodiff/parttable"
	"github.com/isodiff/isodiff/report"
	"github.com/isodiff/isodiff/squashfs"
)

// TestErrOffset: a problem takes its offset from the format error of every
// reader, wrapped or not; squashfs offsets are relative to the squashfs.
func TestErrOffset(t *testing.T) {
	for _, c := range []struct {
		err  error
		base int64
		want int64
	}{
		{&iso9660.FormatError{Off: 40960, What: "directory", Err: iso9660.ErrLoop}, 0, 40960},
		{&squashfs.FormatError{Off: 96, What: "inode", Err: squashfs.ErrCorrupt}, 1 << 20, 1<<20 + 96},
		{&parttable.FormatError{Off: 592, What: "GPT header", Err: parttable.ErrTruncated}, -1, 592},
		{fmt.Errorf("MBR: %w", &parttable.FormatError{Off: 510, What: "MBR", Err: parttable.ErrNoMBR}), 0, 510},
		{fmt.Errorf("no offset"), 0, -1},
	} {
		if got := errOffset(c.err, func(off int64) int64 { return c.base + off }); got != c.want {
			t.Errorf("errOffset(%v, %d) = %d, want %d", c.err, c.base, got, c.want)
		}
	}
}

// slowReader delays every read after the first fast ones, as a huge or
// hostile image would keep a stage busy.
type slowReader struct {
	r     io.ReaderAt
	reads *atomic.Int64
	fast  int64
	delay time.Duration
}

func (s slowReader) ReadAt(p []byte, off int64) (int, error) {
	if s.reads.Add(1) > s.fast {
		time.Sleep(s.delay)
	}
	return s.r.ReadAt(p, off)
}

// TestTimeLimit: when the time limit passes, the running stage stops with
// a problem naming the limit, later stages are not run (each says so), the
// findings so far are kept, and the exit code is 2.
func TestTimeLimit(t *testing.T) {
	var in [2]Input
	var reads atomic.Int64
	for i, p := range []string{"../testdata/demo/a.iso", "../testdata/demo/b.iso"} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		in[i] = Input{Name: p, R: slowReader{bytes.NewReader(b), &reads, 1 << 62, 40 * time.Millisecond}, Size: int64(len(b))}
	}
	// Count the reads of the sizes stage; make every later read slow.
	var sizesReads int64
	logf := func(format string, args ...any) {
		if strings.HasPrefix(fmt.Sprintf(format, args...), "stage header: start") {
			sizesReads = reads.Load()
		}
	}
	if _, err := CompareInputs(context.Background(), in[0], in[1], Options{Logf: logf, NoDiffoscope: true}); err != nil || sizesReads == 0 {
		t.Fatalf("counting reads: %v, %d", err, sizesReads)
	}
	reads.Store(0)
	for i := range in {
		sr := in[i].R.(slowReader)
		sr.fast = sizesReads
		in[i].R = sr
	}
	rep, err := CompareInputs(context.Background(), in[0], in[1], Options{TimeLimit: time.Second})
	if err != nil {
		t.Fatalf("a time limit is not an error: %v", err)
	}
	if rep.ExitCode() != 2 {
		t.Errorf("exit code %d, want 2", rep.ExitCode())
	}
	if rep.A.SHA256 == "" {
		t.Error("the sizes stage's hashes were not kept")
	}
	stopped, notRun := 0, 0
	for _, st := range rep.Stages {
		for _, p := range st.Problems {
			switch {
			case strings.Contains(p.Message, "time limit (1s) passed during this stage"):
				stopped++
			case strings.Contains(p.Message, "not run: the time limit"):
				notRun++
			case strings.Contains(p.Message, "deadline"):
				t.Errorf("a read cut off by the limit is reported: %s", p.Message)
			}
		}
	}
	if stopped != 1 || notRun == 0 || rep.Stage(report.StageExplain).Status != report.StatusFailed {
		t.Errorf("%d stage(s) stopped, %d not run; stages %+v", stopped, notRun, rep.Stages)
	}
	// A cancelled context (SIGINT, SIGTERM) returns its error and the
	// report so far, every stage saying it did not run, with the cause.
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("terminated"))
	rep, err = CompareInputs(ctx, in[0], in[1], Options{TimeLimit: time.Hour})
	if !errors.Is(err, context.Canceled) || rep == nil {
		t.Fatalf("cancelled: report %v, error %v", rep, err)
	}
	for _, st := range rep.Stages {
		if len(st.Problems) != 1 || !strings.Contains(st.Problems[0].Message, "not run: interrupted (terminated)") {
			t.Errorf("stage %s after cancel: %+v", st.Name, st.Problems)
		}
	}
	if rep.ExitCode() != 2 {
		t.Errorf("exit code %d after cancel", rep.ExitCode())
	}
}
