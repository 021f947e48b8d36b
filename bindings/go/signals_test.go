package pyrt

import (
	"errors"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"
)

// write_closed_pipe writes until the pipe reports it has no reader. The first write may
// succeed: a fork on another goroutine's thread (to_exited_child) can hold a copy of the read
// end until its child execs. Without SIGPIPE blocked, the write that finds no reader would kill
// the process instead of raising.
const writeClosedPipe = `
import os, subprocess, sys, threading, time
def write_closed_pipe():
    r, w = os.pipe()
    os.close(r)
    try:
        for _ in range(2000):
            os.write(w, b'x')
            time.sleep(0.001)
        return 'wrote'
    except BrokenPipeError:
        return 'BrokenPipeError'
    finally:
        os.close(w)
def in_thread():
    out = []
    t = threading.Thread(target=lambda: out.append(write_closed_pipe()))
    t.start(); t.join()
    return out[0]
def to_exited_child():
    p = subprocess.Popen([sys.executable, '-c', 'pass'], stdin=subprocess.PIPE)
    p.wait()
    try:
        p.stdin.write(b'x' * 1000000)
        p.stdin.flush()
        return 'wrote'
    except BrokenPipeError:
        return 'BrokenPipeError'
    finally:
        try:
            p.stdin.close()
        except BrokenPipeError:
            pass
`

// Python code writing to a closed pipe gets BrokenPipeError — from the
// calling goroutine's thread, from a Python thread (not a Go thread) and
// through subprocess — and the Go process lives on.
func TestBrokenPipeIsAnException(t *testing.T) {
	if err := testRT.Run(bg, writeClosedPipe); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, fn := range []string{"write_closed_pipe", "in_thread", "to_exited_child"} {
				v, err := testRT.Call(bg, "__main__", fn)
				if err != nil || v != "BrokenPipeError" {
					t.Errorf("%s = %v, %v", fn, v, err)
				}
			}
		}()
	}
	wg.Wait()
}

// WithMainThread: calls run on Python's main thread, where signal.signal and
// _thread.interrupt_main work; the Go runtime keeps SIGINT.
func TestMainThreadRuntime(t *testing.T) {
	main, err := New(WithMainThread())
	if err != nil {
		t.Fatal(err)
	}
	defer main.Close()
	if v, err := main.Eval(bg, "__import__('threading').current_thread() is __import__('threading').main_thread()"); err != nil || v != true {
		t.Fatalf("main thread: %v, %v", v, err)
	}
	if v, _ := testRT.Eval(bg, "__import__('threading').current_thread() is __import__('threading').main_thread()"); v != false {
		t.Errorf("default runtime runs on the main thread")
	}
	err = main.Run(bg, "import _thread\n_thread.interrupt_main()\nfor _ in range(10**8):\n    pass\n")
	if !errors.Is(err, ErrKeyboardInterrupt) {
		t.Errorf("interrupt_main: %v", err)
	}
	// A signal the Go program sends reaches the Python handler on the main thread.
	if err := main.Run(bg, "import signal, time\nhits = []\nold = signal.signal(signal.SIGUSR1, lambda s, f: hits.append(s))\n"); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	}()
	if err := main.Run(bg, "deadline = time.monotonic() + 10\nwhile not hits and time.monotonic() < deadline:\n    pass\n"); err != nil {
		t.Fatal(err)
	}
	if v, _ := main.Eval(bg, "hits"); !equalValue(v, []any{int64(10)}) {
		t.Errorf("hits = %v", v)
	}
	// signal.signal from another thread fails as in standalone Python.
	var pe *PythonError
	if err := testRT.Run(bg, "import signal\nsignal.signal(signal.SIGUSR2, lambda s, f: None)"); !errors.As(err, &pe) || pe.Type != "ValueError" {
		t.Errorf("signal.signal off the main thread: %v", err)
	}
	// Many goroutines share the main-thread runtime.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				v, err := main.Call(bg, "builtins", "abs", -(i*1000 + j))
				if err != nil || v != int64(i*1000+j) {
					t.Errorf("abs = %v, %v", v, err)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	// The Go runtime still receives SIGINT (Python did not take it).
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT)
	defer signal.Stop(ch)
	if err := testRT.Run(bg, "import signal, asyncio, subprocess"); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Error("the Go program did not receive SIGINT")
	}
	if err := testRT.Run(bg, "x = 1"); err != nil {
		t.Errorf("a call after SIGINT: %v", err)
	}
}
