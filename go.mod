module github.com/isodiff/isodiff

go 1.26
