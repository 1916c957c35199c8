package iso9660

// SharedAreaImage exposes the crafted image of TestSharedContinuationArea to
// the external tests that run it through the whole comparison.
var SharedAreaImage = sharedAreaImage
