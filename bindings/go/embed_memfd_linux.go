//go:build linux

package pyrt

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"unsafe"
)

const (
	mfdCloexec = 0x1
	mfdExec    = 0x10 // Linux 6.3+: asks for an executable memfd where vm.memfd_noexec would refuse one
)

// memfdPath writes data to an anonymous memory file (memfd_create) and
// returns its /proc/self/fd path, so the library is loaded without touching
// the disk (it works on read-only file systems). release closes the
// descriptor; a library already loaded from it stays mapped.
func memfdPath(data []byte) (path string, release func(), err error) {
	var nr uintptr
	switch runtime.GOARCH {
	case "amd64":
		nr = 319
	case "arm64":
		nr = 279
	default:
		return "", nil, errNoMemfd
	}
	name, _ := syscall.BytePtrFromString("libpyrt")
	fd, _, errno := syscall.Syscall(nr, uintptr(unsafe.Pointer(name)), mfdCloexec|mfdExec, 0)
	if errno == syscall.EINVAL { // a kernel before 6.3 does not know MFD_EXEC
		fd, _, errno = syscall.Syscall(nr, uintptr(unsafe.Pointer(name)), mfdCloexec, 0)
	}
	runtime.KeepAlive(name)
	if errno != 0 {
		return "", nil, fmt.Errorf("memfd_create: %v", errno)
	}
	path = fmt.Sprintf("/proc/self/fd/%d", fd)
	f := os.NewFile(fd, path)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return "", nil, fmt.Errorf("memfd: %v", err)
	}
	if _, err := os.Stat(path); err != nil { // no /proc
		f.Close()
		return "", nil, fmt.Errorf("memfd: %v", err)
	}
	return path, func() { f.Close() }, nil
}
