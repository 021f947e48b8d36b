package pyrt

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Virtualenv and discovery tests. A process hosts one interpreter, so every
// scenario that starts Python in a venv runs in a child process (runChild).
//
// The venv comes from $PYRT_TEST_VENV: a real virtualenv of the same Python
// version as $PYRT_LIBPYTHON with numpy and jinja2 installed and no pip
// (scripts/make-venvs.sh builds one per CPython; scripts/test-go.sh sets the
// variable). Without it these tests are skipped, unless
// $PYRT_TEST_REQUIRE_VENV=1 (set by scripts/test-go.sh) makes that a failure.

const (
	venvEnv        = "PYRT_TEST_VENV"
	requireVenvEnv = "PYRT_TEST_REQUIRE_VENV"
	// libpythonEnv carries $PYRT_LIBPYTHON into children that must run
	// without it (to prove that the venv alone selects the library).
	libpythonEnv = "PYRT_TEST_LIBPYTHON"
)

var venvChildren = map[string]func(*testing.T){
	"venv":             childVenv,
	"venv-system-site": childVenvSystemSite,
	"discover-fail":    childDiscoverFail,
}

// testVenv returns the absolute path of $PYRT_TEST_VENV, or skips.
func testVenv(t *testing.T) string {
	t.Helper()
	v := os.Getenv(venvEnv)
	if v == "" {
		if os.Getenv(requireVenvEnv) == "1" {
			t.Fatalf("$%s is not set (scripts/make-venvs.sh prints the venv of each Python)", venvEnv)
		}
		t.Skipf("$%s not set: no virtualenv to test with (see scripts/make-venvs.sh)", venvEnv)
	}
	abs, err := filepath.Abs(v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(abs, "pyvenv.cfg")); err != nil {
		t.Fatalf("$%s=%s is not a virtualenv: %v", venvEnv, v, err)
	}
	return abs
}

// runChildEnv is runChild with control over the environment: the variables
// named in drop are removed, then set ("K=V") is added.
func runChildEnv(t *testing.T, name string, drop []string, set ...string) string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(drop, k) {
			env = append(env, kv)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestChild$", "-test.v", "-test.count=1")
	cmd.Env = append(append(env, childEnv+"="+name), set...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child %q failed: %v\n%s", name, err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestChild") {
		t.Fatalf("child %q did not run:\n%s", name, out)
	}
	return string(out)
}

// TestVenv starts Python with WithVenv alone ($PYRT_LIBPYTHON removed: the
// venv's interpreter names the library) and checks the venv is what Python
// sees: prefix, executable, packages, subprocess and multiprocessing.
func TestVenv(t *testing.T) {
	venv := testVenv(t)
	runChildEnv(t, "venv", []string{"PYRT_LIBPYTHON"},
		venvEnv+"="+venv, libpythonEnv+"="+os.Getenv("PYRT_LIBPYTHON"))
}

// TestVenvSystemSitePackages: WithSystemSitePackages(true) makes the base
// installation's packages (pip) visible; a library of another version than
// the venv is ErrConfig.
func TestVenvSystemSitePackages(t *testing.T) {
	venv := testVenv(t)
	runChildEnv(t, "venv-system-site", []string{"PYRT_LIBPYTHON"},
		venvEnv+"="+venv, libpythonEnv+"="+os.Getenv("PYRT_LIBPYTHON"))
}

func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

func within(path, dir string) bool {
	for _, d := range []string{dir, realPath(dir)} {
		for _, p := range []string{path, realPath(path)} {
			if p == d || strings.HasPrefix(p, d+string(filepath.Separator)) {
				return true
			}
		}
	}
	return false
}

func realPath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

func childVenv(t *testing.T) {
	venv := testVenv(t)
	user, _ := filepath.Abs("testdata/venvuser")
	rt, err := New(WithVenv(venv), WithSitePaths(user))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()

	info, err := rt.Info(bg)
	if err != nil {
		t.Fatal(err)
	}
	if realPath(info.Prefix) != realPath(venv) {
		t.Errorf("sys.prefix = %s, want the venv %s", info.Prefix, venv)
	}
	if want := filepath.Join(venv, "bin", "python"); info.Executable != want {
		t.Errorf("sys.executable = %s, want %s", info.Executable, want)
	}
	if lib := os.Getenv(libpythonEnv); lib != "" && !sameFile(info.Libpython, lib) {
		t.Errorf("the venv selected %s, want the library of its Python %s", info.Libpython, lib)
	}
	if v, err := rt.Eval(bg, "__import__('sys').argv"); err != nil || !equalValue(v, []any{""}) {
		t.Errorf("sys.argv = %#v, %v; want [\"\"]", v, err)
	}
	if err := rt.Run(bg, "import sys, subprocess, numpy, jinja2"); err != nil {
		t.Fatalf("importing the venv's packages: %v", err)
	}

	// numpy, a C extension: its symbols resolve against the loaded libpython.
	if v, err := rt.Eval(bg, "numpy.arange(10).reshape(2, 5).sum(axis=1).tolist()"); err != nil ||
		!equalValue(v, []any{int64(10), int64(35)}) {
		t.Errorf("numpy row sums = %v, %v; want [10 35]", v, err)
	}
	for _, mod := range []string{"numpy", "jinja2"} {
		if f, err := rt.Eval(bg, mod+".__file__"); err != nil || !within(f.(string), venv) {
			t.Errorf("%s imported from %v (%v), want inside the venv", mod, f, err)
		}
	}
	v, err := rt.Eval(bg, `jinja2.Template("Hello {{ name }}! {% for i in xs %}[{{ i }}]{% endfor %}").render(name="venv", xs=[1, 2, 3])`)
	if err != nil || v != "Hello venv! [1][2][3]" {
		t.Errorf("jinja2 render = %q, %v", v, err)
	}

	// pip exists only in the base installation: invisible from the venv.
	err = rt.Run(bg, "import pip")
	var pe *PythonError
	if !errors.As(err, &pe) || pe.Type != "ModuleNotFoundError" {
		t.Errorf("import pip in the venv: %v, want ModuleNotFoundError", err)
	}
	if v, err := rt.Eval(bg, "[p for p in sys.path if p.endswith('-packages') and not p.startswith(sys.prefix)]"); err != nil ||
		!equalValue(v, []any{}) {
		t.Errorf("base site-packages on sys.path: %v, %v", v, err)
	}
	if v, err := rt.Eval(bg, "sys.path[-1]"); err != nil || v != user {
		t.Errorf("WithSitePaths: sys.path[-1] = %v, %v; want %s", v, err, user)
	}

	// sys.executable is a real interpreter of this version, in the venv.
	v, err = rt.Eval(bg, `subprocess.run([sys.executable, "-c", "import sys, numpy; print(sys.version_info[:2] == (%d, %d)); print(sys.prefix); print(int(numpy.arange(4).sum()))" % sys.version_info[:2]], capture_output=True, text=True, check=True).stdout.split("\n")`)
	if err != nil {
		t.Fatalf("subprocess.run(sys.executable): %v", err)
	}
	if lines, _ := v.([]any); len(lines) < 3 || lines[0] != "True" || realPath(lines[1].(string)) != realPath(venv) || lines[2] != "6" {
		t.Errorf("subprocess of sys.executable printed %q, want True / the venv / 6", v)
	}

	// multiprocessing: workers run sys.executable and import the user's
	// module (from WithSitePaths) by name.
	for _, method := range []string{"spawn", "forkserver"} {
		var res struct {
			Squares []int   `json:"squares"`
			Workers [][]any `json:"workers"`
			Parent  int     `json:"parent"`
		}
		if err := rt.CallInto(bg, &res, "pyrt_venv_user", "pool_map", method, 10); err != nil {
			t.Errorf("%s Pool.map: %v", method, err)
			continue
		}
		t.Logf("%s: Pool.map -> %v; workers (executable, prefix, pid): %v", method, res.Squares, res.Workers)
		if want := []int{0, 1, 4, 9, 16, 25, 36, 49, 64, 81}; !reflect.DeepEqual(res.Squares, want) {
			t.Errorf("%s Pool.map = %v, want %v", method, res.Squares, want)
		}
		if res.Parent != os.Getpid() {
			t.Errorf("%s: Python's os.getpid() = %d, Go's %d", method, res.Parent, os.Getpid())
		}
		for _, w := range res.Workers {
			if len(w) != 3 || w[0] != info.Executable || realPath(fmt.Sprint(w[1])) != realPath(venv) ||
				fmt.Sprint(w[2]) == fmt.Sprint(os.Getpid()) {
				t.Errorf("%s worker reports %v, want [%s %s <another pid>]", method, w, info.Executable, venv)
			}
		}
	}
}

// mismatchedLibpythons returns up to two libpythons a venv of d's Python
// must refuse: the other build kind of the same minor (3.13 for 3.13t and
// the other way round) when one is installed, and another minor.
func mismatchedLibpythons(t *testing.T, d *Discovery) []*Discovery {
	t.Helper()
	minor := strings.TrimSuffix(d.Version, "t")
	var kind, version *Discovery
	for _, lib := range otherLibpythons() {
		o, err := Discover(WithLibpython(lib))
		if err != nil || o.Version == "" || sameFile(o.Libpython, d.Libpython) {
			continue
		}
		if o.Version != d.Version && strings.TrimSuffix(o.Version, "t") == minor && kind == nil {
			kind = o
		}
	}
	// Another minor, 3.8 up to past the newest tested one, as discovery
	// finds it (pyenv's shims, python3.X on PATH, common locations).
	for m := 8; m <= newestTestedMinor+4 && version == nil; m++ {
		v := fmt.Sprintf("3.%d", m)
		if v == minor {
			continue
		}
		if o, err := Discover(WithPythonVersion(v)); err == nil && strings.TrimSuffix(o.Version, "t") != minor {
			version = o
		}
	}
	var out []*Discovery
	for _, o := range []*Discovery{kind, version} {
		if o != nil {
			out = append(out, o)
		}
	}
	if kind == nil {
		t.Logf("no library of the other build kind of %s installed: not tested", minor)
	}
	if len(out) == 0 {
		t.Logf("no other libpython than %s found: the mismatch is not tested", d.Libpython)
	}
	return out
}

func childVenvSystemSite(t *testing.T) {
	venv := testVenv(t)
	d, err := Discover(WithVenv(venv))
	if err != nil {
		t.Fatal(err)
	}
	// A library of another version than the venv's, or of the other build
	// kind (a free-threaded 3.13t venv and a GIL 3.13 library, or the other
	// way round: their site-packages, lib/python3.13t/ and lib/python3.13/,
	// hold different ABIs), is a config error, and the failed attempts leave
	// the process able to start the right one.
	for _, other := range mismatchedLibpythons(t, d) {
		_, err = New(WithVenv(venv), WithLibpython(other.Libpython))
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), venv) {
			t.Errorf("venv %s with %s: %v, want ErrConfig naming the venv", d.Version, other.Libpython, err)
		}
		t.Logf("venv %s with Python %s: %v", d.Version, other.Version, err)
	}
	opts := []Option{WithVenv(venv), WithSystemSitePackages(true)}
	if lib := os.Getenv(libpythonEnv); lib != "" {
		opts = append(opts, WithLibpython(lib))
	}
	rt, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if err := rt.Run(bg, "import sys, pip, numpy"); err != nil {
		t.Fatalf("import pip with system site-packages: %v", err)
	}
	v, err := rt.Eval(bg, "[sys.prefix, sys.executable, pip.__file__, numpy.__file__]")
	if err != nil {
		t.Fatal(err)
	}
	got := v.([]any)
	if realPath(got[0].(string)) != realPath(venv) || got[1] != filepath.Join(venv, "bin", "python") {
		t.Errorf("sys.prefix, sys.executable = %v, %v; want the venv's", got[0], got[1])
	}
	if within(got[2].(string), venv) {
		t.Errorf("pip came from %v, want the base installation", got[2])
	}
	if !within(got[3].(string), venv) {
		t.Errorf("numpy came from %v, want the venv (its site-packages comes first)", got[3])
	}
}

// TestDiscover: the report names the library New would load and why.
func TestDiscover(t *testing.T) {
	info, err := testRT.Info(bg)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Discover()
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, d)
	if lib := os.Getenv("PYRT_LIBPYTHON"); lib != "" {
		if !sameFile(d.Libpython, lib) || !sameFile(d.Libpython, info.Libpython) {
			t.Errorf("Discover() = %s, want $PYRT_LIBPYTHON %s", d.Libpython, lib)
		}
		last := d.Candidates[len(d.Candidates)-1]
		if last.Source != "PYRT_LIBPYTHON" {
			t.Errorf("accepted candidate %v, want PYRT_LIBPYTHON", last)
		}
	}
	// "3.12", or "3.13t" for a free-threaded build.
	if !strings.HasPrefix(info.PythonVersion, strings.TrimSuffix(d.Version, "t")+".") ||
		strings.HasSuffix(d.Version, "t") != info.FreeThreaded || d.FreeThreaded != info.FreeThreaded {
		t.Errorf("Discover().Version = %q, FreeThreaded %v; running Python %s, FreeThreaded %v",
			d.Version, d.FreeThreaded, info.PythonVersion, info.FreeThreaded)
	}
	if d.Untested == info.Tested {
		t.Errorf("Discover().Untested = %v, Info.Tested = %v", d.Untested, info.Tested)
	}
	if d.Warning != "" {
		t.Logf("warning: %s", d.Warning)
	}
	if s := d.String(); !strings.Contains(s, "[taken]") || !strings.Contains(s, d.Libpython) {
		t.Errorf("String():\n%s", s)
	}

	d, err = Discover(WithLibpython(info.Libpython))
	if err != nil || d.Libpython != info.Libpython || len(d.Candidates) != 1 || !d.Candidates[0].Accepted {
		t.Errorf("Discover(WithLibpython) = %+v, %v", d, err)
	}

	if _, err := Discover(WithPythonVersion("3.7")); !errors.Is(err, ErrConfig) {
		t.Errorf("WithPythonVersion(3.7): %v, want ErrConfig", err)
	}
	if _, err := Discover(WithPythonVersion("banana")); !errors.Is(err, ErrConfig) {
		t.Errorf("WithPythonVersion(banana): %v, want ErrConfig", err)
	}
	if _, err := Discover(WithVenv(t.TempDir())); !errors.Is(err, ErrConfig) {
		t.Errorf("WithVenv(not a venv): %v, want ErrConfig", err)
	}
	// A constraint the named library satisfies is fine ("3.X": it has no
	// "t", and a free-threaded 3.X satisfies it).
	minor := strings.TrimSuffix(d.Version, "t")
	if d2, err := Discover(WithLibpython(info.Libpython), WithPythonVersion(minor)); err != nil || d2.Version != d.Version {
		t.Errorf("WithPythonVersion(%s): %+v, %v", minor, d2, err)
	}
	if _, err := Discover(WithPythonVersion("3.15")); err != nil && !errors.Is(err, ErrLibpythonNotFound) {
		t.Errorf("WithPythonVersion(3.15), newer than any tested: %v, want accepted (found or ErrLibpythonNotFound)", err)
	}
}

// Discovery.String names the build kind and the untested state.
func TestDiscoveryString(t *testing.T) {
	d := &Discovery{Libpython: "/x/libpython3.15t.so.1.0", Version: "3.15t", FreeThreaded: true, Untested: true,
		Warning:    "`python3` on PATH is Python 3.7",
		Candidates: []Candidate{{Source: "common location", Path: "/x/libpython3.15t.so.1.0", Accepted: true, Reason: "file exists"}}}
	want := "libpython:  /x/libpython3.15t.so.1.0 (3.15t, free-threaded, untested)\n" +
		"warning:    `python3` on PATH is Python 3.7\n" +
		"  [taken]    common location: /x/libpython3.15t.so.1.0: file exists\n"
	if got := d.String(); got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
}

func checkReport(t *testing.T, d *Discovery) {
	t.Helper()
	if d.Libpython == "" || d.Version == "" || len(d.Candidates) == 0 {
		t.Fatalf("incomplete report: %+v", d)
	}
	for i, c := range d.Candidates {
		if c.Source == "" || c.Reason == "" {
			t.Errorf("candidate %d has no source or reason: %+v", i, c)
		}
		if c.Accepted != (i == len(d.Candidates)-1) {
			t.Errorf("candidate %d accepted=%v; only the last one should be: %+v", i, c.Accepted, d.Candidates)
		}
	}
	if last := d.Candidates[len(d.Candidates)-1]; last.Path != d.Libpython && !sameFile(last.Path, d.Libpython) &&
		!strings.HasPrefix(last.Source, "interpreter") {
		t.Errorf("accepted candidate %+v is not the reported library %s", last, d.Libpython)
	}
}

// TestDiscoverVenv: with WithVenv the venv's interpreter names the library.
func TestDiscoverVenv(t *testing.T) {
	venv := testVenv(t)
	d, err := Discover(WithVenv(venv))
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, d)
	info, err := testRT.Info(bg)
	if err != nil {
		t.Fatal(err)
	}
	if d.Venv != venv || d.Executable != filepath.Join(venv, "bin", "python") || !sameFile(d.Libpython, info.Libpython) {
		t.Errorf("Discover(WithVenv) = %+v; want venv %s, its bin/python and %s", d, venv, info.Libpython)
	}
	if !strings.Contains(d.Candidates[0].Source, filepath.Join(venv, "bin", "python")) {
		t.Errorf("first candidate %+v, want the venv's interpreter", d.Candidates[0])
	}
	if _, err := Discover(WithVenv(venv), WithPythonVersion(otherMinor(d.Version))); !errors.Is(err, ErrConfig) {
		t.Errorf("venv %s with WithPythonVersion(%s): %v, want ErrConfig", d.Version, otherMinor(d.Version), err)
	}
}

func otherMinor(v string) string {
	if v == "3.12" {
		return "3.11"
	}
	return "3.12"
}

// TestDiscoverFailure: with nothing to find, the error lists every
// candidate, and New fails with the same text.
func TestDiscoverFailure(t *testing.T) {
	runChildEnv(t, "discover-fail", []string{"PYRT_LIBPYTHON", "PATH", "PYENV_ROOT", "HOME"},
		"PATH=", "PYENV_ROOT=/nonexistent/pyenv", "HOME=/nonexistent/home")
}

func childDiscoverFail(t *testing.T) {
	// python3 is not on PATH and pyenv is elsewhere: only the system
	// directories remain, which lack at least one version on most machines.
	for minor := newestTestedMinor; minor >= 8; minor-- {
		v := fmt.Sprintf("3.%d", minor)
		d, err := Discover(WithPythonVersion(v))
		if err == nil {
			t.Logf("3.%d found in a common location: %s", minor, d.Libpython)
			continue
		}
		if !errors.Is(err, ErrLibpythonNotFound) {
			t.Fatalf("Discover(%s) with nothing to find: %v, want ErrLibpythonNotFound", v, err)
		}
		for _, want := range []string{"PYRT_LIBPYTHON", "`python3." + fmt.Sprint(minor) + "` on PATH", "`python3` on PATH", "common locations", "libpython" + v} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the error does not mention %q:\n%v", want, err)
			}
		}
		_, newErr := New(WithPythonVersion(v))
		if !errors.Is(newErr, ErrLibpythonNotFound) || newErr.Error() != err.Error() {
			t.Errorf("New: %v\nwant the same error as Discover:\n%v", newErr, err)
		}
		t.Logf("the failure explains itself:\n%v", err)
		return
	}
	t.Log("every Python version is installed in a system directory: no failure to provoke")
}
