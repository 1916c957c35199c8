package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/isodiff/isodiff/internal/smbuild"
)

// release verifies and, when the two builds are identical, puts build a's
// ISO, SHA256SUMS and BUILD_INFO (recording the verification) into
// OUT/<commit>/release.
func release(ctx context.Context, job *smbuild.Job, term, stdout, stderr io.Writer, sequential bool) int {
	dir := filepath.Join(job.OutDir, "release")
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintf(stderr, "smbuild: cannot clean %s: %v\n", dir, err)
		return exitTrouble
	}
	code, a := verify(ctx, job, term, stdout, stderr, sequential)
	if code != exitOK {
		fmt.Fprintf(stderr, "smbuild: release: not released: the commit did not verify\n")
		return code
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(stderr, "smbuild: %v\n", err)
		return exitTrouble
	}
	iso := filepath.Base(a.ISO)
	info, err := os.ReadFile(filepath.Join(a.Dir, smbuild.BuildInfoFile))
	if err == nil {
		info = append(info, fmt.Sprintf("VERIFIED='build b, with every variation listed above, produced the same sha256 %s'\n", a.SHA256)...)
		err = os.WriteFile(filepath.Join(dir, smbuild.BuildInfoFile), info, 0o644)
	}
	if err == nil {
		err = copyFile(a.ISO, filepath.Join(dir, iso))
	}
	if err == nil {
		// Check the copy, then write its SHA256SUMS.
		var sum string
		if sum, err = smbuild.SHA256File(filepath.Join(dir, iso)); err == nil && sum != a.SHA256 {
			err = fmt.Errorf("the copy of %s in %s has sha256 %s, not %s", iso, dir, sum, a.SHA256)
		}
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, smbuild.SumsFile), []byte(a.SHA256+"  "+iso+"\n"), 0o644)
	}
	if err != nil {
		fmt.Fprintf(stderr, "smbuild: release: %v\n", err)
		return exitTrouble
	}
	fmt.Fprintf(term, "smbuild: release: %s verified; released in %s (%s, %s, %s)\n", job.Source.Short(), dir, iso, smbuild.SumsFile, smbuild.BuildInfoFile)
	return exitOK
}

// check builds once and compares the ISO's sha256 with a published
// SHA256SUMS (a file or an http(s) URL); when they differ and a reference
// ISO (the published one) is given, it diagnoses the difference into
// OUT/<commit>/check/diagnosis.
func check(ctx context.Context, job *smbuild.Job, sums, reference string, term, stdout, stderr io.Writer) int {
	published, err := readSums(ctx, sums)
	if err != nil {
		fmt.Fprintf(stderr, "smbuild: check: %v\n", err)
		return exitTrouble
	}
	var refSum string
	if reference != "" {
		if refSum, err = smbuild.SHA256File(reference); err != nil {
			fmt.Fprintf(stderr, "smbuild: check: reference ISO: %v\n", err)
			return exitTrouble
		}
	}
	dir := filepath.Join(job.OutDir, "check")
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintf(stderr, "smbuild: cannot clean %s: %v\n", dir, err)
		return exitTrouble
	}
	res, err := job.Build(ctx, job.Variants()[0], filepath.Join(dir, "build"), term, "[check] ")
	if err != nil {
		reportFailure(stderr, err)
		return exitTrouble
	}
	iso := filepath.Base(res.ISO)
	want, ok := published[iso]
	if !ok {
		var names []string
		for n := range published {
			names = append(names, n)
		}
		fmt.Fprintf(stderr, "smbuild: check: %s has no line for %s, the ISO this commit builds (it lists %s)\n", sums, iso, strings.Join(names, ", "))
		return exitTrouble
	}
	if refSum != "" && refSum != want {
		fmt.Fprintf(stderr, "smbuild: check: the reference ISO %s has sha256 %s, not the published %s: it is not the published ISO\n", reference, refSum, want)
		return exitTrouble
	}
	if res.SHA256 == want {
		fmt.Fprintf(term, "smbuild: check: reproduced: %s has the published sha256 %s\n", iso, want)
		return exitOK
	}
	fmt.Fprintf(term, "smbuild: check: NOT reproduced: %s\n  published: sha256 %s\n  this build: sha256 %s  %s\n", iso, want, res.SHA256, res.ISO)
	if reference == "" {
		fmt.Fprintf(term, "smbuild: check: pass the published ISO as --reference ISO for a diagnosis\n")
		return exitDifferent
	}
	diag := filepath.Join(dir, "diagnosis")
	fmt.Fprintf(term, "smbuild: diagnosing with isodiff (a: the published ISO, b: this build)\n")
	rep, ok := diagnose(ctx, reference, res.ISO, diag, stdout, stderr)
	if !ok {
		return exitTrouble
	}
	if rep.ExitCode() == exitOK {
		fmt.Fprintln(stderr, "smbuild: the ISOs' SHA-256 differ but isodiff found them identical; this is a bug, please report it")
		return exitTrouble
	}
	fmt.Fprintf(term, "smbuild: check: diagnosis in %s\n", diag)
	return exitDifferent
}

// MaxSumsSize bounds a SHA256SUMS file read by check.
const MaxSumsSize = 1 << 20

var sumLineRE = regexp.MustCompile(`^([0-9a-fA-F]{64}) [ *](.+)$`)

// readSums reads a SHA256SUMS file (sha256sum's output) from a path or an
// http(s) URL, as file name -> lower-case hex.
func readSums(ctx context.Context, src string) (map[string]string, error) {
	var data []byte
	if strings.HasPrefix(src, "https://") || strings.HasPrefix(src, "http://") {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s: %s", src, resp.Status)
		}
		if data, err = io.ReadAll(io.LimitReader(resp.Body, MaxSumsSize+1)); err != nil {
			return nil, fmt.Errorf("%s: %v", src, err)
		}
	} else {
		f, err := os.Open(src)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if data, err = io.ReadAll(io.LimitReader(f, MaxSumsSize+1)); err != nil {
			return nil, err
		}
	}
	if len(data) > MaxSumsSize {
		return nil, fmt.Errorf("%s is larger than %d bytes: not a SHA256SUMS file", src, MaxSumsSize)
	}
	sums := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(l) == "" {
			continue
		}
		m := sumLineRE.FindStringSubmatch(l)
		if m == nil {
			return nil, fmt.Errorf("%s:%d: not a line of sha256sum's output (<64 hex digits>, two spaces, a file name)", src, n)
		}
		name := strings.TrimPrefix(m[2], "./")
		if prev, dup := sums[name]; dup && prev != strings.ToLower(m[1]) {
			return nil, fmt.Errorf("%s:%d: %s is listed twice with different sums", src, n, name)
		}
		sums[name] = strings.ToLower(m[1])
	}
	if len(sums) == 0 {
		return nil, fmt.Errorf("%s lists no file", src)
	}
	return sums, nil
}

// copyFile copies src to dst, hard-linking when it can.
func copyFile(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
