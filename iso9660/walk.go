package iso9660

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/isodiff/isodiff/budget"
	"github.com/isodiff/isodiff/internal/seq"
	"github.com/isodiff/isodiff/tree"
)

// MaxDepth is the deepest directory nesting Walk accepts below the root.
const MaxDepth = 255

// dirChunk is how many bytes of a directory Walk reads at a time.
const dirChunk = 16 * SectorSize

// Extent is one contiguous run of a file's data: Size bytes from byte
// Offset of the image.
type Extent struct {
	Offset int64
	Size   int64
}

// Entry is one node of the tree Walk yields.
type Entry struct {
	tree.Node
	// Node.Inode is the Rock Ridge PX serial number when recorded (RRIP
	// 1.12, as libisofs writes); else the first block of the data for
	// directories and non-empty regular files (hard links share it); else
	// 1<<63 | the byte offset of the directory record.
	//
	// Extents hold the data: one for most files and for directories (their
	// records), several for a multi-extent file, none for an empty one.
	Extents []Extent
	// RecordTime is the directory record's own recording time, UTC (zero
	// when unset); Node.ModTime is the Rock Ridge TF modification time when
	// there is one, else this.
	RecordTime time.Time
	// Flags are the file flags of the (first) directory record; FlagHidden
	// marks a hidden file. Associated files are never yielded.
	Flags byte
	// Identifier is the ISO 9660 file identifier as recorded (UCS-2 decoded
	// in a Joliet walk), with its version suffix.
	Identifier string
	// Relocated is set on a directory reached through a Rock Ridge CL child
	// link: it is recorded elsewhere (often below rr_moved) and shown here.
	Relocated bool
	// Damage, when not nil, describes what is wrong with this node (a
	// *FormatError): malformed Rock Ridge data, of which what came before the
	// fault was used and the rest ignored, as Linux and libisofs do
	// (genisoimage, for one, writes SL entries longer than 255 bytes whose
	// length byte wraps around); a continuation area that loops or that
	// another record's chain already used; or file data recorded past the
	// end of the image, as in a truncated image, which Open then refuses to
	// read. Its offset is that of the bytes at fault (the entry, the area,
	// the data), and it does not name the path: the walk goes on, and the
	// caller must report it as a problem of the image at e.Path.
	Damage error
	// Zisofs is set when a Rock Ridge ZF (or Z2) entry marks a regular
	// file's data as zisofs compressed (as xorriso's --zisofs filter
	// writes it) with parameters this package reads: Node.Size is then the
	// uncompressed size the entry gives, Node.Filter names the filter
	// ("zisofs:pz:32k", "zisofs:PZ:1024k" for zisofs2, as xorriso's
	// -show_stream does), and Open returns the decompressed bytes.
	// Extents and StoredSize keep the recorded (compressed) form. A ZF
	// entry this package does not read (another algorithm, a block size
	// out of range) is Damage, and the file is read as recorded, as Linux
	// does.
	Zisofs bool
	// StoredSize is the number of bytes recorded for a regular file (the
	// sum of its extents): Node.Size, except for a zisofs file.
	StoredSize int64

	name   string   // final path element, the sort key
	lba    uint32   // first logical block of the data (directories: of the records)
	charge int64    // bytes charged to the budget while a walk holds it
	zf     zfParams // of a zisofs file
}

// Walker yields an image's nodes in tree.Compare order: depth first, pre
// order, each directory's children sorted bytewise by name. It holds only the
// open directories' child lists (and the set of directory blocks seen, to
// refuse loops, and of continuation areas decoded, to decode none twice),
// charged to the image's budget: a child's charge is given back when Next
// yields it (the caller holds it from then on), the rest when the walk ends
// (io.EOF or an error) or Close is called.
type Walker struct {
	im      *Image
	ctx     context.Context
	b       *budget.Budget
	stack   []*frame
	started bool
	err     error
	visited map[uint32]struct{}
	buf     []byte
	susp    *suspReader
	held    int64 // visited set and buffer
	records int   // records decoded, for the context checks
}

type frame struct {
	path     string // of the directory
	children []*Entry
	i        int
	held     int64 // charges of the children not yet yielded
}

// Walk returns a Walker over the image's tree in the namespace
// im.Namespace, stopping when the image's Options.Context is done.
func (im *Image) Walk() *Walker {
	return im.WalkContext(im.ctx)
}

// WalkContext is Walk stopping when ctx is done: Next then returns ctx's
// error within a few milliseconds of work.
func (im *Image) WalkContext(ctx context.Context) *Walker {
	if ctx == nil {
		ctx = context.Background()
	}
	return &Walker{im: im, ctx: ctx, b: im.budget, visited: make(map[uint32]struct{}), susp: newSUSPReader(im, ctx)}
}

// All yields the image's nodes as a Walker's Next does, with the image's
// context: for e, err := range im.All(). It stops after the first error,
// which it yields (with a nil *Entry); the walk is closed, and its
// charges given back, when the loop ends, early or not.
func (im *Image) All() iter.Seq2[*Entry, error] {
	return seq.All(func() (func() (*Entry, error), func()) {
		w := im.Walk()
		return w.Next, func() { w.Close() }
	})
}

// Next returns the next node, or io.EOF after the last. After any other
// error the walk stops and Next keeps returning that error. A cancelled
// context is returned as its error (context.Canceled or
// context.DeadlineExceeded), not as a FormatError.
func (w *Walker) Next() (*Entry, error) {
	if w.err != nil {
		return nil, w.err
	}
	e, err := w.next()
	if err != nil {
		w.err = err
		w.release()
	}
	return e, err
}

// Close ends the walk and gives back what it holds charged. Next then
// returns an error. Close may be called more than once, and after io.EOF.
func (w *Walker) Close() error {
	if w.err == nil {
		w.err = errWalkClosed
	}
	w.release()
	return nil
}

var errWalkClosed = errors.New("iso9660: walk closed")

// release gives back every charge of the walk.
func (w *Walker) release() {
	for _, f := range w.stack {
		w.b.Release(f.held)
	}
	w.stack = nil
	w.b.Release(w.held)
	w.held = 0
	w.visited = nil
	w.buf = nil
	w.susp.release()
}

// tick counts one decoded record and checks the context every 64.
func (w *Walker) tick() error {
	w.records++
	if w.records%64 == 0 {
		return w.ctx.Err()
	}
	return nil
}

func (w *Walker) next() (*Entry, error) {
	if err := w.ctx.Err(); err != nil {
		return nil, err
	}
	if !w.started {
		w.started = true
		root, err := w.root()
		if err != nil {
			return nil, err
		}
		if err := w.push(root); err != nil {
			return nil, err
		}
		return root, nil
	}
	for len(w.stack) > 0 {
		top := w.stack[len(w.stack)-1]
		if top.i >= len(top.children) {
			w.b.Release(top.held)
			w.stack[len(w.stack)-1] = nil
			w.stack = w.stack[:len(w.stack)-1]
			continue
		}
		e := top.children[top.i]
		top.children[top.i] = nil
		top.i++
		w.b.Release(e.charge)
		top.held -= e.charge
		e.charge = 0
		e.Path = tree.Join(top.path, e.name)
		if e.Mode.IsDir() {
			if err := w.push(e); err != nil {
				return nil, err
			}
		}
		return e, nil
	}
	return nil, io.EOF
}

// push reads directory d's children and opens a frame for them.
func (w *Walker) push(d *Entry) error {
	if len(w.stack) >= MaxDepth+1 {
		return formatErr(d.Extents[0].Offset, "directory "+d.Path, ErrTooDeep)
	}
	if _, seen := w.visited[d.lba]; seen {
		return formatErrf(d.Extents[0].Offset, "directory "+d.Path, "%w: its records at block %d were already read", ErrLoop, d.lba)
	}
	if err := w.b.Charge(visitedCost, "set of directories read", d.Extents[0].Offset); err != nil {
		return budgetErr(d.Extents[0].Offset, "directory "+d.Path, err)
	}
	w.held += visitedCost
	w.visited[d.lba] = struct{}{}
	f := &frame{path: d.Path}
	// The frame is on the stack while it fills, so that its charges are
	// given back whatever happens.
	w.stack = append(w.stack, f)
	return w.readDir(d, f)
}

// rootRecord returns the root directory record of the walked tree.
func (w *Walker) rootRecord() DirRecord {
	if w.im.Namespace == NamespaceJoliet {
		return w.im.Joliet.Root
	}
	return w.im.Primary.Root
}

// root builds the root entry from the root directory's "." record, which
// carries the SUSP SP entry and the root's Rock Ridge metadata.
func (w *Walker) root() (*Entry, error) {
	rr := w.rootRecord()
	off := int64(rr.Extent) * SectorSize
	dot, err := w.im.readRecordAt(off, "root directory \".\" record")
	if err != nil {
		return nil, err
	}
	info := rrInfo{b: w.b, entryOff: off}
	defer info.release()
	if w.im.Namespace == NamespaceRockRidge {
		suOff := off + int64(dot.Len) - int64(len(dot.SystemUse))
		var err error
		if info.damage, err = w.susp.systemUse(dot.SystemUse, suOff, 0, info.add); err != nil {
			return nil, err
		}
		if err := info.finish(); err != nil && info.damage == nil {
			info.damage = err
		}
	}
	// The descriptor's copy gives the extent and size; "." the rest.
	dot.Extent, dot.DataLength, dot.ExtAttrLen = rr.Extent, rr.DataLength, rr.ExtAttrLen
	dot.Flags |= FlagDir
	e, err := w.im.makeEntry("", "", dot, &info, off)
	if err != nil {
		return nil, err
	}
	e.Path = "/"
	return e, nil
}

// readDir reads the records of directory d into frame f: its children
// sorted by name, multi-extent files merged, "." and "..", associated
// files and Rock Ridge relocated (RE) directories left out. Each child is
// charged to the budget (f.held) until it is yielded.
func (w *Walker) readDir(d *Entry, f *frame) error {
	ext := d.Extents[0]
	var (
		multi   *Entry // a multi-extent file awaiting its further records
		multiID []byte
	)
	if w.buf == nil {
		if err := w.b.Charge(dirChunk, "directory read buffer", ext.Offset); err != nil {
			return budgetErr(ext.Offset, "directory "+d.Path, err)
		}
		w.held += dirChunk
		w.buf = make([]byte, dirChunk)
	}
	// addCharge charges the growth of e (or a new e) to the frame.
	addCharge := func(e *Entry, off int64) error {
		c := e.cost()
		if c <= e.charge {
			return nil
		}
		if err := w.b.Charge(c-e.charge, "directory entries held by the walk", off); err != nil {
			return budgetErr(off, "directory record in "+d.Path, err)
		}
		f.held += c - e.charge
		e.charge = c
		return nil
	}
	for done := int64(0); done < ext.Size; {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		n := min(int64(len(w.buf)), ext.Size-done)
		n = (n + SectorSize - 1) / SectorSize * SectorSize
		base := ext.Offset + done
		if n > w.im.size-base {
			n = w.im.size - base
		}
		buf := w.buf[:n]
		if _, err := w.im.r.ReadAt(buf, base); err != nil {
			return formatErr(base, "directory "+d.Path, err)
		}
		limit := min(n, ext.Size-done) // records beyond the directory size are not read
		for sec := int64(0); sec < limit; sec += SectorSize {
			end := min(sec+SectorSize, limit)
			for p := sec; p < end; {
				if buf[p] == 0 { // rest of the sector is padding
					break
				}
				if err := w.tick(); err != nil {
					return err
				}
				off := base + p
				if int64(buf[p]) > end-p {
					return formatErrf(off, "directory record in "+d.Path, "length %d crosses the sector end", buf[p])
				}
				rec, err := parseDirRecord(buf[p:end])
				if err != nil {
					return formatErr(off, "directory record in "+d.Path, err)
				}
				p += int64(rec.Len)
				if multi != nil {
					if !bytes.Equal(rec.Identifier, multiID) {
						return formatErrf(off, "directory record in "+d.Path, "multi-extent file %q has no final record", multi.Identifier)
					}
					if err := w.im.addExtent(multi, d.Path, rec, off); err != nil {
						return err
					}
					if err := addCharge(multi, off); err != nil {
						return err
					}
					if rec.Flags&FlagMultiExtent == 0 {
						multi = nil
					}
					continue
				}
				if rec.IsDot() || rec.IsDotDot() || rec.Flags&FlagAssociated != 0 {
					continue
				}
				e, err := w.child(d, rec, off)
				if err != nil {
					return err
				}
				if e == nil {
					continue
				}
				if err := addCharge(e, off); err != nil {
					return err
				}
				f.children = append(f.children, e)
				if rec.Flags&FlagMultiExtent != 0 {
					if rec.IsDir() {
						return formatErrf(off, "directory record in "+d.Path, "multi-extent directory")
					}
					multi, multiID = e, bytes.Clone(rec.Identifier)
				}
			}
		}
		done += n
	}
	if multi != nil {
		return formatErrf(ext.Offset, "directory "+d.Path, "multi-extent file %q has no final record", multi.Identifier)
	}
	children := f.children
	slices.SortStableFunc(children, func(a, b *Entry) int { return strings.Compare(a.name, b.name) })
	for i := 1; i < len(children); i++ {
		if children[i].name == children[i-1].name {
			return formatErrf(ext.Offset, "directory "+d.Path, "duplicate name %q", children[i].name)
		}
	}
	return nil
}

// cost is what an entry held in a child list is charged: the struct, its
// slot, and the strings and extents it holds.
func (e *Entry) cost() int64 {
	c := int64(entryCost + len(e.name) + len(e.Identifier) + len(e.Link) + len(e.Filter) + len(e.zf.alg) + cap(e.Extents)*extentCost)
	if e.Damage != nil {
		c += damageCost
	}
	return c
}

// child builds the entry of one record of directory d; nil means the record
// is not part of the tree (a Rock Ridge relocated directory's true place).
// Its Path is set when it is yielded.
func (w *Walker) child(d *Entry, rec DirRecord, off int64) (*Entry, error) {
	im := w.im
	info := rrInfo{b: w.b, entryOff: off}
	defer info.release()
	if im.Namespace == NamespaceRockRidge {
		suOff := off + int64(rec.Len) - int64(len(rec.SystemUse))
		var err error
		if info.damage, err = w.susp.systemUse(rec.SystemUse, suOff, im.SUSPSkip, info.add); err != nil {
			return nil, err
		}
		if err := info.finish(); err != nil && info.damage == nil {
			info.damage = err
		}
		if info.relocated {
			return nil, nil
		}
	}
	name, err := im.entryName(rec, &info)
	if err != nil {
		return nil, formatErr(off, "file name in "+d.Path, err)
	}
	if info.hasCL {
		return w.relocatedDir(d.Path, name, rec, info.childLBA, off)
	}
	return im.makeEntry(d.Path, name, rec, &info, off)
}

// relocatedDir follows a Rock Ridge CL child link: the directory's metadata
// are those of the "." record at the link's target; its name is the
// placeholder's.
func (w *Walker) relocatedDir(parent, name string, placeholder DirRecord, lba uint32, at int64) (*Entry, error) {
	im := w.im
	path := tree.Join(parent, name)
	if err := im.checkExtent(lba, SectorSize, at, "Rock Ridge CL target of "+path); err != nil {
		return nil, err
	}
	off := int64(lba) * SectorSize
	dot, err := im.readRecordAt(off, "relocated directory \".\" record")
	if err != nil {
		return nil, err
	}
	if !dot.IsDot() || !dot.IsDir() {
		return nil, formatErrf(off, "Rock Ridge CL target of "+path, "not a directory's \".\" record")
	}
	info := rrInfo{b: w.b, entryOff: off}
	defer info.release()
	suOff := off + int64(dot.Len) - int64(len(dot.SystemUse))
	if info.damage, err = w.susp.systemUse(dot.SystemUse, suOff, im.SUSPSkip, info.add); err != nil {
		return nil, err
	}
	if err := info.finish(); err != nil && info.damage == nil {
		info.damage = err
	}
	info.hasCL, info.relocated = false, false
	dot.Extent = lba
	e, err := im.makeEntry(parent, name, dot, &info, off)
	if err != nil {
		return nil, err
	}
	e.Identifier = string(placeholder.Identifier)
	e.Relocated = true
	return e, nil
}

// entryName returns a record's name in the walk's namespace.
func (im *Image) entryName(rec DirRecord, info *rrInfo) (string, error) {
	var name string
	switch {
	case info.hasNM:
		if info.nmFlags&(nmCurrent|nmParent) != 0 {
			return "", fmt.Errorf(`%w: Rock Ridge NM names "." or ".."`, ErrBadName)
		}
		name = string(info.name)
	case im.Namespace == NamespaceJoliet:
		name = stripVersion(decodeUCS2(rec.Identifier), rec.IsDir())
	default:
		name = stripVersion(string(rec.Identifier), rec.IsDir())
		if !rec.IsDir() {
			name = strings.TrimSuffix(name, ".")
		}
	}
	if err := checkName(name); err != nil {
		return "", err
	}
	return name, nil
}

// stripVersion removes a file identifier's ";<digits>" version suffix.
func stripVersion(id string, dir bool) string {
	if dir {
		return id
	}
	i := strings.LastIndexByte(id, ';')
	if i < 0 {
		return id
	}
	for _, c := range id[i+1:] {
		if c < '0' || c > '9' {
			return id
		}
	}
	return id[:i]
}

// checkName refuses names that cannot be a path element.
func checkName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty name", ErrBadName)
	case name == "." || name == "..":
		return fmt.Errorf("%w: %q", ErrBadName, name)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf(`%w: %q holds "/" or NUL`, ErrBadName, name)
	}
	return nil
}

// makeEntry turns a record and its Rock Ridge information into an Entry
// named name in directory parent ("" and "" for the root). The Entry's
// Path is left for the caller to set: a walk sets it when it yields the
// entry, so that the child lists it holds do not hold every child's full
// path. Damage noted on the entry names the bytes at fault, not the path
// (the caller knows it).
func (im *Image) makeEntry(parent, name string, rec DirRecord, info *rrInfo, off int64) (*Entry, error) {
	if rec.FileUnitSize != 0 || rec.InterleaveGap != 0 {
		return nil, formatErrf(off, "directory record of "+tree.Join(parent, name), "interleaved file (unit %d, gap %d) not supported", rec.FileUnitSize, rec.InterleaveGap)
	}
	e := &Entry{
		RecordTime: rec.Time,
		Flags:      rec.Flags,
		Identifier: string(rec.Identifier),
		name:       name,
		lba:        rec.Extent,
		Damage:     info.damage,
	}
	if im.Namespace == NamespaceJoliet && !rec.IsDot() {
		e.Identifier = decodeUCS2(rec.Identifier)
	}
	e.ModTime = rec.Time
	if info.hasTF && !info.modify.IsZero() {
		e.ModTime = info.modify
	}
	e.Nlink = 1
	switch {
	case info.hasPX:
		mode, ok := tree.ModeFromPOSIX(info.mode)
		if !ok {
			return nil, formatErrf(off, "Rock Ridge PX entry of "+tree.Join(parent, name), "unknown file type in mode %#o", info.mode)
		}
		if mode.IsDir() != rec.IsDir() {
			return nil, formatErrf(off, "Rock Ridge PX entry of "+tree.Join(parent, name), "mode %#o disagrees with the directory flag", info.mode)
		}
		e.Mode = mode
		e.Nlink, e.UID, e.GID = info.nlink, info.uid, info.gid
	case rec.IsDir():
		e.Mode = fs.ModeDir | 0o555
	case info.hasSL:
		e.Mode = fs.ModeSymlink | 0o777
	default:
		e.Mode = 0o555
	}
	if info.hasSL && e.Mode&fs.ModeSymlink != 0 {
		e.Link = string(info.link)
	}
	if info.hasPN && e.Mode&fs.ModeDevice != 0 {
		e.DevMajor, e.DevMinor = decodeDevice(info.devHigh, info.devLow)
	}
	if info.hasZF && e.Mode.IsRegular() {
		e.Zisofs, e.zf = true, info.zf
		e.Size, e.Filter = info.zf.size, info.zf.filter()
	}
	if err := im.addExtent(e, parent, rec, off); err != nil {
		return nil, err
	}
	switch {
	case info.hasSerial:
		e.Inode = uint64(info.serial)
	case e.Mode.IsDir() || e.Mode.IsRegular() && e.StoredSize > 0:
		e.Inode = uint64(rec.Extent)
	default:
		// Writers give empty files, links and devices a shared or
		// arbitrary block: use the record's own position instead.
		e.Inode = 1<<63 | uint64(off)
	}
	return e, nil
}

// addExtent appends the data extent of rec to e (another record of a
// multi-extent file, or the first) after checking it lies in the image.
// Only directories and regular files have data: the block number of an
// empty file, a symlink or a device is not checked (writers record
// arbitrary ones there), and no extent is kept for it.
func (im *Image) addExtent(e *Entry, parent string, rec DirRecord, off int64) error {
	if rec.Extent > ^uint32(0)-uint32(rec.ExtAttrLen) {
		return formatErrf(off, "directory record of "+tree.Join(parent, e.name), "extent %d overflows", rec.Extent)
	}
	lba := rec.Extent + uint32(rec.ExtAttrLen)
	n := int64(rec.DataLength)
	if rec.IsDir() && n == 0 {
		return formatErrf(off, "directory record of "+tree.Join(parent, e.name), "directory of size 0")
	}
	if !rec.IsDir() && !e.Mode.IsRegular() {
		return nil
	}
	if e.Mode.IsRegular() {
		e.StoredSize += n
		if !e.Zisofs {
			e.Size += n
		}
	}
	if n == 0 {
		return nil
	}
	if err := im.checkExtent(lba, n, off, "file data"); err != nil {
		if rec.IsDir() {
			return formatErrf(int64(lba)*SectorSize, "records of directory "+tree.Join(parent, e.name), "%w", err.(*FormatError).Err)
		}
		// The node itself is intact: yield it, with the damage noted and
		// its content unreadable (Open fails), so a truncated image can
		// still be listed to its end.
		if e.Damage == nil {
			e.Damage = err
		}
	}
	e.Extents = append(e.Extents, Extent{Offset: int64(lba) * SectorSize, Size: n})
	return nil
}

// decodeDevice splits a Rock Ridge PN device number. Writers differ: mkisofs
// records major and minor in the high and low words; libisofs (xorriso)
// records the host's dev_t split in two 32-bit halves, which for Linux has
// high == 0. So: with high != 0, major = high and minor = low; with high ==
// 0, low is decoded as a Linux (glibc) dev_t, which also reads the old
// 8:8-bit form correctly.
func decodeDevice(high, low uint32) (major, minor uint32) {
	if high != 0 {
		return high, low
	}
	return (low >> 8) & 0xfff, (low & 0xff) | ((low >> 12) & 0xfff00)
}
