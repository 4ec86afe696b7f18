package benchenv

import "testing"

func TestMedianAndPercentile(t *testing.T) {
	v := []float64{5, 1, 4, 2, 3}
	if m := Median(v); m != 3 {
		t.Errorf("median of %v = %v, want 3", v, m)
	}
	if m := Median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median of an even count = %v, want 2.5", m)
	}
	if v[0] != 5 {
		t.Errorf("Median sorted its input: %v", v)
	}
	for p, want := range map[float64]float64{20: 1, 50: 3, 99: 5, 100: 5} {
		if got := Percentile(v, p); got != want {
			t.Errorf("p%v of %v = %v, want %v", p, v, got, want)
		}
	}
	if Median(nil) != 0 || Percentile(nil, 50) != 0 {
		t.Error("no values: want 0")
	}
}

func TestSize(t *testing.T) {
	t.Setenv("LEDGER_BENCH_SIZE_TEST", "")
	if n := Size(t, "LEDGER_BENCH_SIZE_TEST", 7); n != 7 {
		t.Errorf("unset: %d, want the default 7", n)
	}
	t.Setenv("LEDGER_BENCH_SIZE_TEST", "1200")
	if n := Size(t, "LEDGER_BENCH_SIZE_TEST", 7); n != 1200 {
		t.Errorf("set: %d, want 1200", n)
	}
}
