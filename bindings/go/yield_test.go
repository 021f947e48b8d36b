package pyrt

import (
	"runtime"
	"runtime/metrics"
	"slices"
	"testing"
)

// yieldIfIdle yields only when no goroutine waits for a P: the runtime must
// report them where it can (Go 1.26+), and count one that does.
func TestRunnableGoroutines(t *testing.T) {
	if !slices.ContainsFunc(metrics.All(), func(d metrics.Description) bool { return d.Name == runnableMetric }) {
		if _, ok := runnableGoroutines(); ok {
			t.Fatal("runnableGoroutines reported a count the runtime does not have")
		}
		t.Skipf("%s has no %s: pyrt does not yield there", runtime.Version(), runnableMetric)
	}
	// With one P, a goroutine just started waits for it until this one yields.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	done := make(chan struct{})
	go func() { close(done) }()
	n, ok := runnableGoroutines()
	<-done
	if !ok || n == 0 {
		t.Fatalf("runnableGoroutines() = %d, %v with a goroutine waiting for the only P", n, ok)
	}
}
