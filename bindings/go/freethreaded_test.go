package pyrt

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestFreeThreadedParallel: two goroutines call a CPU-bound pure-Python
// function (testdata/ft_stress.py) that mutates a shared dict and a shared
// list on every step, with no lock, while a third goroutine reads the same
// dict and list through object handles (whole-value conversions, len() on
// the typed path with a handle argument, new handles to items, some closed
// and some left to the cleanup). On a free-threaded build the calls run
// Python in parallel; the test checks every result and the containers'
// final contents, and that nothing crashes.
//
// It runs on every build (the same code must work with the GIL) but asserts
// only on free-threaded ones; elsewhere a difference is logged. It is a
// correctness and stress test, not a timing one: the speed-up is measured
// by `make bench` (bench/go, the "parallel" group).
func TestFreeThreadedParallel(t *testing.T) {
	info, err := testRT.Info(bg)
	if err != nil {
		t.Fatal(err)
	}
	check := t.Errorf
	if !info.FreeThreaded {
		check = func(format string, args ...any) { t.Logf("(GIL build, not asserted) "+format, args...) }
	}
	const workers, rounds, n = 2, 4, 15000

	mod := mustObject(t)(testRT.Import(bg, "ft_stress"))
	defer mod.Close()
	if _, err := mod.CallMethod(bg, "reset"); err != nil {
		t.Fatal(err)
	}
	shared := mustObject(t)(mod.AttrObject(bg, "shared"))
	defer shared.Close()
	events := mustObject(t)(mod.AttrObject(bg, "events"))
	defer events.Close()
	work := mustObject(t)(mod.AttrObject(bg, "work"))
	defer work.Close()
	length := mustObject(t)(testRT.EvalObject(bg, "len"))
	defer length.Close()

	var (
		wg      sync.WaitGroup
		results [workers][]int64
		errs    = make(chan error, workers+1)
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				var got int64
				var err error
				if w%2 == 0 {
					// By name: JSON arguments, the callable cache.
					got, err = CallT[int64](bg, testRT, "ft_stress", "work", w, n)
				} else {
					// Through a handle: the typed path.
					got, err = work.CallInt(bg, w, n)
				}
				if err != nil {
					errs <- fmt.Errorf("worker %d round %d: %w", w, r, err)
					return
				}
				results[w] = append(results[w], got)
			}
		}(w)
	}

	done := make(chan struct{})
	var reads int
	var readerWG sync.WaitGroup
	readerWG.Add(1)
	go func() {
		defer readerWG.Done()
		fail := func(err error) { errs <- fmt.Errorf("reader, read %d: %w", reads, err) }
		for {
			select {
			case <-done:
				return
			default:
			}
			reads++
			// The dict as a whole (a snapshot on a free-threaded build).
			v, err := shared.Value(bg)
			if err != nil {
				fail(err)
				return
			}
			m, ok := v.(map[string]any)
			if !ok {
				fail(fmt.Errorf("shared converted to %T", v))
				return
			}
			for k, x := range m {
				if !strings.HasPrefix(k, "w") {
					fail(fmt.Errorf("shared has key %q", k))
					return
				}
				if c, ok := x.(int64); (!ok || c <= 0) && !strings.HasSuffix(k, ":tmp") {
					fail(fmt.Errorf("shared[%q] = %#v", k, x))
					return
				}
			}
			// The list item by item while it grows and shrinks.
			v, err = events.Value(bg)
			if err != nil {
				fail(err)
				return
			}
			l, ok := v.([]any)
			if !ok {
				fail(fmt.Errorf("events converted to %T", v))
				return
			}
			for i, x := range l {
				if c, ok := x.(int64); !ok || c <= -n || c >= n {
					fail(fmt.Errorf("events[%d] = %#v", i, x))
					return
				}
			}
			// len(events): the typed path with a handle argument.
			if k, err := length.CallInt(bg, events); err != nil || k < 0 {
				fail(fmt.Errorf("len(events) = %d, %v", k, err))
				return
			}
			// New handles to values, closed or left to the cleanup.
			item, err := shared.CallMethodObject(bg, "get", "w0:1")
			if err != nil {
				fail(err)
				return
			}
			if reads%2 == 0 {
				item.Close()
			}
			if tmp, err := shared.CallMethod(bg, "get", "w1:tmp"); err != nil {
				fail(err)
				return
			} else if tmp != nil {
				if p, ok := tmp.([]any); !ok || len(p) != 2 || fmt.Sprint(p[0]) != p[1] {
					fail(fmt.Errorf("shared[w1:tmp] = %#v", tmp))
					return
				}
			}
		}
	}()

	wg.Wait()
	close(done)
	readerWG.Wait()
	close(errs)
	for err := range errs {
		check("%v", err)
	}
	for w := 0; w < workers; w++ {
		want, err := CallT[int64](bg, testRT, "ft_stress", "expected", w, n)
		if err != nil {
			t.Fatal(err)
		}
		if len(results[w]) != rounds {
			check("worker %d finished %d of %d rounds", w, len(results[w]), rounds)
		}
		for r, got := range results[w] {
			if got != want {
				check("worker %d round %d: work() = %d, want %d", w, r, got, want)
			}
		}
	}
	problems, err := CallT[[]string](bg, testRT, "ft_stress", "check", workers, rounds, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		check("after the calls: %s", p)
	}
	overlaps, _ := mod.Attr(bg, "overlaps")
	gil, _ := testRT.Call(bg, "ft_stress", "gil_enabled")
	t.Logf("free-threaded=%v GIL enabled=%v: %d reads during the calls; steps that saw both workers running: %v",
		info.FreeThreaded, gil, reads, overlaps)
}
