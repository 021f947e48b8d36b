package pyrt

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

const iterTestCode = `
go_iter_log = []
def go_iter_numbers(n):
    try:
        for i in range(n):
            go_iter_log.append(i)
            yield i
    finally:
        go_iter_log.append('finally')
def go_iter_failing():
    yield 1
    yield 2
    raise ValueError('midway')
def go_iter_total():
    t = 0
    while True:
        x = yield t
        if x is None:
            return
        t += x
def go_iter_slow():
    yield 'fast'
    while True:  # busy: an interrupt reaches it at the next bytecode
        pass
def go_iter_five():
    return 5
`

func iterSetup(t *testing.T) {
	t.Helper()
	if err := testRT.Run(bg, iterTestCode); err != nil {
		t.Fatal(err)
	}
}

func collect(t *testing.T, seq func(func(any, error) bool)) ([]any, error) {
	t.Helper()
	var items []any
	for v, err := range seq {
		if err != nil {
			return items, err
		}
		items = append(items, v)
	}
	return items, nil
}

func TestIterItemsOfContainers(t *testing.T) {
	for expr, want := range map[string][]any{
		"[1, 'two', None, (3, 4)]": {int64(1), "two", nil, Tuple{int64(3), int64(4)}},
		"{'a': 1, 'b': 2}":         {"a", "b"},
		"range(3)":                 {int64(0), int64(1), int64(2)},
		"b'hi'":                    {int64(104), int64(105)},
	} {
		o := mustObject(t)(testRT.EvalObject(bg, expr))
		for _, batch := range []int{1, 2, 100} {
			got, err := collect(t, o.Items(bg, WithBatch(batch)))
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("%s, batch %d: %#v, %v; want %#v", expr, batch, got, err, want)
			}
		}
		o.Close()
	}
}

func TestIterBreakClosesTheGenerator(t *testing.T) {
	iterSetup(t)
	n := 0
	for v, err := range testRT.Stream(bg, "__main__", "go_iter_numbers", 1_000_000) {
		if err != nil {
			t.Fatal(err)
		}
		if v != int64(n) {
			t.Fatalf("item %d = %#v", n, v)
		}
		if n++; n == 3 {
			break
		}
	}
	// The generator's finally block ran when the loop was left, not later.
	log, err := testRT.EvalValue(bg, "go_iter_log")
	if want := []any{int64(0), int64(1), int64(2), "finally"}; err != nil || !reflect.DeepEqual(log, want) {
		t.Errorf("log = %#v, %v; want %#v", log, err, want)
	}
}

func TestIterExceptionMidway(t *testing.T) {
	iterSetup(t)
	for _, batch := range []int{1, 10} {
		items, err := collect(t, testRT.Stream(bg, "__main__", "go_iter_failing", WithBatch(batch)))
		if !reflect.DeepEqual(items, []any{int64(1), int64(2)}) {
			t.Errorf("batch %d: items %#v", batch, items)
		}
		var pe *PythonError
		if !errors.As(err, &pe) || pe.Type != "ValueError" || !strings.Contains(pe.Traceback, "go_iter_failing") {
			t.Errorf("batch %d: err = %#v", batch, err)
		}
	}
}

func TestIterSendThrowClose(t *testing.T) {
	iterSetup(t)
	gen := mustObject(t)(testRT.CallObject(bg, "__main__", "go_iter_total"))
	defer gen.Close()
	it, err := gen.Iter(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if v, ok, err := it.Next(bg); v != int64(0) || !ok || err != nil {
		t.Fatalf("Next = %v, %v, %v", v, ok, err)
	}
	if v, ok, err := it.Send(bg, 5); v != int64(5) || !ok || err != nil {
		t.Fatalf("Send(5) = %v, %v, %v", v, ok, err)
	}
	if v, ok, err := it.Send(bg, 2.5); v != 7.5 || !ok || err != nil {
		t.Fatalf("Send(2.5) = %v, %v, %v", v, ok, err)
	}
	exc := mustObject(t)(testRT.EvalObject(bg, "KeyError('boom')"))
	defer exc.Close()
	_, ok, err := it.Throw(bg, exc)
	var pe *PythonError
	if ok || !errors.As(err, &pe) || pe.Type != "KeyError" {
		t.Fatalf("Throw = %v, %v", ok, err)
	}
	if v, ok, err := it.Send(bg, 1); ok || err != nil {
		t.Fatalf("Send after the generator ended = %v, %v, %v", v, ok, err)
	}

	// A None send makes this generator return: the end, not an error.
	it2, err := gen.Iter(bg) // the same, finished generator
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := it2.Next(bg); ok || err != nil {
		t.Fatalf("Next on a finished generator = %v, %v", ok, err)
	}
	if err := it2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := it2.Close(); err != nil {
		t.Fatal("a second Close:", err)
	}
	if _, _, err := it2.Next(bg); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close = %v", err)
	}
}

func TestIterNotIterableAndNoSend(t *testing.T) {
	iterSetup(t)
	_, err := collect(t, testRT.Stream(bg, "__main__", "go_iter_five"))
	var pe *PythonError
	if !errors.As(err, &pe) || pe.Type != "TypeError" {
		t.Errorf("iterating 5: %v", err)
	}
	list := mustObject(t)(testRT.EvalObject(bg, "[1]"))
	defer list.Close()
	it, err := list.Iter(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if _, _, err := it.Send(bg, 1); !errors.As(err, &pe) || pe.Type != "TypeError" {
		t.Errorf("Send on a list iterator: %v", err)
	}
	_, err = collect(t, testRT.Stream(bg, "no_such_module_go_iter", "f"))
	if !errors.As(err, &pe) || pe.Type != "ModuleNotFoundError" {
		t.Errorf("Stream of a missing module: %v", err)
	}
}

func TestIterStepCancelledByContext(t *testing.T) {
	iterSetup(t)
	it, err := mustObject(t)(testRT.CallObject(bg, "__main__", "go_iter_slow")).Iter(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if v, _, err := it.Next(bg); v != "fast" || err != nil {
		t.Fatalf("first item %v, %v", v, err)
	}
	ctx, cancel := context.WithTimeout(bg, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err = it.Next(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrInterrupted) {
		t.Fatalf("Next past the deadline: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("cancellation took %v", d)
	}
	if _, ok, err := it.Next(bg); ok || err != nil { // interrupted: finished
		t.Fatalf("Next after the interrupt = %v, %v", ok, err)
	}
}

func TestIterSharedByGoroutines(t *testing.T) {
	o := mustObject(t)(testRT.EvalObject(bg, "(i for i in range(10000))"))
	defer o.Close()
	it, err := o.Iter(bg, WithBatch(16))
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var mu sync.Mutex
	var sum, count int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for v, err := range it.All(bg) {
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				sum += v.(int64)
				count++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if count != 10000 || sum != 49995000 {
		t.Errorf("count %d, sum %d", count, sum)
	}
}

func TestIterOutlivesItsRuntime(t *testing.T) {
	rt2, err := New()
	if err != nil {
		t.Fatal(err)
	}
	o := mustObject(t)(rt2.EvalObject(bg, "(i for i in range(5))"))
	it, err := o.Iter(bg)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := it.Next(bg); err != nil {
		t.Fatal(err)
	}
	rt2.Close()
	if _, _, err := it.Next(bg); !errors.Is(err, ErrClosed) {
		t.Errorf("Next after the runtime closed: %v", err)
	}
	if err := it.Close(); err != nil {
		t.Errorf("Close after the runtime closed: %v", err)
	}
}
