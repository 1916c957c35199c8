module github.com/isodiff/isodiff/importer

go 1.26.0

replace github.com/isodiff/isodiff => ../

require (
	github.com/CalebQ42/squashfs v1.4.1
	github.com/diskfs/go-diskfs v1.9.4
	github.com/isodiff/isodiff v0.0.0-00010101000000-000000000000
	golang.org/x/sys v0.50.0
)

require (
	github.com/anchore/go-lzo v0.1.1 // indirect
	github.com/djherbis/times v1.6.0 // indirect
	github.com/klauspost/compress v1.20.4 // indirect
	github.com/mikelolasagasti/xz v1.0.1 // indirect
	github.com/pierrec/lz4/v4 v4.1.33 // indirect
	github.com/pkg/xattr v0.4.12 // indirect
	github.com/rasky/go-lzo v0.0.0-20200203143853-96a758eda86e // indirect
	github.com/ulikunitz/xz v0.5.17 // indirect
)
