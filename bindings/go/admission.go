package pyrt

import (
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Fair admission, the Go half (libpyrt orders host threads itself; see
// docs/performance.md).
//
// Only one thread runs Python at a time on a build with a GIL. When many
// goroutines call at once, letting them all into libpyrt would block most of
// them on OS threads in C, each waiting for the GIL, with every hand-off of
// the GIL waking a sleeping thread and the Go scheduler starting more threads
// to replace the blocked ones: the process does more work to get less done,
// and the GIL goes to whichever thread wakes first, not to the caller that has
// waited longest.
//
// So calls on a runtime whose Python has a GIL enter libpyrt through a queue:
// one call at a time is inside; the next caller in line (the head)
// waits in Go, yielding its processor between looks, so that it goes in the
// moment the call that comes out lets it in, without a wake-up; the others
// park as goroutines, in arrival order, until they are at the head. A head
// that has waited headSpin parks too.
//
// Calls whose Python code releases the GIL (sleeps, I/O, numpy, host
// callbacks) must still overlap, so a watchdog runs while goroutines wait:
// when no call has come out for admitStall, it lets more in (1, 2, 4, … per
// stalled period), which libpyrt then orders. (Not in the main thread's
// queue: calls there run one after another whatever their Python does.) A
// call made from a host callback (Python called Go, which calls Python again)
// goes straight in, and the call it is nested in lends its place for the
// callback's duration.
//
// While nobody waits, a call takes its place and gives it back with one
// compare-and-swap each (enter and leave touch no mutex): the count of calls
// inside shares a word with a flag that sends everyone through the mutex
// instead, set while a caller waits and while any of the slower paths runs.
// So under the mutex the count changes only as it always did there, and the
// fast paths do exactly what the locked ones would with nobody waiting.

const (
	admitStall = time.Millisecond
	headSpin   = 100 * time.Microsecond
	// mainThreadWidth: calls of a WithMainThread runtime inside libpyrt at
	// once. They all run on Python's main thread, one after another; one
	// call queued there behind the running one keeps that thread busy
	// without a wait between calls.
	mainThreadWidth = 2
)

// admissionOff: $PYRT_ADMISSION is "0", which turns libpyrt's queue off too:
// for measuring calls in order against calls in a free-for-all.
var admissionOff = os.Getenv("PYRT_ADMISSION") == "0"

// A waiter is a queued caller. ch receives when it becomes the head and, if
// it parked as the head, when it is let in.
type waiter struct {
	ch       chan struct{}
	parked   bool         // guarded by admission.mu
	admitted atomic.Bool  // set by whoever lets it in
	since    int64        // when it queued (clock())
	seen     atomic.Int64 // when it last looked, as the head (clock())
}

// clock is a monotonic time in nanoseconds.
func clock() int64 { return int64(time.Since(clockBase)) }

var clockBase = time.Now()

const (
	// headStale: a spinning head not seen looking for this long is not
	// running (the OS gave its thread's CPU to another process).
	headStale = 50 * time.Microsecond
	// headOverdue: a head that has waited this long is let in even when it is
	// not running; until then, a running caller may go first.
	headOverdue = 2 * time.Millisecond
)

// mayGoFirst reports whether a caller that is running may take a free place
// before the head: only when the head is spinning on a thread the OS is not
// running (handing it the place would leave Python idle until the OS runs
// it again) and has not waited headOverdue. On a loaded machine this keeps
// throughput; on an idle one the head is always running.
func (a *admission) mayGoFirst(now int64) bool {
	w := a.headW
	return w == nil || (!a.strict && !w.parked && now-w.seen.Load() > int64(headStale) && now-w.since < int64(headOverdue))
}

type admission struct {
	width int32 // calls inside libpyrt at once
	// queued is when a caller last had to wait here (clock()).
	queued atomic.Int64
	// state is the number of calls inside libpyrt in its low 32 bits (an
	// int32: more than width after the watchdog acted, below 0 while a
	// callback lends a place its call did not take from this queue), and
	// admSlow. Changed only by compare-and-swap.
	state    atomic.Uint64
	mu       sync.Mutex
	headW    *waiter   // the next caller to go in; nil when nobody waits
	queue    []*waiter // behind the head, in arrival order
	qhead    int       // queue[qhead:] are waiting
	watching bool
	left     atomic.Uint64 // calls that came out: the watchdog's sign of progress
	// strict: the head always goes first, even when its thread is not running
	// (for tests, which must not depend on the machine's load).
	strict bool
	// serial: the calls inside run one after another on one thread (the main
	// thread's queue), so they never overlap and the watchdog, which lets
	// more in when none comes out, would only block more OS threads in
	// libpyrt: it does not run.
	serial bool
}

// admSlow in admission.state: enter and leave must go through mu (somebody
// waits, or a locked path is running). Set and cleared under mu.
const admSlow = uint64(1) << 32

func insideOf(s uint64) int32 { return int32(uint32(s)) }

func withInside(s uint64, n int32) uint64 { return s&^0xffffffff | uint64(uint32(n)) }

// inside is the number of calls inside libpyrt.
func (a *admission) inside() int32 { return insideOf(a.state.Load()) }

// addInside changes the number of calls inside by d.
func (a *admission) addInside(d int32) {
	for {
		s := a.state.Load()
		if a.state.CompareAndSwap(s, withInside(s, insideOf(s)+d)) {
			return
		}
	}
}

// setSlow sets or clears admSlow.
func (a *admission) setSlow(on bool) {
	for {
		s := a.state.Load()
		n := s &^ admSlow
		if on {
			n = s | admSlow
		}
		if s == n || a.state.CompareAndSwap(s, n) {
			return
		}
	}
}

// lock takes mu for a path that may change the count or the queue; unlock
// lets enter and leave take the fast path again once nobody waits.
func (a *admission) lock() {
	a.mu.Lock()
	a.setSlow(true)
}

func (a *admission) unlock() {
	if a.headW == nil {
		a.setSlow(false)
	}
	a.mu.Unlock()
}

// gilGate is the queue of the main interpreter's GIL, which every Runtime
// that runs calls on the caller's thread shares. A Runtime with workers has
// its own queue, as wide as it has workers: its calls wait in Go for a free
// worker instead of each blocking an OS thread in libpyrt for one.
var gilGate = admission{width: 1}

// mainThreadGate is the queue of Python's main thread, which every
// WithMainThread Runtime shares (also on a free-threaded build): its calls
// run there one after another, and one waiting there behind the running one
// is enough to keep the thread busy.
var mainThreadGate = admission{width: mainThreadWidth, serial: true}

// queuedHook, when set (by tests), runs as a caller joins a queue.
var queuedHook atomic.Pointer[func()]

var waiterPool = sync.Pool{New: func() any { return &waiter{ch: make(chan struct{}, 1)} }}

// enter returns when the calling goroutine may call into libpyrt.
func (a *admission) enter() {
	for {
		// Nobody waits: go in if there is room.
		s := a.state.Load()
		if s&admSlow != 0 || insideOf(s) >= a.width {
			break
		}
		if a.state.CompareAndSwap(s, withInside(s, insideOf(s)+1)) {
			return
		}
	}
	a.lock()
	if a.inside() < a.width && (a.headW == nil || a.mayGoFirst(clock())) {
		a.addInside(1)
		a.unlock()
		return
	}
	w := waiterPool.Get().(*waiter)
	w.parked = false
	w.admitted.Store(false)
	w.since = clock()
	a.queued.Store(w.since)
	w.seen.Store(w.since)
	if a.headW == nil {
		a.headW = w
	} else {
		a.queue = append(a.queue, w)
	}
	if !a.watching && !a.serial {
		a.watching = true
		go a.watch()
	}
	head := a.headW == w
	if hook := queuedHook.Load(); hook != nil {
		(*hook)()
	}
	a.unlock()
	if !head {
		<-w.ch
	}
	a.waitAsHead(w)
	waiterPool.Put(w)
}

// waitAsHead returns when the head w is let in.
func (a *admission) waitAsHead(w *waiter) {
	start := time.Now()
	spin := headSpin
	if a.width > 1 {
		// Workers, or the main thread's queue: the calls inside keep the CPUs busy (a
		// worker's thread or a direct caller per worker; the main thread and the next
		// call's caller, spinning in libpyrt); a spinning head would take one.
		// It parks at its first look, before it could seem not running (mayGoFirst) for
		// want of a processor and let later callers go first for up to headOverdue.
		spin = 0
	}
	for i := 1; ; i++ {
		if w.admitted.Load() {
			return
		}
		w.seen.Store(clock())
		if i%16 == 0 || spin == 0 {
			a.lock()
			if !w.admitted.Load() && a.inside() < a.width {
				a.addInside(1)
				a.admitHeadLocked()
				a.unlock()
				return
			}
			if time.Since(start) >= spin {
				if w.admitted.Load() {
					a.unlock()
					return
				}
				w.parked = true
				a.unlock()
				<-w.ch
				return
			}
			a.unlock()
		}
		runtime.Gosched()
	}
}

// admitHeadLocked lets the head in (its place already counted) and makes
// the longest waiter behind it the new head.
func (a *admission) admitHeadLocked() {
	w := a.headW
	w.admitted.Store(true)
	if w.parked {
		w.ch <- struct{}{}
	}
	a.headW = nil
	if a.qhead < len(a.queue) {
		a.headW = a.queue[a.qhead]
		a.queue[a.qhead] = nil
		a.qhead++
		if a.qhead == len(a.queue) {
			a.queue, a.qhead = a.queue[:0], 0
		}
		// Seen now: until its goroutine runs, the new head must not look like one
		// whose thread the OS is not running (mayGoFirst), or callers arriving
		// meanwhile would go first for up to headOverdue.
		a.headW.seen.Store(clock())
		a.headW.ch <- struct{}{}
	}
}

// leave ends a call that enter admitted. The head takes its place at once:
// the leaving goroutine lets it in and wakes the next head, so that the head
// only has to see that it was admitted.
func (a *admission) leave() {
	a.left.Add(1)
	for {
		// Nobody waits: give the place back.
		s := a.state.Load()
		if s&admSlow != 0 {
			break
		}
		if a.state.CompareAndSwap(s, withInside(s, insideOf(s)-1)) {
			return
		}
	}
	a.lock()
	a.addInside(-1)
	if a.headW != nil && a.inside() < a.width && !a.mayGoFirst(clock()) {
		a.addInside(1)
		a.admitHeadLocked()
	}
	a.unlock()
}

// lend gives up a place for the duration of a host callback (see
// callbackBegin); reclaim takes it back at once, and a later leave gives it
// up again.
func (a *admission) lend() {
	a.lock()
	a.addInside(-1)
	if a.headW != nil && a.inside() < a.width {
		a.addInside(1)
		a.admitHeadLocked()
	}
	a.unlock()
}

func (a *admission) reclaim() {
	a.lock()
	a.addInside(1)
	a.unlock()
}

// watch lets waiters in while the calls inside make no progress; it ends
// when nobody waits.
func (a *admission) watch() {
	last, burst := a.left.Load(), 1
	for {
		time.Sleep(admitStall)
		a.lock()
		if a.headW == nil {
			a.watching = false
			a.unlock()
			return
		}
		now := a.left.Load()
		if now == last {
			for i := 0; i < burst && a.headW != nil; i++ {
				a.addInside(1)
				a.admitHeadLocked()
			}
			burst *= 2
		} else {
			burst = 1
		}
		last = now
		a.unlock()
	}
}

// Host callbacks in progress, by OS thread: a callback runs on the thread of
// the call that Python made it from, so a call made on a thread in this set is
// nested in a call already being run.
var (
	callbacksActive atomic.Int32
	callbackMu      sync.Mutex
	callbackThreads = map[int]int{}
)

// callbackBegin marks the calling thread as running a host callback until
// callbackEnd(the returned id).
//
// While the callback runs, the call it is nested in gives up its place in the
// main interpreter's queue (most callbacks are nested in one): Go code the
// callback hands work to, on other goroutines, gets in without waiting for
// the watchdog. The place is taken back, without queueing, when the callback
// returns. (A callback from a worker's call lends nothing of its Runtime's
// queue; calls it hands to other goroutines wait for a worker or the
// watchdog. One from a main_thread call lends nothing of the main thread's
// queue either: the main thread is busy running the callback, so a
// main_thread call handed to another goroutine could not run before it
// returns anyway.)
func callbackBegin() int {
	gilGate.lend()
	callbacksActive.Add(1)
	tid := osThreadID()
	callbackMu.Lock()
	callbackThreads[tid]++
	callbackMu.Unlock()
	return tid
}

func callbackEnd(tid int) {
	callbackMu.Lock()
	if callbackThreads[tid]--; callbackThreads[tid] <= 0 {
		delete(callbackThreads, tid)
	}
	callbackMu.Unlock()
	callbacksActive.Add(-1)
	gilGate.reclaim()
}

// inCallback reports whether the calling thread is running a host callback
// (costless while no callback runs anywhere: inlined, one atomic load).
func inCallback() bool { return callbacksActive.Load() != 0 && inCallbackThread() }

func inCallbackThread() bool {
	tid := osThreadID()
	if tid == 0 { // the platform cannot tell: treat every call as nested
		return true
	}
	callbackMu.Lock()
	n := callbackThreads[tid]
	callbackMu.Unlock()
	return n > 0
}
