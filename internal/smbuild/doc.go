// Package smbuild configures and runs one build in smbuild's pinned container.
//
// It is the library part of cmd/smbuild: it reads and checks the build
// configuration (the KEY=VALUE files of ParseEnvFile, LoadConfig,
// CheckPinned), reads the git source (ReadSource), and runs one build in the
// pinned builder container through the docker CLI (Prepare, Job.Build),
// streaming its output, keeping its log and writing SHA256SUMS and
// BUILD_INFO. Comparing two builds is cmd/smbuild's part, with the isodiff
// library. The command's README describes the formats and the container
// contract.
//
// A build is build a or build b of verify (Job.Variants). Build b differs
// from a in every Variation that is on: host name, source path, umask,
// clock, CPUs, user, HOME, locale, time zone, kernel release and file
// ordering; config/*.conf switches one
// off with BUILD_VARY_<NAME>='no: <reason>', and BUILD_INFO and the
// diagnosis (Job.VariationReport) record it. Prepare checks that each
// variation that is on can be made before anything runs.
//
// The clock is moved with libfaketime (LD_PRELOAD and FAKETIME=+398d in build
// b), which the builder image must carry (BUILDER_LIBFAKETIME names it), and
// not with a time namespace: a time namespace offsets only the monotonic and
// boot-time clocks, never CLOCK_REALTIME, which date(1) and every build tool
// read; docker run cannot create one either, and setting the wall clock needs
// CAP_SYS_TIME and moves it for the whole host. libfaketime needs no
// privilege and reaches every dynamically linked program of the build; it
// misses static binaries and setuid ones. The tests' builder is a static Go
// binary, so its image also carries the host's date(1), libfaketime and
// their libraries, and the builder's time leak runs date(1), as a shell
// script writing `date +%F` into the image would.
//
// File ordering is varied without FUSE (reprotest's disorderfs needs
// /dev/fuse and CAP_SYS_ADMIN): build b's source is a copy on a tmpfs
// (OrderBase) in which every directory lists its entries in the reverse of
// the source's order, which a tmpfs allows since it lists entries in the
// order they were made (or the reverse).
//
// Runner settings (Mount, ParseRunnerEnv, Options.Image) belong to the
// machine, not the commit: BUILD_INFO records mount targets, variable names
// and the image used, not host paths, volume names or values. Build
// containers carry OwnerLabel, so that a later run removes those of a killed
// smbuild (Docker.RemoveLeftovers).
package smbuild
