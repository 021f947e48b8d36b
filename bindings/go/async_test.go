package pyrt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

const asyncTestCode = `
import asyncio
go_async_log = []
async def go_async_add(a, b=0):
    await asyncio.sleep(0.001)
    return a + b
async def go_async_boom():
    await asyncio.sleep(0)
    raise ValueError('async boom')
async def go_async_pair():
    return (1, b'x', {2, 3})
async def go_async_nap():
    await asyncio.sleep(0.05)
    return 1
async def go_async_forever():
    try:
        await asyncio.sleep(3600)
    finally:
        await asyncio.sleep(0.01)
        go_async_log.append('cleaned up')
async def go_async_ticks(n):
    try:
        for i in range(n):
            await asyncio.sleep(0.001)
            yield i
    finally:
        go_async_log.append('agen closed')
go_async_servers = []
async def go_async_handle(reader, writer):
    line = (await reader.readline()).decode().strip()
    writer.write(('200 ' + line.upper() + '\n').encode())
    await writer.drain()
    writer.close()
async def go_async_listen():
    server = await asyncio.start_server(go_async_handle, '127.0.0.1', 0)
    go_async_servers.append(server)
    return server.sockets[0].getsockname()[1]
async def go_async_fetch(port, path):
    reader, writer = await asyncio.open_connection('127.0.0.1', port)
    writer.write(('GET ' + path + '\n').encode())
    await writer.drain()
    reply = (await reader.readline()).decode().strip()
    writer.close()
    return reply
`

func asyncSetup(t *testing.T) {
	t.Helper()
	if err := testRT.Run(bg, asyncTestCode); err != nil {
		t.Fatal(err)
	}
}

func TestAsyncResultsAndErrors(t *testing.T) {
	asyncSetup(t)
	fut, err := testRT.CallAsync(bg, "__main__", "go_async_add", 40, 2)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := fut.Wait(bg); v != int64(42) || err != nil {
		t.Fatalf("Wait = %#v, %v", v, err)
	}
	fut, err = testRT.CallAsyncKw(bg, "__main__", "go_async_add", []any{1}, map[string]any{"b": 2.5})
	if err != nil {
		t.Fatal(err)
	}
	<-fut.Done()
	if v, err := fut.Result(); v != 3.5 || err != nil {
		t.Fatalf("Result = %#v, %v", v, err)
	}

	fut, err = testRT.CallAsync(bg, "__main__", "go_async_boom")
	if err != nil {
		t.Fatal(err)
	}
	_, err = fut.Wait(bg)
	var pe *PythonError
	if !errors.As(err, &pe) || pe.Type != "ValueError" || pe.Message != "async boom" || !strings.Contains(pe.Traceback, "go_async_boom") {
		t.Fatalf("Wait = %#v", err)
	}

	// The tagged encoding: a tuple, bytes, a set.
	fut, _ = testRT.CallAsync(bg, "__main__", "go_async_pair")
	v, err := fut.Wait(bg)
	if want := (Tuple{int64(1), []byte("x"), Set{int64(2), int64(3)}}); err != nil || !reflect.DeepEqual(v, want) {
		t.Errorf("pair = %#v, %v; want %#v", v, err, want)
	}

	// Not awaitable: an error from CallAsync itself.
	if _, err := testRT.CallAsync(bg, "builtins", "len", []any{1, 2}); !errors.As(err, &pe) || pe.Type != "TypeError" {
		t.Errorf("CallAsync(len) = %v", err)
	}
	if _, err := testRT.CallAsync(bg, "no_such_module_go_async", "f"); !errors.As(err, &pe) || pe.Type != "ModuleNotFoundError" {
		t.Errorf("CallAsync(missing module) = %v", err)
	}

	// An awaitable object, awaited once.
	coro := mustObject(t)(testRT.CallObject(bg, "__main__", "go_async_add", 20, 22))
	defer coro.Close()
	fut, err = coro.Await(bg)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := fut.Wait(bg); v != int64(42) || err != nil {
		t.Fatalf("Await = %#v, %v", v, err)
	}
	fut, err = coro.Await(bg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fut.Wait(bg); !errors.As(err, &pe) || pe.Type != "RuntimeError" {
		t.Errorf("awaiting a coroutine twice = %v", err)
	}
	fut, _ = testRT.CallAsync(bg, "__main__", "go_async_nap")
	if _, err := fut.Result(); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Result before Done = %v", err)
	}
	fut.Wait(bg)
}

func TestAsyncCancellation(t *testing.T) {
	asyncSetup(t)
	// Wait's context: cancels the task, waits for its cleanup.
	fut, err := testRT.CallAsync(bg, "__main__", "go_async_forever")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel()
	_, err = fut.Wait(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrInterrupted) {
		t.Fatalf("Wait past the deadline = %v", err)
	}
	if log, _ := testRT.EvalValue(bg, "go_async_log"); !reflect.DeepEqual(log, []any{"cleaned up"}) {
		t.Errorf("log = %#v: the cleanup had not run when Wait returned", log)
	}

	// CallAsync's context cancels the task too, with nobody waiting.
	testRT.Run(bg, "go_async_log.clear()")
	cctx, ccancel := context.WithCancel(bg)
	fut, err = testRT.CallAsync(cctx, "__main__", "go_async_forever")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	ccancel()
	select {
	case <-fut.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the task was not cancelled")
	}
	if _, err := fut.Result(); !errors.Is(err, context.Canceled) || !errors.Is(err, ErrInterrupted) {
		t.Errorf("Result = %v", err)
	}
	// Cancel, directly.
	fut, _ = testRT.CallAsync(bg, "__main__", "go_async_forever")
	fut.Cancel()
	if _, err := fut.Wait(bg); !errors.Is(err, ErrInterrupted) {
		t.Errorf("after Cancel: %v", err)
	}
	fut.Cancel() // done already: nothing happens
}

// Ten thousand awaits of asyncio.sleep(0.05) in flight at once: well under a
// second, without a goroutine blocked in C (or an OS thread) per await.
func TestAsyncTenThousand(t *testing.T) {
	asyncSetup(t)
	const n = 10000
	start := time.Now()
	futs := make([]*Future, n)
	for i := range futs {
		var err error
		if futs[i], err = testRT.CallAsync(bg, "__main__", "go_async_nap"); err != nil {
			t.Fatal(err)
		}
	}
	threads := osThreads()
	for i, f := range futs {
		if v, err := f.Wait(bg); v != int64(1) || err != nil {
			t.Fatalf("task %d: %v, %v", i, v, err)
		}
	}
	took := time.Since(start)
	t.Logf("%d awaits: %v wall, %d OS threads while in flight", n, took, threads)
	if took > 20*time.Second {
		t.Errorf("%d awaits took %v", n, took)
	}
}

func osThreads() int {
	entries, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return -1
	}
	return len(entries)
}

func TestAsyncClientServerAndGenerators(t *testing.T) {
	asyncSetup(t)
	fut, _ := testRT.CallAsync(bg, "__main__", "go_async_listen")
	port, err := fut.Wait(bg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, path := range []string{"/a", "/b", "/c"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := testRT.CallAsync(bg, "__main__", "go_async_fetch", port, path)
			if err != nil {
				t.Error(err)
				return
			}
			if v, err := f.Wait(bg); err != nil || v != "200 GET "+strings.ToUpper(path) {
				t.Errorf("fetch %s = %v, %v", path, v, err)
			}
		}()
	}
	wg.Wait()

	// An async generator streams like a generator; break closes it (aclose).
	testRT.Run(bg, "go_async_log.clear()")
	var got []any
	for v, err := range testRT.Stream(bg, "__main__", "go_async_ticks", 1000) {
		if err != nil {
			t.Fatal(err)
		}
		if got = append(got, v); len(got) == 3 {
			break
		}
	}
	if !reflect.DeepEqual(got, []any{int64(0), int64(1), int64(2)}) {
		t.Errorf("ticks = %#v", got)
	}
	if log, _ := testRT.EvalValue(bg, "go_async_log"); !reflect.DeepEqual(log, []any{"agen closed"}) {
		t.Errorf("log = %#v", log)
	}
}

func TestAsyncRuntimeClosedFirst(t *testing.T) {
	asyncSetup(t)
	rt2, err := New()
	if err != nil {
		t.Fatal(err)
	}
	fut, err := rt2.CallAsync(bg, "__main__", "go_async_forever")
	if err != nil {
		t.Fatal(err)
	}
	rt2.Close()
	select {
	case <-fut.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("closing the runtime left the future pending")
	}
	if _, err := fut.Result(); !errors.Is(err, ErrClosed) {
		t.Errorf("Result = %v", err)
	}
}

func ExampleRuntime_CallAsync() {
	ctx := context.Background()
	rt, err := New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rt.Close()
	rt.Run(ctx, "import asyncio\nasync def slow_square(x):\n    await asyncio.sleep(0.01)\n    return x * x\n")
	var futs []*Future
	for i := 1; i <= 3; i++ {
		f, err := rt.CallAsync(ctx, "__main__", "slow_square", i)
		if err != nil {
			fmt.Println(err)
			return
		}
		futs = append(futs, f)
	}
	for _, f := range futs {
		v, err := f.Wait(ctx)
		fmt.Println(v, err)
	}
	// Output:
	// 1 <nil>
	// 4 <nil>
	// 9 <nil>
}

// An exception in a callback on the loop (not in a task) is logged by
// asyncio (to stderr: the traceback in the test's output is expected); the
// loop, and later tasks, go on.
func TestAsyncExceptionInLoopCallback(t *testing.T) {
	asyncSetup(t)
	if err := testRT.Run(bg, `
async def go_async_schedule_failure():
    asyncio.get_running_loop().call_soon(lambda: 1 / 0)
    await asyncio.sleep(0.01)
    return 'still here'
`); err != nil {
		t.Fatal(err)
	}
	fut, err := testRT.CallAsync(bg, "__main__", "go_async_schedule_failure")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := fut.Wait(bg); v != "still here" || err != nil {
		t.Fatalf("Wait = %v, %v", v, err)
	}
	fut, _ = testRT.CallAsync(bg, "__main__", "go_async_add", 2, 3)
	if v, err := fut.Wait(bg); v != int64(5) || err != nil {
		t.Fatalf("a later task: %v, %v", v, err)
	}
}
