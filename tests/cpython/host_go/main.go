// Command host_go runs a Python script inside pyrt from a Go program (the Go host of the CPython
// test comparison, tests/cpython/README.md).
//
//	host_go <libpython> <signals> <script.py> [script args...]
//
// It opens a Runtime with WithMainThread (calls run on Python's main thread), WithSignals
// (<signals>: "host", the default, or "python") and the script and its arguments as sys.argv,
// runs the script in __main__ with RunFile and closes the Runtime (non-daemon threads are joined
// and atexit handlers run, as at interpreter exit). libpyrt is found through PYRT_LIBRARY or
// this repository's target/release. Exit status: 0 when the script ran to its end, 1 when it
// raised (printed on stderr), 2 on a usage or start-up error.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	pyrt "github.com/pyrt-dev/pyrt/bindings/go"
)

func main() {
	if len(os.Args) < 4 || (os.Args[2] != "host" && os.Args[2] != "python") {
		fmt.Fprintf(os.Stderr, "usage: %s <libpython> host|python <script.py> [args...]\n", os.Args[0])
		os.Exit(2)
	}
	rt, err := pyrt.New(
		pyrt.WithLibpython(os.Args[1]),
		pyrt.WithMainThread(),
		pyrt.WithSignals(os.Args[2]),
		pyrt.WithArgv(os.Args[3:]...),
	)
	if err != nil {
		fmt.Fprintf(os.Stderr, "host_go: %v\n", err)
		os.Exit(2)
	}
	status := 0
	if err := rt.RunFile(context.Background(), os.Args[3]); err != nil {
		var pe *pyrt.PythonError
		if errors.As(err, &pe) {
			fmt.Fprintf(os.Stderr, "host_go: %s: %s\n%s\n", pe.Type, pe.Message, pe.Traceback)
		} else {
			fmt.Fprintf(os.Stderr, "host_go: %v\n", err)
		}
		status = 1
	}
	if err := rt.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "host_go: close: %v\n", err)
	}
	os.Exit(status)
}
