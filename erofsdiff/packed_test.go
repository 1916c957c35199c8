package erofsdiff

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/isodiff/isodiff/erofs"
)

func openFixture(t *testing.T, name string) *erofs.Reader {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", "erofs", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	r, err := erofs.Open(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Files held whole in the packed inode (all-fragments) are proven equal
// from the stored bytes of the packed pclusters holding them: in the
// committed pair (64 files, 6 lzma pclusters of 4 KiB, one byte of the last
// file changed) only the files in the last pcluster are decoded, and the
// one that differs is found at its byte.
func TestFragmentsProvenByStoredBytes(t *testing.T) {
	a, b := openFixture(t, "packed-a.erofs"), openFixture(t, "packed-b.erofs")
	meta, content, err := Compare(context.Background(), a, b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(meta.Findings) != 0 {
		t.Errorf("metadata findings: %v", summary(meta.Findings))
	}
	if len(content.Findings) != 1 || content.Findings[0].Path != "/f63" || content.Findings[0].Content.FirstDiff != 1500 {
		t.Fatalf("content findings %v, want /f63 at byte 1500", summary(content.Findings))
	}
	// The last pcluster holds [170113, 192000): f56 (from 168000) to f63.
	if content.Compared != 64 || content.SameByRaw < 56 {
		t.Errorf("%d compared, %d proven from stored bytes: want 64 and at least 56 (files before the last pcluster)", content.Compared, content.SameByRaw)
	}
	t.Logf("%d of %d proven from stored bytes", content.SameByRaw, content.Compared)
}
