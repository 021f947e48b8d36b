// Command basic shows the pyrt Go API: run code, evaluate expressions, call
// functions with converted arguments, handle Python exceptions.
//
//	go run ./basic [libpython path]
//
// Without an argument libpython is discovered ($PYRT_LIBPYTHON, then the
// python3 on PATH). Any CPython 3.8 and later works, free-threaded builds
// included (tested: 3.8–3.14 and 3.13t; a newer one runs with a note that
// it is untested).
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	pyrt "github.com/pyrt-dev/pyrt/bindings/go"
)

func main() {
	var opts []pyrt.Option
	if len(os.Args) > 1 {
		opts = append(opts, pyrt.WithLibpython(os.Args[1]))
	}
	rt, err := pyrt.New(opts...)
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	ctx := context.Background()

	info, err := rt.Info(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("Python %s from %s (pyrt %s, %s)\n", info.PythonVersion, info.Libpython, info.PyrtVersion, info.Binding)
	if info.FreeThreaded {
		fmt.Println("free-threaded build: no GIL, calls from several goroutines run in parallel")
	}
	if !info.Tested {
		fmt.Println("note:", info.TestedNote)
	}

	// Execute Python code from a string; definitions stay in __main__.
	err = rt.Run(ctx, `
x = 2 + 3
def greet(name):
    return f"Hello, {name}!"
`)
	if err != nil {
		log.Fatal(err)
	}
	x, _ := rt.Eval(ctx, "x")
	fmt.Printf("2 + 3 = %v\n", x)
	greeting, _ := rt.Call(ctx, "__main__", "greet", "Gopher")
	fmt.Println(greeting)

	// Call library functions with type conversion.
	sqrt, err := rt.Call(ctx, "math", "sqrt", 16.0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("math.sqrt(16.0) = %v (%T)\n", sqrt, sqrt)

	big, _ := rt.Eval(ctx, "2**100")
	fmt.Printf("2**100 = %v (%T)\n", big, big)

	sorted, _ := rt.CallKw(ctx, "builtins", "sorted", []any{[]string{"pear", "fig", "apple"}},
		map[string]any{"key": nil, "reverse": true})
	fmt.Printf("sorted(..., reverse=True) = %v\n", sorted)

	// Decode into Go types.
	type Stats struct {
		Mean   float64 `json:"mean"`
		Median float64 `json:"median"`
	}
	var st Stats
	err = rt.Run(ctx, `
import statistics
def stats(xs):
    return {"mean": statistics.mean(xs), "median": statistics.median(xs)}
`)
	if err == nil {
		err = rt.CallInto(ctx, &st, "__main__", "stats", []float64{1, 2, 3, 4, 10})
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("stats = %+v\n", st)
	n, _ := pyrt.CallT[int](ctx, rt, "builtins", "len", "hello")
	fmt.Printf("len(\"hello\") = %d\n", n)

	// Python exceptions are Go errors.
	_, err = rt.Call(ctx, "builtins", "int", "not a number")
	var pe *pyrt.PythonError
	if errors.As(err, &pe) {
		fmt.Printf("caught %s: %s\n", pe.Type, pe.Message)
	}
	// So is SystemExit: the program keeps running.
	if err := rt.Run(ctx, "import sys; sys.exit(3)"); errors.Is(err, pyrt.ErrSystemExit) {
		fmt.Println("sys.exit(3) returned an error; still running")
	}
}
