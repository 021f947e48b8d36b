package pyrt

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSoak: PYRT_SOAK_GOROUTINES goroutines (default 64) each make PYRT_SOAK_CALLS calls
// (default 50 in the regular suite, which runs it per version and mode; scripts/soak.sh runs
// 200,000), cycling through ten kinds — successes,
// Python exceptions, conversion errors, invalid JSON, object handles created and closed (or
// dropped for the garbage collector's cleanups), handles as arguments, typed calls on a shared
// handle, Run + Eval, tagged round trips and SystemExit — and check every result. With at
// least 2,000 calls per goroutine, VmRSS after the warm-up (10% of the calls) must grow less
// than PYRT_SOAK_RSS_BOUND_MB (default 64 MiB) by the end.
func TestSoak(t *testing.T) {
	goroutines := envInt("PYRT_SOAK_GOROUTINES", 64)
	calls := envInt("PYRT_SOAK_CALLS", 50)
	boundMiB := envInt("PYRT_SOAK_RSS_BOUND_MB", 64)
	rt := testRT
	err := rt.Run(bg, `
def soak_add(a, b):
    return a + b
def soak_fail(n):
    raise KeyError(f'fail {n}')
class SoakBox:
    def __init__(self, v):
        self.v = v
    def next(self):
        return self.v + 1
def soak_object():
    return SoakBox(0)
def soak_value_of(box):
    return box.v
def soak_echo(x):
    return x
`)
	if err != nil {
		t.Fatal(err)
	}
	add, err := rt.EvalObject(bg, "soak_add")
	if err != nil {
		t.Fatal(err)
	}
	defer add.Close()

	var warm sync.WaitGroup
	warm.Add(goroutines)
	var wg sync.WaitGroup
	var failures atomic.Int64
	var firstMu sync.Mutex
	first := ""
	fail := func(g, i int, what string, detail any) {
		if failures.Add(1) == 1 {
			firstMu.Lock()
			first = fmt.Sprintf("goroutine %d call %d (%s): %v", g, i, what, detail)
			firstMu.Unlock()
		}
	}
	start := time.Now()
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			warmAt := calls / 10
			for i := 0; i < calls; i++ {
				if i == warmAt {
					warm.Done()
				}
				soakOne(rt, add, g, i, fail)
			}
			if warmAt >= calls {
				warm.Done()
			}
		}(g)
	}
	warm.Wait()
	rss0 := vmRSSKiB()
	wg.Wait()
	elapsed := time.Since(start)
	runtime.GC()
	if err := rt.Run(bg, "import gc; gc.collect()"); err != nil {
		t.Fatal(err)
	}
	rss1 := vmRSSKiB()
	total := goroutines * calls
	t.Logf("%d calls in %v (%.0f calls/s), %d failed; VmRSS after warm-up %d KiB, at the end %d KiB (%+d KiB, bound %d MiB%s)",
		total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), failures.Load(), rss0, rss1, rss1-rss0, boundMiB,
		map[bool]string{true: "", false: ", not judged below 2,000 calls per goroutine"}[calls >= 2000])
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d of %d calls failed; first: %s", n, total, first)
	}
	if calls >= 2000 && rss0 > 0 && rss1-rss0 > int64(boundMiB)*1024 {
		t.Fatalf("VmRSS grew by %d KiB after the warm-up (bound %d MiB)", rss1-rss0, boundMiB)
	}
}

func soakOne(rt *Runtime, add *Object, g, i int, fail func(g, i int, what string, detail any)) {
	switch (i + g) % 10 {
	case 0:
		v, err := rt.Call(bg, "__main__", "soak_add", i, g)
		if err != nil || v != int64(i+g) {
			fail(g, i, "soak_add", fmt.Sprint(v, err))
		}
	case 1:
		_, err := rt.Call(bg, "__main__", "soak_fail", i)
		var pe *PythonError
		if !errors.As(err, &pe) || pe.Type != "KeyError" || !strings.Contains(pe.Message, "fail "+strconv.Itoa(i)) || pe.Traceback == "" {
			fail(g, i, "soak_fail", err)
		}
	case 2:
		_, err := rt.Call(bg, "__main__", "soak_object")
		if !errors.Is(err, ErrConversion) || !strings.Contains(err.Error(), "SoakBox") {
			fail(g, i, "soak_object", err)
		}
	case 3:
		_, err := rt.CallJSON(bg, "__main__", "soak_add", "[1, ", "")
		if !errors.Is(err, ErrInvalidJSON) {
			fail(g, i, "invalid JSON", err)
		}
	case 4:
		o, err := rt.CallObject(bg, "__main__", "SoakBox", i)
		if err != nil {
			fail(g, i, "SoakBox()", err)
			return
		}
		v, err := o.CallMethod(bg, "next")
		if err != nil || v != int64(i+1) {
			fail(g, i, "SoakBox.next", fmt.Sprint(v, err))
		}
		if i%4 != 0 {
			o.Close()
		} // else: dropped; the garbage collector's cleanup releases it
	case 5:
		o, err := rt.CallObject(bg, "__main__", "SoakBox", i)
		if err != nil {
			fail(g, i, "SoakBox()", err)
			return
		}
		v, err := rt.CallValue(bg, "__main__", "soak_value_of", o)
		if err != nil || v != int64(i) {
			fail(g, i, "soak_value_of", fmt.Sprint(v, err))
		}
		o.Close()
	case 6:
		v, err := add.CallInt(bg, i, g)
		if err != nil || v != int64(i+g) {
			fail(g, i, "typed soak_add", fmt.Sprint(v, err))
		}
	case 7:
		if err := rt.Run(bg, fmt.Sprintf("soak_g%d = %d * 2", g, i)); err != nil {
			fail(g, i, "Run", err)
			return
		}
		v, err := rt.Eval(bg, fmt.Sprintf("soak_g%d", g))
		if err != nil || v != int64(2*i) {
			fail(g, i, "Eval", fmt.Sprint(v, err))
		}
	case 8:
		v, err := rt.CallValue(bg, "__main__", "soak_echo", Tuple{int64(i), []byte{0, 255}, "s"})
		tup, ok := v.(Tuple)
		if err != nil || !ok || len(tup) != 3 || tup[0] != int64(i) || !bytes.Equal(tup[1].([]byte), []byte{0, 255}) || tup[2] != "s" {
			fail(g, i, "tagged echo", fmt.Sprint(v, err))
		}
	default:
		err := rt.Run(bg, "raise SystemExit(5)")
		if !errors.Is(err, ErrSystemExit) {
			fail(g, i, "SystemExit", err)
		}
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// vmRSSKiB reads VmRSS from /proc/self/status (0 where there is none).
func vmRSSKiB() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(line, "VmRSS:"), "kB")), 10, 64)
			return n
		}
	}
	return 0
}
