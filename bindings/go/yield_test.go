package pyrt

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// A goroutine yields only when its queue had nobody wait lately and no
// goroutine waits for a P; the count of those is asked only when it matters.
func TestShouldYield(t *testing.T) {
	now := int64(time.Hour)
	lately := &admission{width: 1}
	lately.queued.Store(now - int64(queuedLately)/2)
	long := &admission{width: 1}
	long.queued.Store(now - 2*int64(queuedLately))
	for _, c := range []struct {
		name     string
		a        *admission
		runnable uint64
		known    bool
		want     bool
		asked    bool
	}{
		{"no queue, nothing runnable", nil, 0, true, true, true},
		{"no queue, a goroutine runnable", nil, 1, true, false, true},
		{"no queue, runtime cannot tell", nil, 0, false, false, true},
		{"queue quiet, nothing runnable", long, 0, true, true, true},
		{"queue quiet, goroutines runnable", long, 3, true, false, true},
		{"queue used lately", lately, 0, true, false, false},
	} {
		asked := false
		got := shouldYield(c.a, now, func() (uint64, bool) {
			asked = true
			return c.runnable, c.known
		})
		if got != c.want || asked != c.asked {
			t.Errorf("%s: shouldYield = %v (runnable asked: %v), want %v (%v)", c.name, got, asked, c.want, c.asked)
		}
	}
}

// The runtime must report goroutines waiting for a P where it can (Go 1.26+),
// and count one that does.
func TestRunnableGoroutines(t *testing.T) {
	if !runnableKnown() {
		if _, ok := runnableGoroutines(); ok {
			t.Fatal("runnableGoroutines reported a count the runtime does not have")
		}
		t.Skipf("%s has no %s: pyrt does not yield there", runtime.Version(), runnableMetric)
	}
	runnableGoroutines() // the sample pool's first allocation, outside the attempts
	// With one P, a goroutine just started waits for it until this one gives
	// it up; others may wait too (left over from other tests), so the count
	// must grow by at least one. This goroutine may lose the P first (a GC
	// assist, a preemption), letting others run: such an attempt proves
	// nothing and is made again.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var n, before uint64
	for range 100 {
		var ran atomic.Bool
		done := make(chan struct{})
		before, _ = runnableGoroutines()
		go func() {
			ran.Store(true)
			close(done)
		}()
		var ok bool
		n, ok = runnableGoroutines()
		lost := ran.Load()
		<-done
		if !ok {
			t.Fatal("runnableGoroutines() reports nothing where the runtime has the metric")
		}
		if !lost && n >= before+1 {
			return
		}
	}
	t.Fatalf("runnableGoroutines() = %d, not more than the %d before a goroutine was started, in 100 attempts", n, before)
}
