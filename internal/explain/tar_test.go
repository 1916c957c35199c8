package explain

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// TestTarReaderMatchesArchiveTar: the streaming tar reader reads what
// archive/tar reads (names with ustar prefixes, GNU long names and link
// names, PAX paths, sizes, times with nanoseconds, base-256 ids, global
// headers, header-only types with a size), for archives archive/tar wrote.
func TestTarReaderMatchesArchiveTar(t *testing.T) {
	long := strings.Repeat("long/", 60) + "name"
	when := time.Date(2024, 3, 1, 12, 0, 0, 123456789, time.UTC)
	entries := []struct {
		h    tar.Header
		body string
	}{
		{tar.Header{Name: "plain", Mode: 0o644, Size: 5, ModTime: t0, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}, "hello"},
		{tar.Header{Name: strings.Repeat("p", 120) + "/file", Mode: 0o600, Size: 1, ModTime: t0, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}, "x"},
		{tar.Header{Name: long, Mode: 0o644, Size: 3, ModTime: t0, Typeflag: tar.TypeReg, Format: tar.FormatGNU, Uid: 1 << 30}, "gnu"},
		{tar.Header{Name: "link", Linkname: long, Mode: 0o777, ModTime: t0, Typeflag: tar.TypeSymlink, Format: tar.FormatGNU}, ""},
		{tar.Header{Name: long + "/pax", Mode: 0o644, Size: 4, ModTime: when, Typeflag: tar.TypeReg, Format: tar.FormatPAX,
			PAXRecords: map[string]string{"SCHILY.xattr.user.k": "v", "comment": strings.Repeat("c", 1000)}}, "body"},
		{tar.Header{Name: "dir/", Mode: 0o755, ModTime: t0, Typeflag: tar.TypeDir}, ""},
		{tar.Header{Name: "hard", Linkname: "plain", ModTime: t0, Typeflag: tar.TypeLink}, ""},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.h
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("%s: %v", e.h.Name, err)
		}
		io.WriteString(tw, e.body)
	}
	tw.Close()
	data := buf.Bytes()

	ex := &explainer{ctx: context.Background(), o: Options{}.withDefaults()}
	it, err := tarKind.open(ex, &node{size: int64(len(data)), open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	tr := tar.NewReader(bytes.NewReader(data))
	for i := 0; ; i++ {
		want, werr := tr.Next()
		m, body, err := it.Next()
		if werr == io.EOF || err == io.EOF {
			if werr != err {
				t.Fatalf("entry %d: archive/tar says %v, this reader %v", i, werr, err)
			}
			break
		}
		if werr != nil || err != nil {
			t.Fatalf("entry %d: archive/tar: %v, this reader: %v", i, werr, err)
		}
		if m.name != bounded(want.Name) || m.size != want.Size {
			t.Errorf("entry %d: name %q size %d, want %q %d", i, m.name[max(len(m.name)-80, 0):], m.size, bounded(want.Name)[max(len(bounded(want.Name))-80, 0):], want.Size)
		}
		check := func(field, want string) {
			if got, _ := m.field(field); got != want {
				t.Errorf("entry %d (%s): %s = %q, want %q", i, excerpt(m.name, 40), field, excerpt(got, 80), excerpt(want, 80))
			}
		}
		check("mtime", fmtTime(want.ModTime))
		check("uid", strings.TrimSpace(strings.Repeat(" ", 0)+itoa(want.Uid)))
		check("type", tarType(want.Typeflag))
		if want.Linkname != "" {
			check("linkname", bounded(want.Linkname))
		}
		for k, v := range want.PAXRecords {
			switch k {
			case "path", "linkpath", "mtime", "size", "uid", "gid", "uname", "gname", "atime", "ctime":
				continue
			}
			check("pax "+k, bounded(v))
		}
		var got, exp []byte
		if body != nil {
			got, _ = io.ReadAll(body)
		}
		if want.Typeflag == tar.TypeReg {
			exp, _ = io.ReadAll(tr)
		}
		if !bytes.Equal(got, exp) {
			t.Errorf("entry %d: body %q, want %q", i, got, exp)
		}
	}
}

func itoa(n int) string {
	var b []byte
	if n == 0 {
		return "0"
	}
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
