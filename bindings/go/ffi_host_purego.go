//go:build !pyrt_cgo

// Foreign calls for host functions and output handlers, purego flavour. Go
// functions reach C through three trampolines made once with
// purego.NewCallback (purego allows about 2,000 per process, never freed);
// each registration only adds an entry to a Go table, whose key travels as
// the C user_data.

package pyrt

import (
	"runtime"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

type hostFuncsC struct {
	register, unregister, replyJSON, replyError, replyException, setOutput uintptr
	// The trampolines (C function pointers into Go).
	callCB, destroyCB, outputCB uintptr
}

var (
	hostCOnce sync.Once
	hostC     *hostFuncsC
	hostCErr  error
)

func (l *ffiLib) hostAPI() error {
	hostCOnce.Do(func() {
		h := &hostFuncsC{}
		for _, s := range []struct {
			name string
			dst  *uintptr
		}{
			{"pyrt_register", &h.register},
			{"pyrt_unregister", &h.unregister},
			{"pyrt_reply_json", &h.replyJSON},
			{"pyrt_reply_error", &h.replyError},
			{"pyrt_reply_exception", &h.replyException},
			{"pyrt_set_output_handler", &h.setOutput},
		} {
			p, err := purego.Dlsym(l.handle, s.name)
			if err != nil || p == 0 {
				hostCErr = &loadError{ErrLibraryVersion, "pyrt: libpyrt " + l.path + " lacks " + s.name +
					" (built before host functions; rebuild it with `cargo build --release`)"}
				return
			}
			*s.dst = p
		}
		h.callCB = purego.NewCallback(func(user, args, kwargs, reply uintptr) uintptr {
			return uintptr(uint32(hostCall(user, cBytes(ptrOf(args)), cBytes(ptrOf(kwargs)), reply)))
		})
		h.destroyCB = purego.NewCallback(func(user uintptr) { forgetHost(user) })
		h.outputCB = purego.NewCallback(func(user, stream, text, n uintptr) {
			outputWrite(stream&0xffffffff, unsafe.Slice((*byte)(ptrOf(text)), int(n)))
		})
		hostC = h
	})
	return hostCErr
}

// register: module at f.buf[0:], name at f.buf[nameOff:].
func (l *ffiLib) register(rt unsafe.Pointer, f *frame, nameOff int, id uintptr) int32 {
	f.args = [8]uintptr{uintptr(rt), ptrArg(f.buf, 0), ptrArg(f.buf, nameOff), hostC.callCB, id, hostC.destroyCB, f.errArg()}
	return f.syscall(hostC.register, 7)
}

func (l *ffiLib) unregister(rt unsafe.Pointer, f *frame, nameOff int) int32 {
	f.args[0], f.args[1], f.args[2], f.args[3] = uintptr(rt), ptrArg(f.buf, 0), ptrArg(f.buf, nameOff), f.errArg()
	return f.syscall(hostC.unregister, 4)
}

func (l *ffiLib) setOutputHandler(rt unsafe.Pointer, f *frame, on bool) int32 {
	cb := uintptr(0)
	if on {
		cb = hostC.outputCB
	}
	f.args[0], f.args[1], f.args[2], f.args[3] = uintptr(rt), cb, 0, f.errArg()
	return f.syscall(hostC.setOutput, 4)
}

// replyJSON: b is NUL-terminated Go memory, copied by C during the call.
func replyJSON(reply uintptr, b []byte) int32 {
	r1, _, _ := purego.SyscallN(hostC.replyJSON, reply, uintptr(unsafe.Pointer(&b[0])))
	runtime.KeepAlive(b)
	return int32(r1)
}

func replyError(reply uintptr, msg string) int32 {
	if hostC == nil {
		return 1
	}
	b := make([]byte, 0, len(msg)+1)
	for i := 0; i < len(msg); i++ {
		if msg[i] != 0 {
			b = append(b, msg[i])
		}
	}
	b = append(b, 0)
	r1, _, _ := purego.SyscallN(hostC.replyError, reply, uintptr(unsafe.Pointer(&b[0])))
	runtime.KeepAlive(b)
	return int32(r1)
}

func replyException(reply, errp uintptr) int32 {
	r1, _, _ := purego.SyscallN(hostC.replyException, reply, errp)
	return int32(r1)
}
