//go:build !linux

package pyrt

// osThreadID is 0 where the thread's id is not at hand (admission.go then
// treats every call made during a host callback as nested).
func osThreadID() int { return 0 }
