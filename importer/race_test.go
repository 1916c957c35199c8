//go:build race

package importer

// raceEnabled: the race detector is on, so no third-party code known to
// race may run (it would fail the test, not the library).
const raceEnabled = true
