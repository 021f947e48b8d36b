package pyrt

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The admission queue (admission.go, and libpyrt's own for threads): a
// goroutine calling in a loop does not keep a newcomer out, calls whose
// Python releases the GIL still overlap, and calls nested in host callbacks
// never wait for themselves. No timing is asserted except where the
// alternative differs several times over (serialized sleeps).

func gilEnabled(t *testing.T) bool {
	v, err := testRT.Eval(bg, "getattr(__import__('sys'), '_is_gil_enabled', lambda: True)()")
	if err != nil {
		t.Fatal(err)
	}
	return v == true
}

func TestAdmissionNewcomerNotStarved(t *testing.T) {
	if !gilEnabled(t) {
		t.Skip("free-threaded: the goroutines run Python at once; there is no turn to take")
	}
	if err := testRT.Run(bg, "adm_loop_calls = 0\ndef adm_loop_call():\n    global adm_loop_calls\n    adm_loop_calls += 1\n"); err != nil {
		t.Fatal(err)
	}
	// On a loaded machine a running caller may go before a head whose thread
	// is not running (for up to 2 ms): measured here is the order itself.
	gilGate.mu.Lock()
	gilGate.strict = true
	gilGate.mu.Unlock()
	defer func() {
		gilGate.mu.Lock()
		gilGate.strict = false
		gilGate.mu.Unlock()
	}()
	var done atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := testRT.Call(bg, "__main__", "adm_loop_call"); err != nil {
				t.Error(err)
				return
			}
			done.Add(1)
		}
	}()
	for done.Load() < 100 {
		time.Sleep(time.Millisecond)
	}
	// Counted from when the newcomer joins the queue: before that it may be
	// held up by the OS or, in the stress run, by the garbage collector.
	var before atomic.Int64
	var armed atomic.Bool
	hook := func() {
		if armed.CompareAndSwap(true, false) {
			before.Store(done.Load())
		}
	}
	queuedHook.Store(&hook)
	defer queuedHook.Store(nil)
	var overtaken []int64
	for range 7 {
		time.Sleep(10 * time.Millisecond)
		before.Store(done.Load())
		armed.Store(true)
		v, err := testRT.Eval(bg, "adm_loop_calls")
		armed.Store(false)
		if err != nil {
			t.Fatal(err)
		}
		overtaken = append(overtaken, v.(int64)-before.Load())
	}
	close(stop)
	wg.Wait()
	// The median: one newcomer in seven may still be unlucky.
	sorted := slices.Clone(overtaken)
	slices.Sort(sorted)
	if sorted[len(sorted)/2] > 10 {
		t.Fatalf("calls of the looping goroutine that went ahead of a newcomer: %v", overtaken)
	}
}

func TestAdmissionSleepsOverlap(t *testing.T) {
	// 16 goroutines each sleeping 100 ms in Python: about 100 ms in all when
	// they overlap, 1.6 s if the queue serialized them.
	start := time.Now()
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := testRT.Run(bg, "__import__('time').sleep(0.1)"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if took := time.Since(start); took > 800*time.Millisecond {
		t.Fatalf("16 sleeps of 100 ms took %v: not overlapping", took)
	}
}

func TestAdmissionNestedCallbacks(t *testing.T) {
	err := testRT.Register("adm_host", "nested", func(ctx context.Context, args []any, kw map[string]any) (any, error) {
		return testRT.Eval(ctx, args[0].(string))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := testRT.Register("adm_host", "elsewhere", func(ctx context.Context, args []any, kw map[string]any) (any, error) {
		// Hand the nested call to another goroutine and wait for it.
		ch := make(chan any, 1)
		go func() {
			v, err := testRT.Eval(ctx, args[0].(string))
			if err != nil {
				v = err
			}
			ch <- v
		}()
		v := <-ch
		if err, ok := v.(error); ok {
			return nil, err
		}
		return v, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := testRT.Run(bg, "import adm_host\ndef adm_spin(n):\n    s = 0\n    for i in range(n):\n        s += i\n    return s\n"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bg, 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 100 {
				var expr string
				switch (g + k) % 3 {
				case 0:
					expr = "adm_host.nested('adm_spin(200)')"
				case 1:
					expr = "adm_host.elsewhere(\"adm_host.nested('adm_spin(200)')\")"
				default:
					expr = "adm_spin(200)"
				}
				v, err := testRT.Eval(ctx, expr)
				if err != nil || v != int64(19900) {
					t.Errorf("%s = %v, %v", expr, v, err)
					return
				}
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(2 * time.Minute):
		panic(fmt.Sprintf("nested calls from 8 goroutines did not finish: a deadlock"))
	}
}

// WithMainThread runtimes queue their calls apart from the default runtime's,
// all in one queue, two at a time: one running on Python's main thread and
// the next waiting there behind it, so that the thread goes from one call to
// the next without a wake-up. (One at a time, as on the default runtime, every call waited for
// two wake-ups: measured, 2 goroutines got a tenth of one's throughput.)
func TestAdmissionMainThreadQueuesTwo(t *testing.T) {
	main, err := New(WithMainThread())
	if err != nil {
		t.Fatal(err)
	}
	defer main.Close()
	other, err := New(WithMainThread())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	// One queue for every such runtime: they share the one main thread.
	if main.gate != &mainThreadGate || other.gate != &mainThreadGate || mainThreadGate.width != 2 {
		t.Fatalf("main_thread runtimes' queues: %p and %p, want mainThreadGate (%p) of width 2", main.gate, other.gate, &mainThreadGate)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		rt := main
		if g%2 == 1 {
			rt = other
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				v, err := rt.Eval(bg, "__import__('threading').current_thread() is __import__('threading').main_thread()")
				if err != nil || v != true {
					t.Errorf("a main_thread call: %v, %v; want it on the main thread", v, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// While a main_thread call runs long, the calls behind it wait in Go: they
// could not overlap it on the one main thread, so no watchdog lets them into
// libpyrt (where each would block an OS thread).
func TestAdmissionMainThreadLongCallKeepsOthersParked(t *testing.T) {
	main, err := New(WithMainThread())
	if err != nil {
		t.Fatal(err)
	}
	defer main.Close()
	started := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		close(started)
		if err := main.Run(bg, "__import__('time').sleep(0.2)"); err != nil {
			t.Error(err)
		}
	}()
	<-started
	time.Sleep(20 * time.Millisecond)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := main.Eval(bg, "1"); err != nil {
				t.Error(err)
			}
		}()
	}
	// 1 ms without a call coming out made the watchdog let in 1, 2, 4, …
	// more: by now all 8 would be inside.
	time.Sleep(60 * time.Millisecond)
	if in := insideOf(mainThreadGate.state.Load()); in > mainThreadWidth {
		t.Errorf("%d main_thread calls inside libpyrt at once, want at most %d", in, mainThreadWidth)
	}
	wg.Wait()
}
