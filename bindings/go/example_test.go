package pyrt_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync"

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
