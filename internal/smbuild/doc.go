// Package smbuild is the library part of cmd/smbuild: it reads and checks
// the build configuration (the KEY=VALUE files of ParseEnvFile, LoadConfig,
// CheckPinned), reads the git source (ReadSource), and runs one build in the
// pinned builder container through the docker CLI (Prepare, Job.Build),
// streaming its output, keeping its log and writing SHA256SUMS and
// BUILD_INFO. Comparing two builds is cmd/smbuild's part, with the isodiff
// library. The command's documentation describes the formats and the
// container contract.
package smbuild
