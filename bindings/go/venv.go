package pyrt

import (
	"sync"
	"sync/atomic"
)

// The progress callbacks of managed venvs being prepared (WithInstallProgress),
// by the user_data number pyrt_venv_ensure passes back.
var (
	progressFuncs   sync.Map
	nextProgressKey atomic.Uintptr
)

// installProgress is the trampoline's Go side: one progress line of
// pyrt_venv_ensure, on the goroutine that called New (C calls back on the
// same thread, during the call).
func installProgress(key uintptr, line string) {
	if f, ok := progressFuncs.Load(key); ok {
		f.(func(string))(line)
	}
}

// ensureVenv prepares the config's managed venv, reporting progress to f,
// before pyrt_new (which then finds it ready).
func ensureVenv(l *ffiLib, cfg *byte, f func(string)) error {
	key := nextProgressKey.Add(1)
	progressFuncs.Store(key, f)
	defer progressFuncs.Delete(key)
	var errp uintptr
	if st := l.pyrt_venv_ensure(cfg, l.tramp.progress, key, &errp); st != 0 {
		return l.takeError(st, errp)
	}
	return nil
}
