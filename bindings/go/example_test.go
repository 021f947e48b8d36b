package pyrt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"strings"
	"sync"
	"time"

	pyrt "github.com/pyrt-dev/pyrt/bindings/go"
)

func Example() {
	rt, err := pyrt.New() // libpython: $PYRT_LIBPYTHON, else python3 on PATH
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()

	ctx := context.Background()
	v, err := rt.Call(ctx, "math", "sqrt", 16.0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%v %T\n", v, v)
	// Output: 4 float64
}

// The options of the first New in a process decide how Python starts;
// later calls must agree with them (or pass none) or they fail with
// ErrLibpythonConflict. (Not run: the test binary's interpreter is already
// started.)
func ExampleNew() {
	rt, err := pyrt.New(
		pyrt.WithLibpython("/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0"),
		pyrt.WithArgv("myprog", "--verbose"),
	)
	if errors.Is(err, pyrt.ErrLibraryNotFound) {
		log.Fatal("build libpyrt or set PYRT_LIBRARY: ", err)
	}
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	argv, _ := rt.Eval(context.Background(), "__import__('sys').argv")
	fmt.Println(argv) // [myprog --verbose]
}

func ExampleRuntime_Run() {
	rt, err := pyrt.New()
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	ctx := context.Background()

	err = rt.Run(ctx, `
def greet(name):
    return f"Hello, {name}!"
`)
	if err != nil {
		log.Fatal(err)
	}
	// Functions defined by Run live in __main__.
	s, _ := rt.Call(ctx, "__main__", "greet", "Gopher")
	fmt.Println(s)
	// Output: Hello, Gopher!
}

func ExampleRuntime_Eval() {
	rt, err := pyrt.New()
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	ctx := context.Background()

	for _, expr := range []string{"2 + 2", "4.0", "2**100", "[1, 'a', None]", "{'k': (1, 2)}"} {
		v, err := rt.Eval(ctx, expr)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%-16s -> %T %v\n", expr, v, v)
	}
	// Output:
	// 2 + 2            -> int64 4
	// 4.0              -> float64 4
	// 2**100           -> *big.Int 1267650600228229401496703205376
	// [1, 'a', None]   -> []interface {} [1 a <nil>]
	// {'k': (1, 2)}    -> map[string]interface {} map[k:[1 2]]
}

func ExampleRuntime_CallKw() {
	rt, err := pyrt.New()
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()

	v, err := rt.CallKw(context.Background(), "builtins", "sorted",
		[]any{[]int{3, 1, 2}}, map[string]any{"reverse": true})
	fmt.Println(v, err)
	// Output: [3 2 1] <nil>
}

func ExampleRuntime_CallInto() {
	rt, err := pyrt.New()
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()

	var user struct {
		Name  string   `json:"name"`
		Langs []string `json:"langs"`
	}
	err = rt.CallInto(context.Background(), &user, "json", "loads", `{"name": "Ada", "langs": ["go", "python"]}`)
	fmt.Printf("%+v %v\n", user, err)
	// Output: {Name:Ada Langs:[go python]} <nil>
}

func ExampleCallT() {
	rt, err := pyrt.New()
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()

	n, err := pyrt.CallT[int](context.Background(), rt, "builtins", "len", "hello")
	fmt.Println(n, err)
	// Output: 5 <nil>
}

func ExamplePythonError() {
	rt, err := pyrt.New()
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()

	_, err = rt.Call(context.Background(), "builtins", "int", "not a number")
	var pe *pyrt.PythonError
	if errors.As(err, &pe) {
		fmt.Println(pe.Type)
		fmt.Println(pe.Message)
	}
	fmt.Println(errors.Is(err, pyrt.ErrPython))

	// SystemExit is an error too: the Go process keeps running.
	err = rt.Run(context.Background(), "import sys; sys.exit(3)")
	fmt.Println(errors.Is(err, pyrt.ErrSystemExit))
	// Output:
	// ValueError
	// invalid literal for int() with base 10: 'not a number'
	// true
	// true
}

func ExampleRuntime_Call_concurrent() {
	rt, err := pyrt.New()
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()

	// Any goroutine may call; no runtime.LockOSThread, no GIL handling.
	results := make([]any, 8)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _ = rt.Call(context.Background(), "math", "factorial", i)
		}()
	}
	wg.Wait()
	fmt.Println(results)
	// Output: [1 1 2 6 24 120 720 5040]
}

func ExampleRuntime_Close() {
	rt, err := pyrt.New()
	if err != nil {
		log.Fatal(err)
	}
	rt.Close()
	fmt.Println(rt.Close()) // idempotent
	_, err = rt.Eval(context.Background(), "1")
	fmt.Println(errors.Is(err, pyrt.ErrClosed))
	// Output:
	// <nil>
	// true
}

// Go functions can be called from Python: here a jinja2-style filter, used
// from a Python loop.
func ExampleRuntime_Register() {
	rt, err := pyrt.New()
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	ctx := context.Background()
	err = rt.Register("hostapi", "shout", func(ctx context.Context, args []any, kwargs map[string]any) (any, error) {
		s, _ := args[0].(string)
		return strings.ToUpper(s) + "!", nil
	})
	if err != nil {
		log.Fatal(err)
	}
	v, err := rt.Eval(ctx, "[__import__('hostapi').shout(w) for w in ('hello', 'go')]")
	fmt.Println(v, err)
	// Output: [HELLO! GO!] <nil>
}

// A typed Go function: its argument is converted to In with Assign.
func ExampleRegisterFunc() {
	rt, err := pyrt.New()
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	type point struct{ X, Y float64 }
	pyrt.RegisterFunc(rt, "geometry", "norm1", func(ctx context.Context, p point) (float64, error) {
		return p.X + p.Y, nil
	})
	v, err := rt.Eval(context.Background(), "__import__('geometry').norm1(X=1.5, Y=2)")
	fmt.Println(v, err)
	// Output: 3.5 <nil>
}

// Cancelling the context (here: its deadline) interrupts Python code that
// would otherwise never return; the Runtime stays usable.
func ExampleRuntime_Run_deadline() {
	rt, err := pyrt.New()
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = rt.Run(ctx, "while True:\n    pass")
	fmt.Println(errors.Is(err, context.DeadlineExceeded), errors.Is(err, pyrt.ErrInterrupted))
	v, _ := rt.Eval(context.Background(), "1 + 1")
	fmt.Println(v)
	// Output:
	// true true
	// 2
}

// CaptureOutput collects what a call prints.
func ExampleCaptureOutput() {
	rt, err := pyrt.New()
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	var out bytes.Buffer
	ctx := pyrt.CaptureOutput(context.Background(), &out, nil)
	if err := rt.Run(ctx, "for i in range(3):\n    print('line', i)"); err != nil {
		log.Fatal(err)
	}
	fmt.Print(out.String())
	// Output:
	// line 0
	// line 1
	// line 2
}

// Objects stay alive across calls; their methods are called by name.
func ExampleObject() {
	rt, err := pyrt.New()
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	ctx := context.Background()
	counter, err := rt.CallObject(ctx, "collections", "Counter")
	if err != nil {
		log.Fatal(err)
	}
	defer counter.Close()
	for _, word := range []string{"a", "b", "a", "c", "a"} {
		if _, err := counter.CallMethod(ctx, "update", []any{word}); err != nil {
			log.Fatal(err)
		}
	}
	top, err := counter.CallMethod(ctx, "most_common", 2)
	fmt.Printf("%v %v\n", top, err)
	// Output: [[a 3] [b 1]] <nil>
}

// The typed fast path: scalar arguments and a float64 result, no JSON.
func ExampleObject_CallFloat() {
	rt, err := pyrt.New()
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	ctx := context.Background()
	hypot, err := rt.EvalObject(ctx, "__import__('math').hypot")
	if err != nil {
		log.Fatal(err)
	}
	defer hypot.Close()
	v, err := hypot.CallFloat(ctx, 3.0, 4)
	fmt.Println(v, err)
	// Output: 5 <nil>
}

// A Runtime made with WithMainThread runs its calls on Python's main thread,
// where signal handlers work as in a script.
func ExampleWithMainThread() {
	rt, err := pyrt.New(pyrt.WithMainThread())
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	v, err := rt.Eval(context.Background(), "__import__('threading').current_thread().name")
	fmt.Println(v, err)
	// Output: MainThread <nil>
}

// WithWorkers runs calls in sub-interpreters with their own GIL (Python
// 3.12+; below, in the main interpreter), so CPU-bound Python code called
// from several goroutines runs in parallel.
func ExampleWithWorkers() {
	rt, err := pyrt.New(pyrt.WithWorkers(2), pyrt.WithWorkerSetup("def square(x):\n    return x * x\n"))
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	var wg sync.WaitGroup
	results := make([]any, 4)
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i], _ = rt.Call(context.Background(), "__main__", "square", i)
		}(i)
	}
	wg.Wait()
	fmt.Println(results)
	// Output: [0 1 4 9]
}

// Stream ranges over what a Python generator yields, one row at a time, as
// the generator produces them; leaving the loop early closes the generator
// (its finally block runs before the loop statement ends).
func ExampleRuntime_Stream() {
	rt, err := pyrt.New()
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	ctx := context.Background()
	rt.Run(ctx, `
events = []
def rows(n):
    try:
        for i in range(n):
            yield {"id": i, "name": f"row {i}"}
    finally:
        events.append("generator closed")
`)
	for row, err := range rt.Stream(ctx, "__main__", "rows", 1_000_000) {
		if err != nil {
			log.Fatal(err)
		}
		r := row.(map[string]any)
		fmt.Println(r["id"], r["name"])
		if r["id"] == int64(2) {
			break
		}
	}
	events, _ := rt.EvalValue(ctx, "events")
	fmt.Println(events)
	// Output:
	// 0 row 0
	// 1 row 1
	// 2 row 2
	// [generator closed]
}

// An async client written in Python, awaited from Go: the coroutines run on
// pyrt's event loop, concurrently, with no goroutine or thread blocked per
// request. (The test serves the requests itself, with asyncio on
// 127.0.0.1.)
func ExampleRuntime_CallAsync_client() {
	rt, err := pyrt.New()
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	ctx := context.Background()
	rt.Run(ctx, `
import asyncio

async def handle(reader, writer):
    path = (await reader.readline()).decode().split()[1]
    writer.write(f"200 hello from {path}\n".encode())
    await writer.drain()
    writer.close()

server = None
async def serve():
    global server
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server.sockets[0].getsockname()[1]

async def get(port, path):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path}\n".encode())
    await writer.drain()
    reply = (await reader.readline()).decode().strip()
    writer.close()
    return reply
`)
	fut, err := rt.CallAsync(ctx, "__main__", "serve")
	if err != nil {
		log.Fatal(err)
	}
	port, err := fut.Wait(ctx)
	if err != nil {
		log.Fatal(err)
	}
	var futs []*pyrt.Future
	for _, path := range []string{"/a", "/b", "/c"} {
		f, err := rt.CallAsync(ctx, "__main__", "get", port, path)
		if err != nil {
			log.Fatal(err)
		}
		futs = append(futs, f)
	}
	for _, f := range futs {
		reply, err := f.Wait(ctx)
		fmt.Println(reply, err)
	}
	// Output:
	// 200 hello from /a <nil>
	// 200 hello from /b <nil>
	// 200 hello from /c <nil>
}

// Cancelling the context cancels the coroutine: Python sees CancelledError
// where it awaits, its cleanup runs, and then Wait returns.
func ExampleFuture_Wait_cancel() {
	rt, err := pyrt.New()
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	rt.Run(context.Background(), `
import asyncio
events = []
async def slow():
    try:
        await asyncio.sleep(3600)
    finally:
        events.append("cleaned up")
`)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	fut, err := rt.CallAsync(ctx, "__main__", "slow")
	if err != nil {
		log.Fatal(err)
	}
	_, err = fut.Wait(ctx)
	fmt.Println(errors.Is(err, context.DeadlineExceeded), errors.Is(err, pyrt.ErrInterrupted))
	events, _ := rt.EvalValue(context.Background(), "events")
	fmt.Println(events)
	// Output:
	// true true
	// [cleaned up]
}

// Code generated by pyrt-gen binds a module with the signatures it was
// generated for; BindModule reports the first one that changed.
func ExampleBindModule() {
	rt, err := pyrt.New()
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	ctx := context.Background()
	if err := rt.Run(ctx, "import sys, types\nm = types.ModuleType('geo')\nexec('def area(w: float, h: float) -> float: return w * h', m.__dict__)\nsys.modules['geo'] = m"); err != nil {
		log.Fatal(err)
	}
	text := "(w: float) -> float" // what a binding generated earlier recorded
	_, err = pyrt.BindModule(ctx, rt, "geo", []pyrt.Signature{{Name: "area", Hash: pyrt.SignatureHash(text), Text: text}})
	fmt.Println(errors.Is(err, pyrt.ErrStaleBinding))
	fmt.Println(err)
	// Output:
	// true
	// pyrt: stale binding: geo.area changed: generated for area(w: float) -> float, now area(w: float, h: float) -> float; run go generate again
}

// As, SeqOf and TypedFuture are the typed results of generated code; they
// work on any call.
func ExampleSeqOf() {
	rt, err := pyrt.New()
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	ctx := context.Background()
	gen, err := rt.EvalObject(ctx, "(i * i for i in range(4))")
	for v, err := range pyrt.SeqOf[int64](ctx, "squares", gen, err) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Print(v, " ")
	}
	fmt.Println()
	// Output: 0 1 4 9
}
