package isodiff

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/isodiff/isodiff/internal/testimg"
	"github.com/isodiff/isodiff/report"
)

// An ISO whose root filesystem is an EROFS image (Fedora's live media,
// /LiveOS/squashfs.img) is compared like a squashfs one: found by its
// magic, its superblock and tree merge-walked, contents compared by stored
// extents and explained; each injected difference found, nothing else.
func TestEROFSRootFilesystem(t *testing.T) {
	testimg.Need(t, "xorriso", "mkfs.erofs")
	for _, comp := range []string{"", "lz4", "lz4hc"} {
		t.Run("compression "+comp, func(t *testing.T) {
			dir := t.TempDir()
			var isos [2]string
			for i := range isos {
				root := filepath.Join(dir, "root"+string(rune('a'+i)))
				files := map[string]string{
					"etc/hostname":          "live\n",
					"etc/os-release":        "NAME=Fedora\n",
					"usr/bin/tool":          strings.Repeat("binary\x00", 4000),
					"usr/share/doc/big.txt": strings.Repeat("a line of text\n", 20000),
				}
				if i == 1 {
					files["etc/hostname"] = "live2\n"                                                                                                   // content and size
					files["usr/share/doc/big.txt"] = strings.Repeat("a line of text\n", 10000) + "CHANGED\n" + strings.Repeat("a line of text\n", 9999) // content, same size +1 line
					files["etc/added"] = "new\n"                                                                                                        // only in B
				}
				testimg.WriteFiles(t, root, files)
				mode := os.FileMode(0o755)
				if i == 1 {
					mode = os.ModeSetuid | 0o755
				}
				if err := os.Chmod(filepath.Join(root, "usr/bin/tool"), mode); err != nil {
					t.Fatal(err)
				}
				iso := filepath.Join(dir, "iso"+string(rune('a'+i)))
				if err := os.MkdirAll(filepath.Join(iso, "LiveOS"), 0o755); err != nil {
					t.Fatal(err)
				}
				args := []string{"-T0", "--all-root", "-U00000000-0000-0000-0000-000000000001"}
				if comp != "" {
					args = append(args, "-z"+comp)
				}
				args = append(args, filepath.Join(iso, "LiveOS", "squashfs.img"), root)
				testimg.Run(t, dir, "mkfs.erofs", args...)
				isos[i] = testimg.MakeISO(t, iso, iso+".iso", "-R", "-V", "FEDORA", "--modification-date=2024010203040500")
			}
			rep, err := Compare(context.Background(), isos[0], isos[1], Options{NoDiffoscope: true, Ignore: []string{"mtime"}})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Containers) != 1 || rep.Containers[0].Format != "erofs" {
				t.Fatalf("containers: %+v", rep.Containers)
			}
			checkEROFSAnswer(t, rep, []string{
				"/LiveOS/squashfs.img > /etc/added: only in B",
				"/LiveOS/squashfs.img > /etc/hostname: size 5 -> 6, content: text: line 1 differs",
				"/LiveOS/squashfs.img > /usr/bin/tool: mode 0755 -> 4755",
				"/LiveOS/squashfs.img > /usr/share/doc/big.txt: size 300000 -> 299993, content: text: line 10001 differs",
			}, "(erofs image)", "superblock", "entries", "/LiveOS/squashfs.img > /: ", "/LiveOS/squashfs.img > /etc: ")
			if rep.ExitCode() != 1 {
				t.Errorf("exit %d", rep.ExitCode())
			}
		})
	}
}

// Fedora 42's live root filesystem is EROFS with lzma and all-fragments
// (every file's bytes in the packed inode, decoded from pclusters shared
// by many files). Two committed images of one tree built so by
// erofs-utils 1.9.3 (testdata/erofs/make.sh), the second with three
// injected differences: the last bytes of /usr/lib/mixed (in its
// fragment), the mtime of /etc/os-release and the mode of /usr/bin/tool.
// Each is found and nothing else.
func TestEROFSFragmentsLZMA(t *testing.T) {
	testimg.Need(t, "xorriso")
	dir := t.TempDir()
	var isos [2]string
	for i, name := range []string{"lzma-fragments-fedora", "lzma-fragments-fedora-b"} {
		img, err := os.ReadFile(filepath.Join("..", "testdata", "erofs", name+".erofs"))
		if err != nil {
			t.Fatal(err)
		}
		iso := filepath.Join(dir, "iso"+string(rune('a'+i)))
		if err := os.MkdirAll(filepath.Join(iso, "LiveOS"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(iso, "LiveOS", "squashfs.img"), img, 0o644); err != nil {
			t.Fatal(err)
		}
		isos[i] = testimg.MakeISO(t, iso, iso+".iso", "-R", "-V", "FEDORA", "--modification-date=2024010203040500")
	}
	rep, err := Compare(context.Background(), isos[0], isos[1], Options{NoDiffoscope: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Containers) != 1 || rep.Containers[0].Format != "erofs" {
		t.Fatalf("containers: %+v", rep.Containers)
	}
	ans := checkEROFSAnswer(t, rep, []string{
		"/LiveOS/squashfs.img > /usr/lib/mixed: content",
		"/LiveOS/squashfs.img > /etc/os-release: mtime",
		"/LiveOS/squashfs.img > /usr/bin/tool: mode 0755 -> 0700",
	}, "(erofs image)", "superblock")
	for _, line := range strings.Split(ans, "\n") {
		if strings.Contains(line, "/usr/lib/mixed") && (strings.Contains(line, "size") || strings.Contains(line, "mtime")) {
			t.Errorf("/usr/lib/mixed: only its content was changed: %s", line)
		}
	}
	if rep.ExitCode() != 1 {
		t.Errorf("exit %d", rep.ExitCode())
	}
}

// checkEROFSAnswer checks that the short answer of rep holds each line of
// want, and that every location inside the EROFS image it names is one of
// want or holds one of also (the image's own superblock, directories whose
// mtime follows from their entries' changes). It returns the answer.
func checkEROFSAnswer(t *testing.T, rep *report.Report, want []string, also ...string) string {
	t.Helper()
	var sum bytes.Buffer
	report.WriteSummary(&sum, rep)
	_, ans, _ := strings.Cut(sum.String(), "diverging location(s):\n")
	for _, w := range want {
		if !strings.Contains(ans, w) {
			t.Errorf("the short answer lacks %q:\n%s", w, ans)
		}
	}
	for _, line := range strings.Split(strings.TrimRight(ans, "\n"), "\n") {
		if !strings.Contains(line, "/LiveOS/squashfs.img > ") {
			continue
		}
		known := false
		for _, k := range append(want, also...) {
			known = known || strings.Contains(line, k)
		}
		if !known {
			t.Errorf("a difference not injected: %s", line)
		}
	}
	return ans
}

// Ubuntu stacks several squashfs layers under /casper: each is found,
// compared on its own and named in the answer.
func TestCasperLayers(t *testing.T) {
	testimg.Need(t, "xorriso", "mksquashfs")
	dir := t.TempDir()
	layers := []string{"filesystem.squashfs", "filesystem.minimal.squashfs", "filesystem.minimal.standard.squashfs"}
	var isos [2]string
	for i := range isos {
		iso := filepath.Join(dir, "iso"+string(rune('a'+i)))
		if err := os.MkdirAll(filepath.Join(iso, "casper"), 0o755); err != nil {
			t.Fatal(err)
		}
		for k, layer := range layers {
			root := filepath.Join(dir, string(rune('a'+i)), layer)
			content := "same\n"
			if i == 1 {
				content = "changed in layer " + layer + "\n"
			}
			testimg.WriteFiles(t, root, map[string]string{fmt.Sprintf("etc/layer%d", k): content, "usr/share/common": "x\n"})
			testimg.MakeSquashfs(t, root, filepath.Join(iso, "casper", layer), "-mkfs-time", "0", "-all-time", "0")
		}
		isos[i] = testimg.MakeISO(t, iso, iso+".iso", "-R", "-V", "UBUNTU", "--modification-date=2024010203040500")
	}
	rep, err := Compare(context.Background(), isos[0], isos[1], Options{NoDiffoscope: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Containers) != 3 {
		t.Fatalf("%d containers, want the 3 layers: %+v", len(rep.Containers), rep.Containers)
	}
	var sum bytes.Buffer
	report.WriteSummary(&sum, rep)
	for k, layer := range layers {
		want := fmt.Sprintf("/casper/%s > /etc/layer%d: size 5 -> %d, content: text: line 1 differs", layer, k, len("changed in layer "+layer+"\n"))
		if !strings.Contains(sum.String(), want) {
			t.Errorf("the answer lacks %q:\n%s", want, sum.String())
		}
	}
}

// Fedora CoreOS's live ISO wraps its root image in a cpio archive
// (images/pxeboot/rootfs.img holding root.squashfs): the image inside is
// found and compared in place, named "<archive> > <member>".
func TestCpioWrappedRootImage(t *testing.T) {
	testimg.Need(t, "xorriso", "mksquashfs", "cpio", "mkfs.erofs")
	for _, format := range []string{"squashfs", "erofs"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			var isos [2]string
			for i := range isos {
				root := filepath.Join(dir, "root"+string(rune('a'+i)))
				testimg.WriteFiles(t, root, map[string]string{"etc/hostname": []string{"coreos\n", "coreos-b\n"}[i], "usr/lib/x": "x\n"})
				stage := filepath.Join(dir, "stage"+string(rune('a'+i)))
				os.MkdirAll(stage, 0o755)
				os.WriteFile(filepath.Join(stage, "README"), []byte("live root\n"), 0o644)
				img := filepath.Join(stage, "root."+format)
				if format == "squashfs" {
					testimg.MakeSquashfs(t, root, img, "-mkfs-time", "0", "-all-time", "0")
				} else {
					testimg.Run(t, dir, "mkfs.erofs", "-T0", "--all-root", "-U00000000-0000-0000-0000-000000000001", img, root)
				}
				iso := filepath.Join(dir, "iso"+string(rune('a'+i)))
				os.MkdirAll(filepath.Join(iso, "images", "pxeboot"), 0o755)
				cpio := exec.Command("sh", "-c", "printf 'README\\nroot."+format+"\\n' | cpio -o -H newc --quiet > "+filepath.Join(iso, "images", "pxeboot", "rootfs.img"))
				cpio.Dir = stage
				if out, err := cpio.CombinedOutput(); err != nil {
					t.Fatalf("cpio: %v\n%s", err, out)
				}
				isos[i] = testimg.MakeISO(t, iso, iso+".iso", "-R", "-V", "FCOS", "--modification-date=2024010203040500")
			}
			rep, err := Compare(context.Background(), isos[0], isos[1], Options{NoDiffoscope: true})
			if err != nil {
				t.Fatal(err)
			}
			want := "/images/pxeboot/rootfs.img > /root." + format
			if len(rep.Containers) != 1 || rep.Containers[0].Path != want || rep.Containers[0].Format != format {
				t.Fatalf("containers: %+v", rep.Containers)
			}
			var sum bytes.Buffer
			report.WriteSummary(&sum, rep)
			if !strings.Contains(sum.String(), want+" > /etc/hostname: size 7 -> 9, content: text: line 1 differs") {
				t.Errorf("the answer does not name the file inside the image inside the archive:\n%s", sum.String())
			}
			if strings.Contains(sum.String(), "  /images/pxeboot/rootfs.img: content") {
				t.Errorf("the archive itself is listed although its inner image accounts for it:\n%s", sum.String())
			}
		})
	}
}
