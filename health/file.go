package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// fileLimit bounds the part of the file read.
const fileLimit = 256

// fileProbe is keepalived's FILE_CHECK: the file holds an integer N.
// With weight 0, N != 0 is down and 0 is up; otherwise N*weight is the
// real server's weight, and a negative product is down.
type fileProbe struct{}

func (fileProbe) run(ctx context.Context, s *Spec, t Target) (string, error) {
	f, err := os.Open(s.FilePath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", failf("%s does not exist", s.FilePath)
		}
		return "", during("read "+s.FilePath, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, fileLimit))
	if err != nil {
		return "", during("read "+s.FilePath, err)
	}
	text := strings.TrimSpace(string(b))
	if i := strings.IndexAny(text, " \t\r\n"); i >= 0 {
		text = text[:i] // keepalived reads the first number
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return "", failf("%s holds %s, not an integer", s.FilePath, quoteHead([]byte(text)))
	}
	if s.Weight == 0 {
		if n != 0 {
			return "", failf("%s holds %d (weight 0: non-zero is down)", s.FilePath, n)
		}
		return fmt.Sprintf("%s holds 0", s.FilePath), nil
	}
	w := n * int64(s.Weight)
	if w < 0 {
		return "", failf("%s holds %d, x weight %d = %d: below 0 is down", s.FilePath, n, s.Weight, w)
	}
	w = min(w, maxWeight)
	return "", &weighted{fmt.Sprintf("%s holds %d: weight %d", s.FilePath, n, w), int(w)}
}

// maxWeight is IPVS's largest weight that tandem configures.
const maxWeight = 65535
