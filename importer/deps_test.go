package importer

import (
	_ "github.com/CalebQ42/squashfs"
	_ "github.com/diskfs/go-diskfs/filesystem/iso9660"
	_ "github.com/diskfs/go-diskfs/filesystem/squashfs"
	_ "github.com/isodiff/isodiff/isodiff"
)
