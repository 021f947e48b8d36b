//go:build !pyrt_cgo

// Foreign calls for controlling running calls (pyrt_thread_id,
// pyrt_interrupt_thread, pyrt_output_take, pyrt_error_output), purego
// flavour; resolved on first use like the object API.

package pyrt

import (
	"runtime"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

type controlFuncs struct {
	threadID, interruptThread, outputTake, errorOutput uintptr
}

var (
	controlOnce sync.Once
	controlFns  *controlFuncs
	controlErr  error
)

func (l *ffiLib) controlAPI() error {
	controlOnce.Do(func() {
		c := &controlFuncs{}
		for _, s := range []struct {
			name string
			dst  *uintptr
		}{
			{"pyrt_thread_id", &c.threadID},
			{"pyrt_interrupt_thread", &c.interruptThread},
			{"pyrt_output_take", &c.outputTake},
			{"pyrt_error_output", &c.errorOutput},
		} {
			p, err := purego.Dlsym(l.handle, s.name)
			if err != nil || p == 0 {
				controlErr = &loadError{ErrLibraryVersion, "pyrt: libpyrt " + l.path + " lacks " + s.name +
					" (built before call control; rebuild it with `cargo build --release`)"}
				return
			}
			*s.dst = p
		}
		controlFns = c
	})
	return controlErr
}

func (l *ffiLib) threadID() uint64 {
	r1, _, _ := purego.SyscallN(controlFns.threadID)
	return uint64(r1)
}

// interruptThread returns how many calls it interrupted (0 or 1), or -1 on error.
func (l *ffiLib) interruptThread(id uint64) int {
	p := new(uint32) // heap memory, written by C during the call
	r1, _, _ := purego.SyscallN(controlFns.interruptThread, uintptr(id), uintptr(unsafe.Pointer(p)), 0)
	runtime.KeepAlive(p)
	if r1 != 0 {
		return -1
	}
	return int(*p)
}

// outputTake stores the captured text of stream in f.out().
func (l *ffiLib) outputTake(rt uintptr, stream uint32, f *frame) int32 {
	f.args[0], f.args[1], f.args[2], f.args[3] = rt, uintptr(stream), f.outArg(), f.errArg()
	return f.syscall(controlFns.outputTake, 4)
}
