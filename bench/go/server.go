// The server benchmark (-server): what a Go service sees when many goroutines call Python at
// once. Each workload (bench/py/server_funcs.py) is called back-to-back from N goroutines for a
// fixed time by each system:
//
//	pyrt              the default runtime (one interpreter, the GIL where the build has one);
//	                  named pyrt_unordered when run with PYRT_ADMISSION=0 (no admission queue)
//	pyrt_workers      a runtime with {"workers": GOMAXPROCS} (3.12+: one interpreter per worker,
//	                  each with its own GIL; other versions fall back to the default runtime)
//	pyrt_main_thread  a runtime WithMainThread: every call runs on Python's main thread
//	single_worker     one long-lived python3 process behind a mutex, JSON lines on pipes
//	process_pool      one such process per core, a request taking whichever is free
//
// and prints, per (load, workload, system, N), the median over -reps interleaved rounds of the
// throughput and of the round's p50, p99 and maximum latency:
//
//	SERVER <host> <python> <load> <workload> <system> <N> <calls_per_s> <p50_us> <p99_us> <max_us> <reps>
//
// load is "idle", or "loaded" while one busy-looping process per core competes for the CPUs.
// bench/report.py turns the lines into ratios against pyrt with one goroutine and against the
// baselines at the same N, all from the same run.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	pyrt "github.com/pyrt-dev/pyrt/bindings/go"
)

var (
	serverMode  = flag.Bool("server", false, "run the server benchmark instead of the groups")
	serverNs    = flag.String("server-n", "1,4,16,64", "goroutine counts")
	serverLoads = flag.String("server-loads", "idle,loaded", "machine loads to run under")
	serverWork  = flag.String("server-workloads", "pure,jinja2,numpy", "workloads")
	serverSys   = flag.String("server-systems", "pyrt,pyrt_workers,pyrt_main_thread,single_worker,process_pool", "systems")
	serverDur   = flag.Duration("server-time", 300*time.Millisecond, "time per (system, N) and round")
	burnMode    = flag.Bool("burn", false, "internal: busy-loop until killed (the competing load)")
)

// pureN makes server_funcs.pure take about 15 us.
const pureN = 200

// numpyLen is the length of the []float64 each numpy request reduces.
const numpyLen = 4096

// A serverCall performs one request; it is called from many goroutines at once.
type serverCall func() error

// A serverSystem makes the call for a workload, or reports why it cannot.
type serverSystem struct {
	name  string
	setup func(workload string) (serverCall, error)
	close func()
}

// pageContext is the jinja2 render's argument: a small page of three items.
func pageContext() map[string]any {
	items := make([]any, 3)
	for i := range items {
		items[i] = map[string]any{"name": fmt.Sprintf("item %d", i), "price": float64(i) * 1.25}
	}
	return map[string]any{"title": "Catalogue", "items": items}
}

func numpyData() []float64 {
	d := make([]float64, numpyLen)
	for i := range d {
		d[i] = float64(i) * 0.5
	}
	return d
}

// pyrtSystem calls through a runtime: handles kept for the whole run, as a service would.
func pyrtSystem(name string, r *pyrt.Runtime) serverSystem {
	var objs []*pyrt.Object
	keep := func(expr string) (*pyrt.Object, error) {
		o, err := r.EvalObject(ctx, expr)
		if err == nil {
			objs = append(objs, o)
		}
		return o, err
	}
	return serverSystem{name: name, close: func() {
		for _, o := range objs {
			o.Close()
		}
	}, setup: func(w string) (serverCall, error) {
		switch w {
		case "pure":
			return func() error { _, err := r.Call(ctx, "server_funcs", "pure", pureN); return err }, nil
		case "jinja2":
			page, err := keep("server_funcs._page()")
			if err != nil {
				return nil, err
			}
			pc := pageContext()
			if name == "pyrt_workers" {
				// A kept handle lives in one worker: each worker renders its own template.
				return func() error { _, err := r.Call(ctx, "server_funcs", "render", pc); return err }, nil
			}
			return func() error { _, err := page.CallMethod(ctx, "render", pc); return err }, nil
		case "numpy":
			sum, err := keep("server_funcs.np_sum")
			if err != nil {
				return nil, err
			}
			data := numpyData()
			return func() error { _, err := sum.CallFloat(ctx, pyrt.BufferOf(data)); return err }, nil
		case "sleep":
			return func() error { _, err := r.Call(ctx, "server_funcs", "sleep", 0.02); return err }, nil
		}
		return nil, fmt.Errorf("unknown workload %q", w)
	}}
}

// workerRequest is the JSON line a worker process gets for a workload.
func workerRequest(w string) ([]byte, error) {
	var req map[string]any
	switch w {
	case "pure":
		req = map[string]any{"module": "server_funcs", "function": "pure", "args": []any{pureN}}
	case "jinja2":
		req = map[string]any{"module": "server_funcs", "function": "render", "args": []any{pageContext()}}
	case "numpy":
		req = map[string]any{"module": "server_funcs", "function": "list_sum", "args": []any{numpyData()}}
	case "sleep":
		req = map[string]any{"module": "server_funcs", "function": "sleep", "args": []any{0.02}}
	default:
		return nil, fmt.Errorf("unknown workload %q", w)
	}
	b, err := json.Marshal(req)
	return append(b, '\n'), err
}

// poolSystem spreads requests over n worker processes (n = 1: the single worker behind a mutex).
func poolSystem(name, python, dir string, n int) serverSystem {
	free := make(chan *worker, n)
	var all []*worker
	for range n {
		w := startWorker(python, dir)
		all = append(all, w)
		free <- w
	}
	return serverSystem{name: name, close: func() {
		for _, w := range all {
			w.stop()
		}
	}, setup: func(wl string) (serverCall, error) {
		req, err := workerRequest(wl)
		if err != nil {
			return nil, err
		}
		for _, w := range all { // import the modules and warm the caches
			w.call(req)
		}
		return func() error {
			w := <-free
			w.call(req)
			free <- w
			return nil
		}, nil
	}}
}

// serverRound runs call from n goroutines for d and returns calls/s and the latencies in us.
func serverRound(call serverCall, n int, d time.Duration) (float64, []float64, error) {
	lat := make([][]float64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	var deadline time.Time
	for g := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			l := make([]float64, 0, 1024)
			for {
				t0 := time.Now()
				if t0.After(deadline) {
					break
				}
				if err := call(); err != nil {
					errs[g] = err
					break
				}
				l = append(l, float64(time.Since(t0).Nanoseconds())/1e3)
			}
			lat[g] = l
		}()
	}
	t0 := time.Now()
	deadline = t0.Add(d)
	close(start)
	wg.Wait()
	elapsed := time.Since(t0)
	var all []float64
	for g := range n {
		if errs[g] != nil {
			return 0, nil, errs[g]
		}
		all = append(all, lat[g]...)
	}
	return float64(len(all)) / elapsed.Seconds(), all, nil
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return sorted[i]
}

// burn starts one busy-looping copy of this program per core; the returned func stops them.
func burn() func() {
	exe, err := os.Executable()
	if err != nil {
		die("%v", err)
	}
	var cmds []*exec.Cmd
	for range runtime.NumCPU() {
		c := exec.Command(exe, "-burn")
		// Never outlive the benchmark, should it die mid-run.
		c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := c.Start(); err != nil {
			die("burn: %v", err)
		}
		cmds = append(cmds, c)
	}
	time.Sleep(50 * time.Millisecond)
	return func() {
		for _, c := range cmds {
			c.Process.Kill()
			c.Wait()
		}
	}
}

func burnForever() {
	x := 0
	for {
		x++
	}
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func runServer(dir string) {
	abs, _ := filepath.Abs(filepath.Join(dir, "py"))
	setupCode := "import sys\nsys.path.insert(0, " + strconv.Quote(abs) + ")\nimport server_funcs"
	if err := rt.Run(ctx, setupCode); err != nil {
		die("server setup: %v", err)
	}
	python := os.Getenv("PYRT_BENCH_PYTHON")
	venv := os.Getenv("PYRT_BENCH_VENV")
	if venv != "" {
		python = filepath.Join(venv, "bin", "python")
	}
	var ns []int
	for _, f := range splitList(*serverNs) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			die("-server-n: %q", f)
		}
		ns = append(ns, n)
	}
	var systems []serverSystem
	for _, s := range splitList(*serverSys) {
		switch s {
		case "pyrt":
			if os.Getenv("PYRT_ADMISSION") == "0" {
				s = "pyrt_unordered" // calls without pyrt's admission queue: the "before"
			}
			systems = append(systems, pyrtSystem(s, rt))
		case "pyrt_workers", "pyrt_main_thread":
			opts := []pyrt.Option{pyrt.WithWorkers(runtime.GOMAXPROCS(0)), pyrt.WithWorkerSetup(setupCode)}
			if s == "pyrt_main_thread" {
				opts = []pyrt.Option{pyrt.WithMainThread()}
			}
			if venv != "" {
				opts = append(opts, pyrt.WithVenv(venv))
			}
			if l := os.Getenv("PYRT_LIBPYTHON"); l != "" {
				opts = append(opts, pyrt.WithLibpython(l))
			}
			// A second runtime handle on the same interpreter, with its own workers (or whose
			// calls all run on the interpreter's main thread).
			wr, err := pyrt.New(opts...)
			if err != nil {
				die("%s runtime: %v", s, err)
			}
			defer wr.Close()
			if err := wr.Run(ctx, setupCode); err != nil {
				die("%s setup: %v", s, err)
			}
			systems = append(systems, pyrtSystem(s, wr))
		case "single_worker", "process_pool":
			if python == "" {
				fmt.Fprintf(os.Stderr, "  server: %s skipped (no PYRT_BENCH_PYTHON)\n", s)
				continue
			}
			n := 1
			if s == "process_pool" {
				n = runtime.NumCPU()
			}
			systems = append(systems, poolSystem(s, python, dir, n))
		default:
			die("-server-systems: unknown %q", s)
		}
	}
	defer func() {
		for _, s := range systems {
			s.close()
		}
	}()
	d := *serverDur
	if *quick {
		d = 20 * time.Millisecond
	}
	for _, load := range splitList(*serverLoads) {
		var stop func()
		if load == "loaded" {
			stop = burn()
		} else if load != "idle" {
			die("-server-loads: unknown %q", load)
		}
		for _, w := range splitList(*serverWork) {
			type key struct {
				sys string
				n   int
			}
			calls := map[key]serverCall{}
			for _, s := range systems {
				c, err := s.setup(w)
				if err != nil {
					fmt.Fprintf(os.Stderr, "  server: %s/%s skipped: %v\n", s.name, w, err)
					fmt.Printf("SKIP\t%s\t%s\tserver_%s_%s\t%v\n", host, label, s.name, w, err)
					continue
				}
				if err := c(); err != nil { // warm: imports, caches
					var pe *pyrt.PythonError
					if errors.As(err, &pe) && pe.Type == "ImportError" {
						// numpy refuses sub-interpreters (pyrt_workers): reported, not run.
						fmt.Fprintf(os.Stderr, "  server: %s/%s skipped: %s\n", s.name, w, lastLine(pe.Message))
						fmt.Printf("SKIP\t%s\t%s\tserver_%s_%s\t%s\n", host, label, s.name, w, lastLine(pe.Message))
						continue
					}
					die("server %s %s: %v", s.name, w, err)
				}
				for _, n := range ns {
					calls[key{s.name, n}] = c
				}
			}
			tput := map[key][]float64{}
			p50, p99, pmax := map[key][]float64{}, map[key][]float64{}, map[key][]float64{}
			for range *reps {
				for _, n := range ns {
					for _, s := range systems {
						k := key{s.name, n}
						c := calls[k]
						if c == nil {
							continue
						}
						cps, lat, err := serverRound(c, n, d)
						if err != nil {
							die("server %s %s N=%d: %v", s.name, w, n, err)
						}
						slices.Sort(lat)
						tput[k] = append(tput[k], cps)
						p50[k] = append(p50[k], percentile(lat, 0.50))
						p99[k] = append(p99[k], percentile(lat, 0.99))
						pmax[k] = append(pmax[k], lat[len(lat)-1])
					}
				}
			}
			for _, s := range systems {
				for _, n := range ns {
					k := key{s.name, n}
					if len(tput[k]) == 0 {
						continue
					}
					fmt.Printf("SERVER\t%s\t%s\t%s\t%s\t%s\t%d\t%.0f\t%.1f\t%.1f\t%.1f\t%d\n", host, label, load, w, s.name, n,
						median(tput[k]), median(p50[k]), median(p99[k]), median(pmax[k]), *reps)
					fmt.Fprintf(os.Stderr, "  server %-6s %-6s %-13s N=%-3d %9.0f calls/s  p50 %8.1f  p99 %8.1f  max %8.1f us\n",
						load, w, s.name, n, median(tput[k]), median(p50[k]), median(p99[k]), median(pmax[k]))
				}
			}
		}
		if stop != nil {
			stop()
		}
	}
}

// lastLine is the last line of a multi-line message (numpy's
// ImportError ends with the reason), for a one-line SKIP.
func lastLine(msg string) string {
	lines := strings.Split(strings.TrimSpace(msg), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
