// Package benchenv is the one home of what the ledger's benchmarks share:
// their sizes read from the environment (so that `make test` runs each
// once, tiny, and `make bench` at full size), the CPU profile
// LEDGER_TEST_CPUPROFILE asks for, and the medians and percentiles they
// report. Only tests and benchmarks import it.
package benchenv

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"testing"
)

// Size returns the positive number in the environment variable name, or
// def when it is unset; anything else fails tb.
func Size(tb testing.TB, name string, def int) int {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		tb.Fatalf("%s=%q is not a positive number", name, v)
	}
	return n
}

// CPUProfile starts a CPU profile into the directory LEDGER_TEST_CPUPROFILE
// names, in a file called name.pprof, and returns what stops it; with the
// variable unset it profiles nothing and stop does nothing.
func CPUProfile(tb testing.TB, name string) (stop func()) {
	tb.Helper()
	dir := os.Getenv("LEDGER_TEST_CPUPROFILE")
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, name+".pprof"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		tb.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			tb.Error(fmt.Errorf("cpu profile: %w", err))
		}
	}
}

// Median is the median of v (0 for none); v is not changed.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Percentile is the p-th percentile (0 < p <= 100) of v, nearest rank (0
// for none); v is not changed.
func Percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}
