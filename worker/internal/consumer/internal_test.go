package consumer

import (
	"slices"
	"strings"
	"testing"
	"time"
)

type writes struct{ got []string }

func (w *writes) Write(p []byte) (int, error) {
	w.got = append(w.got, string(p))
	return len(p), nil
}

func TestLineWriter(t *testing.T) {
	long := strings.Repeat("x", maxLine)
	for _, tc := range []struct {
		name   string
		writes []string
		want   []string
	}{
		{"whole lines", []string{"a\nb\n"}, []string{"a\n", "b\n"}},
		{"split lines", []string{"he", "llo\nwor", "ld\n"}, []string{"hello\n", "world\n"}},
		{"last line without newline", []string{"a\nb"}, []string{"a\n", "b\n"}},
		{"empty lines", []string{"\n\n"}, []string{"\n", "\n"}},
		{"a line longer than the limit is cut", []string{long + "yy\n"}, []string{long + "\n", "yy\n"}},
		{"a limit-sized line is one", []string{long[1:] + "\n"}, []string{long[1:] + "\n"}},
	} {
		w := &writes{}
		lw := &lineWriter{w: w}
		for _, s := range tc.writes {
			if n, err := lw.Write([]byte(s)); n != len(s) || err != nil {
				t.Errorf("%s: Write = %d, %v; want %d, nil", tc.name, n, err, len(s))
			}
		}
		lw.Flush()
		if !slices.Equal(w.got, tc.want) {
			t.Errorf("%s: passed on %q; want %q", tc.name, w.got, tc.want)
		}
	}
}

func TestRetryDelayGrowsWithJitterAndCap(t *testing.T) {
	r := &runner{cfg: Config{RetryDelay: 10 * time.Second, MaxRetryDelay: 15 * time.Minute}}
	for _, tc := range []struct {
		receiveCount int
		full         time.Duration // the delay before jitter: the result is in [full/2, full]
	}{
		{0, 10 * time.Second}, // unknown receive count: as the first
		{1, 10 * time.Second},
		{2, 20 * time.Second},
		{3, 40 * time.Second},
		{7, 640 * time.Second},
		{8, 15 * time.Minute},
		{1000, 15 * time.Minute},
	} {
		seen := map[time.Duration]bool{}
		for range 200 {
			d := r.retryDelay(tc.receiveCount)
			if d < tc.full/2 || d > tc.full {
				t.Fatalf("retryDelay(%d) = %s; want within [%s, %s]", tc.receiveCount, d, tc.full/2, tc.full)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("retryDelay(%d) gave the same value 200 times; want jitter", tc.receiveCount)
		}
	}
}

func TestRetryDelayIsZeroAfterTheLastAllowedReceive(t *testing.T) {
	r := &runner{cfg: Config{RetryDelay: 10 * time.Second, MaxRetryDelay: 15 * time.Minute}, maxReceives: 3}
	for rc, wantZero := range map[int]bool{1: false, 2: false, 3: true, 4: true} {
		if got := r.retryDelay(rc); (got == 0) != wantZero {
			t.Errorf("retryDelay(%d) with maxReceiveCount 3 = %s; want zero: %t", rc, got, wantZero)
		}
	}
}

func TestFullJitter(t *testing.T) {
	for _, tc := range []struct {
		attempt int
		limit   time.Duration
	}{{0, time.Second}, {1, 2 * time.Second}, {4, 16 * time.Second}, {5, 30 * time.Second}, {100, 30 * time.Second}} {
		for range 200 {
			if d := fullJitter(time.Second, tc.attempt); d < 0 || d > tc.limit {
				t.Fatalf("fullJitter(1s, %d) = %s; want within [0, %s]", tc.attempt, d, tc.limit)
			}
		}
	}
}
