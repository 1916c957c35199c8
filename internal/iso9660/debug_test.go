package iso9660

import (
	"fmt"
	"os"
	"testing"

	"github.com/isodiff/isodiff/internal/tree"
)

func TestDebugDump(t *testing.T) {
	p := os.Getenv("DUMP_ISO")
	if p == "" {
		t.Skip()
	}
	im, _ := openImage(t, p)
	fmt.Println(im.Namespace, im.RockRidge, im.SUSPSkip)
	for _, e := range walkAll(t, im) {
		fmt.Printf("%s%s %d %d %d %d %s %q -> %q ino=%d ext=%v id=%q reloc=%v\n", e.TypeString(), tree.PermString(e.Mode), e.Nlink, e.UID, e.GID, e.Size, e.ModTime.Format("2006-01-02T15:04:05"), e.Path, e.Link, e.Inode, e.Extents, e.Identifier, e.Relocated)
	}
}
