package squashfs

import (
	"bytes"
	"io/fs"
	"testing"
)

// TestFSEmptyDirectorySharesListingStart: mksquashfs writes directory
// listings leaves first, so an empty directory's (zero-length) listing
// starts where its parent's does. That is no cycle: the FS must open and
// list it, as Walk and unsquashfs do. (Found by the importer module's
// correctness table: fs.Stat failed with "listing shared with another
// directory".)
func TestFSEmptyDirectorySharesListingStart(t *testing.T) {
	img, m := patchImage(t, nil, "a/empty", "b/c/empty")
	for _, p := range []string{"/a/empty", "/b/c/empty"} {
		e, parent := m[p], m[p[:len(p)-len("/empty")]]
		if e == nil || parent == nil {
			t.Fatalf("%s or its parent not walked", p)
		}
		if e.dirBlock != parent.dirBlock || e.dirPos != parent.dirPos {
			t.Logf("%s: listing at %d:%d, parent's at %d:%d (mksquashfs laid it out otherwise)", p, e.dirBlock, e.dirPos, parent.dirBlock, parent.dirPos)
		}
	}
	r, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	var walked []string
	if err := fs.WalkDir(r.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		walked = append(walked, p)
		return err
	}); err != nil {
		t.Fatalf("WalkDir: %v (walked %q)", err, walked)
	}
	for _, p := range []string{"a/empty", "b/c/empty"} {
		info, err := fs.Stat(r.FS(), p)
		if err != nil || !info.IsDir() {
			t.Errorf("Stat %s: %v, %v", p, info, err)
		}
		if ents, err := fs.ReadDir(r.FS(), p); err != nil || len(ents) != 0 {
			t.Errorf("ReadDir %s: %v, %v", p, ents, err)
		}
	}
}
