package pyrt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// One interpreter per process: the whole test binary shares testRT. Tests
// of closing/finalization re-execute the binary (see runChild).
var testRT *Runtime

// childEnv selects a child-process test (see lifecycle_test.go).
const childEnv = "PYRT_GO_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv("PYRT_GO_STRESS") == "1" {
		// Stress mode (scripts/test-go.sh, with GOGC=1 and GODEBUG=clobberfree=1,
		// checkfinalizers=1): a collection every millisecond on top, so cleanups of dropped
		// objects and typed-call scratch space run while other goroutines call in.
		go func() {
			for {
				runtime.GC()
				time.Sleep(time.Millisecond)
			}
		}()
	}
	// A child process, or the process that loads the embedded libpyrt
	// (TestEmbeddedLibrary, run alone), starts its own runtime.
	if os.Getenv(childEnv) != "" || os.Getenv("PYRT_TEST_EMBEDDED") != "" {
		os.Exit(m.Run())
	}
	var err error
	testRT, err = New()
	if err != nil {
		fmt.Fprintf(os.Stderr, "pyrt Go tests need libpyrt (cargo build --release) and a libpython "+
			"($PYRT_LIBPYTHON): %v\n", err)
		os.Exit(1)
	}
	if err := addTestdataToPath(testRT); err != nil {
		fmt.Fprintln(os.Stderr, "setting up sys.path:", err)
		os.Exit(1)
	}
	code := m.Run()
	testRT.Close()
	os.Exit(code)
}

func addTestdataToPath(rt *Runtime) error {
	dir, err := filepath.Abs("testdata")
	if err != nil {
		return err
	}
	return rt.Run(context.Background(), "import sys\nif "+strconv.Quote(dir)+" not in sys.path: sys.path.insert(0, "+strconv.Quote(dir)+")")
}
