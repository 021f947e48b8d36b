package pyrt

import "syscall"

// osThreadID is the calling OS thread's id.
func osThreadID() int { return syscall.Gettid() }
