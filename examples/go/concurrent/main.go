// Command concurrent calls Python from many goroutines at once. No
// runtime.LockOSThread and no GIL handling are needed: pyrt takes the GIL
// inside every call. With a free-threaded CPython (3.13t and later; any
// CPython from 3.8 on works) there is no GIL, and the calls run Python in
// parallel.
//
//	go run ./concurrent [libpython path]
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"sync"
	"sync/atomic"
	"time"

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

	// The seed README's example: 10 workers.
	var wg sync.WaitGroup
	results := make([]string, 10)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func(workerID int) {
			defer wg.Done()
			result, err := rt.Call(ctx, "math", "sqrt", float64(workerID*workerID))
			if err != nil {
				results[workerID] = fmt.Sprintf("Worker %d error: %v", workerID, err)
				return
			}
			results[workerID] = fmt.Sprintf("Worker %d: sqrt(%d) = %v", workerID, workerID*workerID, result)
		}(i)
	}
	wg.Wait()
	for _, r := range results {
		fmt.Println(r)
	}

	// A stress run: 100 goroutines x 1,000 calls, every result checked.
	const goroutines, calls = 100, 1000
	var failures atomic.Int64
	start := time.Now()
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < calls; i++ {
				v, err := rt.Call(ctx, "operator", "add", g, i)
				if err != nil || v != int64(g+i) {
					failures.Add(1)
				}
			}
		}(g)
	}
	wg.Wait()
	elapsed := time.Since(start)
	fmt.Printf("%d goroutines x %d calls: %d failures, %.2f µs/call\n",
		goroutines, calls, failures.Load(), float64(elapsed.Microseconds())/float64(goroutines*calls))
	if failures.Load() != 0 {
		os.Exit(1)
	}
}
