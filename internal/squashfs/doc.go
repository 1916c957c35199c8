// Package squashfs reads squashfs 4.0 images.
package squashfs
