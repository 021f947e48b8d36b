package pyrt

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// Rescheduling goroutines that call Python back to back.
//
// To Go's scheduler a goroutine in a foreign call is in a system call. Its
// sysmon thread takes the processor (P) of a goroutine that has not been
// rescheduled for 10 ms, also in the middle of a system call; and a goroutine
// that does little but call Python, with room to go in every time, is never
// rescheduled. So every 10 ms such a goroutine comes back from a call to find
// its P gone: its thread sleeps until the scheduler runs the goroutine again,
// on another thread, and for a while after, sysmon looks at the goroutines in
// calls every 20 µs, holding up their return from C as it looks. Measured (Go
// 1.26, CPython 3.12, a call of 8 µs, a 2-core machine): one goroutine's p99
// was 33–40 µs, and 2 goroutines on 2 workers got about 1.7× the throughput
// of one.
//
// So before one call in yieldOneIn, at random, a goroutine yields its P
// (runtime.Gosched), which reschedules it. With calls of 8 µs that is every
// 2 ms on average, and sysmon rarely finds one that has run for 10 ms; longer
// calls are left alone more often, but lose less to it. It yields only when
// no goroutine waits for a P and no caller had to queue lately: a goroutine
// that yields goes to the back of the scheduler's global queue, and
// goroutines that hand a queue's place to each other run one after the other
// without looking at that queue, until sysmon preempts them 10 ms later.
// (Yielding regardless made the slowest call from 16 goroutines on 2 workers
// 27–69 ms, against 4 ms.) Callers that queue are rescheduled each time
// anyway. Reading whether a goroutine waits for a P takes the scheduler's
// lock and holds up returns from C briefly, as sysmon's looks do, but only
// on the calls where the draw hits.
const yieldOneIn = 256

// queuedLately: a queue where a caller waited this recently has more callers
// than room.
const queuedLately = 100 * time.Millisecond

// yieldIfIdle yields the goroutine's P when nothing else wants one (see
// above). a is the call's queue, nil for none.
func yieldIfIdle(a *admission) {
	if shouldYield(a, clock(), runnableGoroutines) {
		runtime.Gosched()
	}
}

// shouldYield: a (the call's queue, nil for none) had nobody wait within
// queuedLately of now, and runnable reports no goroutine waiting for a P
// (runnable is asked only when the queue is quiet: it costs more).
func shouldYield(a *admission, now int64, runnable func() (uint64, bool)) bool {
	if a != nil && now-a.queued.Load() <= int64(queuedLately) {
		return false
	}
	n, ok := runnable()
	return ok && n == 0
}

const runnableMetric = "/sched/goroutines/runnable:goroutines"

// runnableKnown: the runtime has runnableMetric (Go 1.26 on).
var runnableKnown = sync.OnceValue(func() bool {
	for _, d := range metrics.All() {
		if d.Name == runnableMetric {
			return true
		}
	}
	return false
})

var runnableSamples = sync.Pool{New: func() any { return &[1]metrics.Sample{{Name: runnableMetric}} }}

// runnableGoroutines is how many goroutines wait for a P; false where the Go
// runtime does not say (before Go 1.26).
func runnableGoroutines() (uint64, bool) {
	if !runnableKnown() {
		return 0, false
	}
	s := runnableSamples.Get().(*[1]metrics.Sample)
	defer runnableSamples.Put(s)
	metrics.Read(s[:])
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0, false
	}
	return s[0].Value.Uint64(), true
}
