package isodiff

import (
	"context"

	"github.com/isodiff/isodiff/internal/iso9660"
	"github.com/isodiff/isodiff/report"
)

func (s *session) comparePartitionTables(st *report.Stage) {}

func (s *session) compareElTorito(ctx context.Context, st *report.Stage, a, b *iso9660.Image) {}
