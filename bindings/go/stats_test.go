package pyrt

import (
	"context"
	"errors"
	"testing"
)

func TestStatsCountCallsAndExceptions(t *testing.T) {
	ctx := context.Background()
	before, err := testRT.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if before.Scope != "runtime" || !before.Enabled {
		t.Fatalf("before: %+v", before)
	}
	for i := 0; i < 20; i++ {
		var f float64
		if err := testRT.CallInto(ctx, &f, "math", "sqrt", 16.0); err != nil || f != 4 {
			t.Fatalf("sqrt: %v %v", f, err)
		}
	}
	var v any
	err = testRT.CallInto(ctx, &v, "builtins", "int", "not a number")
	var pe *PythonError
	if !errors.As(err, &pe) {
		t.Fatalf("int('not a number'): %v", err)
	}
	s, err := testRT.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.CallsStarted < before.CallsStarted+21 || s.CallsFailed != before.CallsFailed+1 {
		t.Errorf("calls: before %+v after %+v", before, s)
	}
	if s.Exceptions["ValueError"] != before.Exceptions["ValueError"]+1 {
		t.Errorf("ValueError counted %d, was %d", s.Exceptions["ValueError"], before.Exceptions["ValueError"])
	}
	if len(s.LatencyBuckets) != len(s.LatencyBounds)+1 || s.LatencyBounds[0] != 1e-6 || s.LatencyBounds[len(s.LatencyBounds)-1] != 10 {
		t.Errorf("histogram: %v %v", s.LatencyBounds, s.LatencyBuckets)
	}
	var sum uint64
	for _, n := range s.LatencyBuckets {
		sum += n
	}
	if sum != s.LatencyCount || s.LatencyCount == 0 || s.LatencyCount > s.CallsFinished {
		t.Errorf("latency count %d, buckets sum %d, finished %d", s.LatencyCount, sum, s.CallsFinished)
	}
	p, err := testRT.ProcessStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p.Scope != "process" || p.CallsStarted < s.CallsStarted {
		t.Errorf("process: %+v", p)
	}
	if rt, err := New(WithStats(false)); !errors.Is(err, ErrLibpythonConflict) {
		t.Errorf("a second runtime turning stats off: %v, want ErrLibpythonConflict", err)
		if rt != nil {
			rt.Close()
		}
	}
}
