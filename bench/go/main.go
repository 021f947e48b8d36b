// Command bench is pyrt's Go-host benchmark (bench/run.sh builds it twice: purego, the
// default, and with -tags pyrt_cgo). Like bench/c/bench.c it runs each group's variants
// interleaved for -reps repetitions and prints, per variant, the median time per call and the
// median of the per-repetition ratios to the group's baseline:
//
//	RESULT <host> <python> <group> <variant> <baseline> <median_ns> <median_ratio> <reps> <calls>
//
// Groups:
//
//	sqrt        rt.Call(ctx, "math", "sqrt", 16.0) = baseline; the typed fast path
//	            (Object.CallFloat); a long-lived python3 worker driven from Go (JSON lines on
//	            pipes, bench/py/worker.py): the SUBPROCESS baseline.
//	goroutines  rt.Call from one goroutine = baseline; from a new goroutine each call; from a pool
//	            of 8 goroutines; a new goroutine without a call.
//	stream      per item: 1,000 small ints returned as one list by rt.Call = baseline; the same
//	            items yielded by a generator and ranged over with rt.Stream, one step per item
//	            and WithBatch(256).
//	async       10,000 coroutines awaiting asyncio.sleep(0.05) in flight at once through
//	            rt.CallAsync, against 10,000 goroutines each sleeping 50 ms = baseline (the
//	            wall time of a round of each; also a COUNT line: the OS threads of the process
//	            while the awaits are in flight).
//	bulk        1,000,000 float64 lent with pyrt.BufferOf to numpy.frombuffer(...).sum(), and in
//	            and out (WritableBufferOf + numpy.multiply(out=)), beside copy() of the 8 MB
//	            (MEMCPY) = baseline (needs NumPy: $PYRT_BENCH_VENV).
//
// Other modes: -single N prints one rt.Call figure ("SINGLE" line) for the cross-process Go/C
// comparison; -rss N prints RSS before and after N calls of rt.Call and CallFloat, and before
// and after streaming N*10 items of a generator (each read after debug.FreeOSMemory: memory in
// use, not uncollected garbage).
// Environment as for bench/c/bench.c (PYRT_LIBPYTHON, PYRT_BENCH_VENV, PYRT_BENCH_PYTHON,
// PYRT_BENCH_LABEL, PYRT_BENCH_DIR).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	pyrt "github.com/pyrt-dev/pyrt/bindings/go"
)

var (
	quick  = flag.Bool("quick", false, "few calls per repetition (proves the benchmarks run)")
	reps   = flag.Int("reps", 9, "interleaved repetitions")
	groups = flag.String("groups", "sqrt,goroutines,parallel,stream,async,bulk", "groups to run")
	single = flag.Int("single", 0, "print one rt.Call figure over N calls")
	rssN   = flag.Int("rss", 0, "RSS growth over N calls")

	ctx   = context.Background()
	rt    *pyrt.Runtime
	label = envOr("PYRT_BENCH_LABEL", "?")
	host  = "go-" + pyrt.Mode()
	sink  float64
)

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func die(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(1)
}

type variant struct {
	name string
	run  func(n int)
	n    int
}

func median(v []float64) float64 {
	c := slices.Clone(v)
	slices.Sort(c)
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

func group(name string, vs []variant, base int) {
	for _, v := range vs {
		v.run(max(1, v.n/10))
	}
	t := make([][]float64, len(vs))
	r := make([][]float64, len(vs))
	for k := 0; k < *reps; k++ {
		for i, v := range vs {
			t0 := time.Now()
			v.run(v.n)
			t[i] = append(t[i], float64(time.Since(t0).Nanoseconds())/float64(v.n))
		}
		for i := range vs {
			r[i] = append(r[i], t[i][k]/t[base][k])
		}
	}
	for i, v := range vs {
		mt, mr := median(t[i]), median(r[i])
		fmt.Printf("RESULT\t%s\t%s\t%s\t%s\t%s\t%.1f\t%.4f\t%d\t%d\n", host, label, name, v.name, vs[base].name, mt, mr, *reps, v.n)
		fmt.Fprintf(os.Stderr, "  %-10s %-30s %12.1f ns   x%.3f of %s\n", name, v.name, mt, mr, vs[base].name)
	}
}

func scale(full, q int) int {
	if *quick {
		return q
	}
	return full
}

func call(n int) {
	for range n {
		v, err := rt.Call(ctx, "math", "sqrt", 16.0)
		if err != nil {
			die("Call: %v", err)
		}
		sink += v.(float64)
	}
}

// worker is the SUBPROCESS baseline: a python3 process answering JSON lines.
type worker struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func startWorker(python, dir string) *worker {
	cmd := exec.Command(python, "-u", filepath.Join(dir, "py", "worker.py"))
	in, err := cmd.StdinPipe()
	if err != nil {
		die("%v", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		die("%v", err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		die("worker: %v", err)
	}
	return &worker{cmd, in, bufio.NewReader(out)}
}

func (w *worker) call(req []byte) {
	if _, err := w.in.Write(req); err != nil {
		die("worker write: %v", err)
	}
	line, err := w.out.ReadSlice('\n')
	if err != nil || !strings.HasPrefix(string(line), `{"result"`) {
		die("worker answered %q: %v", line, err)
	}
	sink += float64(line[10])
}

func (w *worker) stop() {
	w.in.Close()
	w.cmd.Wait()
}

// rss is the resident set in kB after a full collection that returns free
// heap pages to the OS (debug.FreeOSMemory): what stays is memory still in
// use (a leak would), not the garbage the Go runtime has not collected yet
// or keeps for reuse (a GOGC-dependent amount).
func rss() int {
	debug.FreeOSMemory()
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return -1
}

func osThreads() int {
	entries, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return -1
	}
	return len(entries)
}

func main() {
	flag.Parse()
	if *burnMode {
		burnForever()
	}
	var opts []pyrt.Option
	if v := os.Getenv("PYRT_BENCH_VENV"); v != "" {
		opts = append(opts, pyrt.WithVenv(v))
	}
	if l := os.Getenv("PYRT_LIBPYTHON"); l != "" {
		opts = append(opts, pyrt.WithLibpython(l))
	}
	var err error
	if rt, err = pyrt.New(opts...); err != nil {
		die("New: %v", err)
	}
	defer rt.Close()
	dir := envOr("PYRT_BENCH_DIR", "bench")
	abs, _ := filepath.Abs(filepath.Join(dir, "py"))
	if err := rt.Run(ctx, "import sys\nsys.path.insert(0, "+strconv.Quote(abs)+")\nimport bench_funcs"); err != nil {
		die("setup: %v", err)
	}
	info, _ := rt.Info(ctx)
	fmt.Fprintf(os.Stderr, "bench (Go host, %s): Python %s (%s), %d reps\n", pyrt.Mode(), info.PythonVersion, label, *reps)
	sqrt, err := rt.EvalObject(ctx, "__import__('math').sqrt")
	if err != nil {
		die("%v", err)
	}
	defer sqrt.Close()
	typed := func(n int) {
		for range n {
			v, err := sqrt.CallFloat(ctx, 16.0)
			if err != nil {
				die("CallFloat: %v", err)
			}
			sink += v
		}
	}
	call(1000)

	switch {
	case *serverMode:
		runServer(dir)
		return
	case *single > 0:
		call(*single / 10)
		t0 := time.Now()
		call(*single)
		fmt.Printf("SINGLE\t%s\t%s\trt.Call\t%.1f\n", host, label, float64(time.Since(t0).Nanoseconds())/float64(*single))
		return
	case *rssN > 0:
		for _, v := range []struct {
			name string
			run  func(int)
		}{{"rt.Call", call}, {"CallFloat", typed}} {
			v.run(20000)
			before := rss()
			v.run(*rssN)
			after := rss()
			fmt.Printf("RSS\t%s\t%s\t%s\t%d\t%d\t%d\n", host, label, v.name, *rssN, before, after)
			fmt.Fprintf(os.Stderr, "  rss %-10s %d calls: %d kB -> %d kB (%+d kB)\n", v.name, *rssN, before, after, after-before)
		}
		// Streaming: RSS after the first 1,000,000 items against RSS at the end.
		items := *rssN * 10
		var before int
		n := 0
		for v, err := range rt.Stream(ctx, "bench_funcs", "int_gen", items, pyrt.WithBatch(1000)) {
			if err != nil {
				die("Stream: %v", err)
			}
			sink += float64(v.(int64))
			if n++; n == min(items/10, 1_000_000) {
				before = rss()
			}
		}
		after := rss()
		fmt.Printf("RSS\t%s\t%s\tStream\t%d\t%d\t%d\n", host, label, items, before, after)
		fmt.Fprintf(os.Stderr, "  rss %-10s %d items: %d kB -> %d kB (%+d kB)\n", "Stream", items, before, after, after-before)
		return
	}

	want := func(g string) bool { return slices.Contains(strings.Split(*groups, ","), g) }
	if want("sqrt") {
		vs := []variant{{"rt.Call", call, scale(200000, 2000)}, {"typed_CallFloat", typed, scale(200000, 2000)}}
		if py := os.Getenv("PYRT_BENCH_PYTHON"); py != "" {
			w := startWorker(py, dir)
			req := []byte(`{"module":"math","function":"sqrt","args":[16.0]}` + "\n")
			w.call(req)
			vs = append(vs, variant{"SUBPROCESS_worker", func(n int) {
				for range n {
					w.call(req)
				}
			}, scale(5000, 100)})
			defer w.stop()
		}
		group("sqrt", vs, 0)
	}
	if want("goroutines") {
		n, nf := scale(200000, 2000), scale(100000, 1000)
		var wg sync.WaitGroup
		fresh := func(n int) {
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					call(1)
				}()
				wg.Wait()
			}
		}
		empty := func(n int) {
			for range n {
				wg.Add(1)
				go func() { wg.Done() }()
				wg.Wait()
			}
		}
		pool := func(n int) {
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					call(n / 8)
				}()
			}
			wg.Wait()
		}
		group("goroutines_call", []variant{{"one_goroutine", call, n}, {"pool_of_8_goroutines", pool, n},
			{"new_goroutine_each_call", fresh, nf}, {"new_goroutine_without_call", empty, nf}}, 0)
	}
	if want("parallel") {
		// CPU-bound pure Python from 1 and from 2 goroutines, the same number of calls in all:
		// on a free-threaded build the two run Python in parallel (the ratio's inverse is the
		// speed-up: about 2 on 2 idle cores); with a GIL they take turns (about 1).
		spin, err := rt.EvalObject(ctx, "bench_funcs.spin")
		if err != nil {
			die("%v", err)
		}
		defer spin.Close()
		work := func(n int) {
			for range n {
				if _, err := spin.CallInt(ctx, 20000); err != nil {
					die("spin: %v", err)
				}
			}
		}
		var wg sync.WaitGroup
		two := func(n int) {
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					work(n / 2)
				}()
			}
			wg.Wait()
		}
		n := scale(400, 20)
		group("parallel_cpu", []variant{{"one_goroutine", work, n}, {"two_goroutines", two, n}}, 0)
		// The same on a runtime with 2 workers (3.12+ with a GIL: an interpreter, and a GIL, per
		// worker), calling by name so that each call goes to an idle worker.
		if !info.FreeThreaded {
			setup := "import sys\nsys.path.insert(0, " + strconv.Quote(abs) + ")\nimport bench_funcs"
			wr, err := pyrt.New(append(append([]pyrt.Option{}, opts...), pyrt.WithWorkers(2), pyrt.WithWorkerSetup(setup))...)
			if err != nil {
				die("workers runtime: %v", err)
			}
			defer wr.Close()
			if wi, _ := wr.Info(ctx); wi.Workers > 0 {
				wwork := func(n int) {
					for range n {
						if _, err := wr.Call(ctx, "bench_funcs", "spin", 20000); err != nil {
							die("spin on workers: %v", err)
						}
					}
				}
				wtwo := func(n int) {
					for range 2 {
						wg.Add(1)
						go func() {
							defer wg.Done()
							wwork(n / 2)
						}()
					}
					wg.Wait()
				}
				group("parallel_cpu_workers", []variant{{"one_goroutine", wwork, n}, {"two_goroutines", wtwo, n}}, 0)
			} else {
				fmt.Printf("SKIP\t%s\t%s\tparallel_cpu_workers\tno sub-interpreters with their own GIL before 3.12\n", host, label)
			}
		}
	}
	if want("stream") {
		const items = 1000
		list := func(n int) {
			for range max(1, n/items) {
				v, err := rt.Call(ctx, "bench_funcs", "int_list", items)
				if err != nil {
					die("int_list: %v", err)
				}
				sink += float64(len(v.([]any)))
			}
		}
		stream := func(batch int) func(int) {
			return func(n int) {
				for v, err := range rt.Stream(ctx, "bench_funcs", "int_gen", n, pyrt.WithBatch(batch)) {
					if err != nil {
						die("Stream: %v", err)
					}
					sink += float64(v.(int64))
				}
			}
		}
		n := scale(200000, 2000)
		group("stream_small_ints", []variant{{"list_of_1000_Call", list, n}, {"Stream_step_per_item", stream(1), n},
			{"Stream_WithBatch_256", stream(256), n}}, 0)
	}
	if want("async") {
		conc := scale(10000, 200)
		sleepers := func(rounds int) {
			for range rounds {
				var wg sync.WaitGroup
				for range conc {
					wg.Add(1)
					go func() {
						defer wg.Done()
						time.Sleep(50 * time.Millisecond)
					}()
				}
				wg.Wait()
			}
		}
		threads := 0
		awaits := func(rounds int) {
			futs := make([]*pyrt.Future, conc)
			for range rounds {
				for i := range futs {
					var err error
					if futs[i], err = rt.CallAsync(ctx, "bench_funcs", "nap"); err != nil {
						die("CallAsync: %v", err)
					}
				}
				threads = max(threads, osThreads())
				for _, f := range futs {
					if _, err := f.Wait(ctx); err != nil {
						die("nap: %v", err)
					}
				}
			}
		}
		group(fmt.Sprintf("async_%d_in_flight", conc), []variant{{"goroutines_time_Sleep", sleepers, 1},
			{"CallAsync_asyncio_sleep", awaits, 1}}, 0)
		fmt.Printf("COUNT\t%s\t%s\tos_threads_while_awaiting\t%d\n", host, label, threads)
		fmt.Fprintf(os.Stderr, "  async      OS threads while %d awaits were in flight: %d\n", conc, threads)
	}
	if want("bulk") {
		if _, err := rt.Import(ctx, "numpy"); err != nil {
			fmt.Fprintf(os.Stderr, "  bulk: skipped (no NumPy: set PYRT_BENCH_VENV)\n")
			fmt.Printf("SKIP\t%s\t%s\tbulk\tno numpy\n", host, label)
		} else {
			const N = 1000000
			src, dst := make([]float64, N), make([]float64, N)
			for i := range src {
				src[i] = float64(i) * 0.25
			}
			sum, err := rt.EvalObject(ctx, "bench_funcs.np_sum")
			if err != nil {
				die("%v", err)
			}
			into, err := rt.EvalObject(ctx, "bench_funcs.np_scale_into")
			if err != nil {
				die("%v", err)
			}
			n := scale(20, 2)
			group("bulk_1M_float64", []variant{
				{"MEMCPY", func(n int) {
					for range n {
						copy(dst, src)
						sink += dst[7]
					}
				}, n},
				{"zero_copy_numpy_sum", func(n int) {
					for range n {
						v, err := sum.CallFloat(ctx, pyrt.BufferOf(src))
						if err != nil {
							die("np_sum: %v", err)
						}
						sink += v
					}
				}, n},
				{"zero_copy_in_out_numpy_multiply", func(n int) {
					for range n {
						if _, err := into.CallFloat(ctx, pyrt.BufferOf(src), pyrt.WritableBufferOf(dst)); err != nil {
							die("np_scale_into: %v", err)
						}
						sink += dst[7]
					}
				}, n},
			}, 0)
			sum.Close()
			into.Close()
		}
	}
	if sink == 42.4242 {
		fmt.Println(sink)
	}
}
