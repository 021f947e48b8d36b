package pyrt

import (
	"runtime"
	"sync/atomic"
	"testing"
)

// yieldIfIdle yields only when no goroutine waits for a P: the runtime must
// report them where it can (Go 1.26+), and count one that does.
func TestRunnableGoroutines(t *testing.T) {
	if !runnableKnown() {
		if _, ok := runnableGoroutines(); ok {
			t.Fatal("runnableGoroutines reported a count the runtime does not have")
		}
		t.Skipf("%s has no %s: pyrt does not yield there", runtime.Version(), runnableMetric)
	}
	runnableGoroutines() // the sample pool's first allocation, outside the attempts
	// With one P, a goroutine just started waits for it until this one gives
	// it up. This one may lose it first (a GC assist, a preemption): such an
	// attempt proves nothing and is made again.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for range 100 {
		var ran atomic.Bool
		done := make(chan struct{})
		go func() {
			ran.Store(true)
			close(done)
		}()
		n, ok := runnableGoroutines()
		lost := ran.Load()
		<-done
		if lost {
			continue
		}
		if !ok || n == 0 {
			t.Fatalf("runnableGoroutines() = %d, %v with a goroutine waiting for the only P", n, ok)
		}
		return
	}
	t.Skip("the test goroutine lost its P in every attempt")
}
