package pyrt

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A managed venv from PyPI (network, or pip's cache): WithRequirements with
// WithInstallProgress, in a child process (its own interpreter, started on
// the venv).
func TestManagedVenv(t *testing.T) {
	dir := t.TempDir()
	out := runChild(t, "managed-venv", "PYRT_GO_TEST_MANAGED_VENV="+filepath.Join(dir, "env"))
	if !strings.Contains(out, "progress: ") {
		t.Errorf("no progress lines:\n%s", out)
	}
}

func childManagedVenv(t *testing.T) {
	venv := os.Getenv("PYRT_GO_TEST_MANAGED_VENV")
	// A requirement that cannot be installed: ErrVenv naming it, no venv left.
	_, err := New(WithVenv(venv), WithRequirements("pyrt-no-such-package-x7q==9.9.9"), WithInstallProgress(func(string) {}))
	if !errors.Is(err, ErrVenv) || !strings.Contains(err.Error(), "pyrt-no-such-package-x7q") {
		t.Fatalf("New with a missing package: %v", err)
	}
	if _, err := os.Stat(venv); !os.IsNotExist(err) {
		t.Fatalf("a half-made venv was left: %v", err)
	}
	var lines []string
	rt, err := New(WithVenv(venv), WithRequirements("six==1.16.0"), WithInstallProgress(func(l string) { lines = append(lines, l) }))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	for _, l := range lines {
		t.Log("progress: " + l)
	}
	if v, err := rt.Eval(bg, "__import__('six').__version__"); v != "1.16.0" || err != nil {
		t.Fatalf("six: %v, %v", v, err)
	}
	if p, _ := rt.Eval(bg, "__import__('sys').prefix"); p != venv {
		t.Errorf("sys.prefix = %v, want %s", p, venv)
	}
}
