package gentest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	pyrt "github.com/pyrt-dev/pyrt/bindings/go"
	"github.com/pyrt-dev/pyrt/bindings/go/internal/gen"
)

var (
	rt *pyrt.Runtime
	tm *Typedmod
	bg = context.Background()
)

// venvOpts: PYRT_TEST_VENV (with numpy and jinja2), as the package tests use it.
func venvOpts() []pyrt.Option {
	if v := os.Getenv("PYRT_TEST_VENV"); v != "" {
		return []pyrt.Option{pyrt.WithVenv(v)}
	}
	return nil
}

func TestMain(m *testing.M) {
	var err error
	rt, err = pyrt.New(venvOpts()...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gentest needs libpyrt and a libpython:", err)
		os.Exit(1)
	}
	dir, _ := filepath.Abs(".")
	if err := rt.Run(bg, "import sys; sys.path.insert(0, "+strconv.Quote(dir)+")"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := rt.Run(bg, "import numpy"); err != nil && os.Getenv("PYRT_TEST_REQUIRE_VENV") != "1" {
		fmt.Fprintln(os.Stderr, "gentest: skipped: typedmod.py needs numpy (set PYRT_TEST_VENV to a venv with numpy and jinja2)")
		os.Exit(0)
	}
	if tm, err = BindTypedmod(bg, rt); err != nil {
		fmt.Fprintln(os.Stderr, "binding typedmod:", err)
		os.Exit(1)
	}
	code := m.Run()
	tm.Close()
	rt.Close()
	os.Exit(code)
}

// must returns v; an error fails the test (as a panic, which names the call's line).
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func eq(t *testing.T, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}

func ptr[T any](v T) *T { return &v }

func TestScalars(t *testing.T) {
	eq(t, must(tm.Add(bg, 2, 40)), int64(42))
	eq(t, must(tm.Scale(bg, 1.5, nil)), 3.0)
	eq(t, must(tm.Scale(bg, 1.5, &ScaleOptions{Factor: ptr(4.0)})), 6.0)
	eq(t, must(tm.Greet(bg, "go", nil)), "hello go!")
	eq(t, must(tm.Greet(bg, "go", &GreetOptions{Punctuation: ptr("?"), Loud: ptr(true)})), "HELLO GO?")
	eq(t, must(tm.IsEven(bg, 4)), true)
	eq(t, len(must(tm.Checksum(bg, []byte("abc")))), 32)
	if err := tm.Nothing(bg, 7); err != nil {
		t.Fatal(err)
	}
	eq(t, must(tm.Color(bg, "green")), int64(2))
	eq(t, must(tm.Untyped(bg, "ab", &UntypedOptions{Y: ptr(int64(2))})), "abab")
	eq(t, must(tm.Summed(bg, []int64{1, 2, 3})), int64(6))
	eq(t, must(tm.Options(bg, &OptionsOptions{Kwargs: map[string]any{"a": "b"}})), map[string]string{"a": "b"})
}

func TestContainers(t *testing.T) {
	eq(t, must(tm.Squares(bg, []int64{1, 2, 3})), []int64{1, 4, 9})
	eq(t, must(tm.WordLengths(bg, []string{"go", "py"})), map[string]int64{"go": 2, "py": 2})
	eq(t, must(tm.ByLength(bg, []string{"a", "bb", "cc"})), map[int64][]string{1: {"a"}, 2: {"bb", "cc"}})
	eq(t, must(tm.DivMod(bg, 7, 2)), [2]int64{3, 1})
	d := must(tm.Describe(bg, 3))
	eq(t, d.V0, "n=3")
	eq(t, d.V1, int64(30))
	eq(t, d.V2, true)
	eq(t, must(tm.FirstHalf(bg, struct {
		V0 string
		V1 int64
	}{"ab", 2})), "abab")
	eq(t, must(tm.Find(bg, []string{"a", "b"}, "b")), ptr(int64(1)))
	eq(t, must(tm.Find(bg, []string{"a"}, "z")), (*int64)(nil))
	eq(t, must(tm.MaybeName(bg, nil)), "nobody")
	eq(t, must(tm.MaybeName(bg, &MaybeNameOptions{Name: ptr("ann")})), "ann")
}

func TestStructs(t *testing.T) {
	eq(t, must(tm.Midpoint(bg, Point{0, 0}, Point{2, 4})), Point{1, 2})
	eq(t, must(tm.Grow(bg, Box{Name: "b", Width: 1, Tags: []string{"x"}}, 2)), Box{Name: "b", Width: 3, Tags: []string{"x", "grown"}})
	eq(t, must(tm.Movie(bg, "Heat", 1995)), Movie{Title: "Heat", Year: 1995})
	eq(t, must(tm.Titles(bg, []Movie{{"A", 1}, {"B", 2}})), []string{"A", "B"})
}

func TestIterators(t *testing.T) {
	var got []int64
	for v, err := range tm.Count(bg, 5) {
		if err != nil {
			t.Fatal(err)
		}
		if v == 3 {
			break
		}
		got = append(got, v)
	}
	eq(t, got, []int64{0, 1, 2})
	n := 0
	for p, err := range tm.Pairs(bg, 3) {
		if err != nil {
			t.Fatal(err)
		}
		eq(t, p.V1, strconv.FormatInt(p.V0, 10))
		n++
	}
	eq(t, n, 3)
}

func TestAsync(t *testing.T) {
	fut := must(tm.SlowAdd(bg, 1, 2))
	eq(t, must(fut.Wait(bg)), int64(3))
	p := must(tm.Pause(bg))
	if _, err := p.Wait(bg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bg, time.Millisecond)
	defer cancel()
	if f, err := tm.SlowAdd(ctx, 1, 2); err == nil {
		if _, err := f.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("cancelled wait: %v", err)
		}
	}
}

func TestNumpy(t *testing.T) {
	xs := []float64{1, 2, 3, 6}
	eq(t, must(tm.Mean(bg, xs)), 3.0)
	eq(t, must(tm.Doubled(bg, xs)), []float64{2, 4, 6, 12})
}

func TestClass(t *testing.T) {
	c := must(tm.NewCounter(bg, &CounterOptions{Start: ptr(int64(10))}))
	defer c.Close()
	eq(t, must(c.Incr(bg, nil)), int64(11))
	eq(t, must(c.Incr(bg, &CounterIncrOptions{By: ptr(int64(5))})), int64(16))
	d := must(c.Spawn(bg))
	defer d.Close()
	eq(t, must(d.Value(bg)), int64(16))
	eq(t, must(tm.Total(bg, d)), int64(16))
	eq(t, must(c.Corner(bg, Point{1, 1})), Point{17, 17})
	c0 := must(tm.NewCounter(bg, nil))
	eq(t, must(c0.Value(bg)), int64(0))
	c0.Close()
}

func TestErrors(t *testing.T) {
	_, err := tm.Big(bg)
	if !errors.Is(err, pyrt.ErrConversion) || !strings.Contains(err.Error(), "typedmod.big") {
		t.Errorf("big int: %v", err)
	}
	err = tm.Fail(bg, "boom")
	var pe *pyrt.PythonError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "typedmod.fail") || !strings.Contains(err.Error(), "boom") {
		t.Errorf("fail: %v", err)
	}
	// A Callable parameter is any: a Python callable passes as an object.
	f := must(rt.EvalObject(bg, "lambda x: x + 1"))
	defer f.Close()
	eq(t, must(tm.Apply(bg, f, 1)), int64(2))
}

// TestStale changes a signature after generation: binding names it.
func TestStale(t *testing.T) {
	if err := rt.Run(bg, "import typedmod\n_orig = typedmod.add\ndef _add(a: int, b: int, c: int = 0) -> int: return a + b + c\ntypedmod.add = _add"); err != nil {
		t.Fatal(err)
	}
	_, err := BindTypedmod(bg, rt)
	if err := rt.Run(bg, "typedmod.add = _orig"); err != nil {
		t.Fatal(err)
	}
	var se *pyrt.StaleBindingError
	if !errors.Is(err, pyrt.ErrStaleBinding) || !errors.As(err, &se) || se.Name != "add" {
		t.Fatalf("stale binding: %v", err)
	}
	t.Log(err)
	if !strings.Contains(err.Error(), "typedmod.add") || !strings.Contains(err.Error(), "c: int = 0") {
		t.Errorf("the error should name the function and the difference: %v", err)
	}
	// A function that is gone is named too.
	if err := rt.Run(bg, "_fail = typedmod.fail\ndel typedmod.fail"); err != nil {
		t.Fatal(err)
	}
	defer rt.Run(bg, "typedmod.fail = _fail")
	_, err = BindTypedmod(bg, rt)
	if !errors.As(err, &se) || se.Name != "fail" || !strings.Contains(err.Error(), "no longer exists") {
		t.Fatalf("missing function: %v", err)
	}
}

// TestGolden: the committed binding is what pyrt-gen generates now, on this Python.
func TestGolden(t *testing.T) {
	desc := must(pyrt.DescribeModule(bg, rt, "typedmod"))
	m := must(gen.Parse(desc))
	if strings.HasPrefix(m.Python, "3.8.") || strings.HasPrefix(m.Python, "3.9.") {
		// Before 3.10 the file differs by design: notes say which annotations
		// (int | None) were read by the fallback parser.
		t.Skip("the committed binding was generated on Python 3.10+")
	}
	code := must(gen.Generate(m, gen.Config{Package: "gentest", Source: "typedmod.py"}))
	old := must(os.ReadFile("typedmod_pyrt.go"))
	strip := func(b []byte) string { _, rest, _ := strings.Cut(string(b), "\n"); return rest }
	if strip(code) != strip(old) {
		os.WriteFile(filepath.Join(os.TempDir(), "typedmod_pyrt.go.new"), code, 0o644)
		t.Errorf("typedmod_pyrt.go is not what pyrt-gen generates on Python %s: run go generate", m.Python)
	}
}

// TestThirdParty generates bindings for stdlib modules and jinja2 (code
// nobody here wrote), checks them with go vet and runs some of them.
func TestThirdParty(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a program")
	}
	dir := t.TempDir()
	mods := []string{"statistics", "textwrap", "difflib", "json", "fractions"}
	if os.Getenv("PYRT_TEST_VENV") != "" {
		mods = append(mods, "jinja2")
	}
	for _, mod := range mods {
		desc, err := pyrt.DescribeModule(bg, rt, mod)
		if err != nil {
			t.Fatalf("%s: %v", mod, err)
		}
		m := must(gen.Parse(desc))
		code, err := gen.Generate(m, gen.Config{Package: "main", Source: mod})
		if err != nil {
			t.Fatalf("%s: %v", mod, err)
		}
		if err := os.WriteFile(filepath.Join(dir, mod+"_pyrt.go"), code, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d functions, %d classes, %d structs, %d skipped", mod, len(m.Funcs), len(m.Classes), len(m.Structs), len(m.Skipped))
	}
	modRoot, _ := filepath.Abs("../..")
	gomod := "module thirdparty\n\ngo 1.25.0\n\nrequire github.com/pyrt-dev/pyrt/bindings/go v0.0.0\n\nreplace github.com/pyrt-dev/pyrt/bindings/go => " + modRoot + "\n"
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644)
	sum, _ := os.ReadFile(filepath.Join(modRoot, "go.sum"))
	os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644)
	main := `package main

import (
	"context"
	"fmt"
	"os"

	pyrt "github.com/pyrt-dev/pyrt/bindings/go"
)

func check(err error) {
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
}

func main() {
	ctx := context.Background()
	var opts []pyrt.Option
	if v := os.Getenv("PYRT_TEST_VENV"); v != "" {
		opts = append(opts, pyrt.WithVenv(v))
	}
	rt, err := pyrt.New(opts...)
	check(err)
	defer rt.Close()
	st, err := BindStatistics(ctx, rt)
	check(err)
	mean, err := st.Mean(ctx, []any{1, 2, 3, 4})
	check(err)
	fmt.Println("statistics.mean:", mean)
	tw, err := BindTextwrap(ctx, rt)
	check(err)
	filled, err := tw.Fill(ctx, "the quick brown fox jumps over the lazy dog", &FillOptions{Width: ptr(int64(15))})
	check(err)
	fmt.Printf("textwrap.fill: %q\n", filled)
	dl, err := BindDifflib(ctx, rt)
	check(err)
	close, err := dl.GetCloseMatches(ctx, "appel", []any{"ape", "apple", "peach"}, nil)
	check(err)
	fmt.Println("difflib.get_close_matches:", close)
	js, err := BindJson(ctx, rt)
	check(err)
	s, err := js.Dumps(ctx, map[string]any{"a": 1}, &DumpsOptions{SortKeys: ptr(true)})
	check(err)
	fmt.Println("json.dumps:", s)
	fr, err := BindFractions(ctx, rt)
	check(err)
	f, err := fr.NewFraction(ctx, &FractionOptions{Numerator: ptr(int64(3)), Denominator: 6})
	check(err)
	defer f.Close()
	fmt.Println("fractions.Fraction:", f.Object())
	extra(ctx, rt)
}

func ptr[T any](v T) *T { return &v }
`
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(main), 0o644)
	extra := "package main\n\nimport (\n\t\"context\"\n\n\tpyrt \"github.com/pyrt-dev/pyrt/bindings/go\"\n)\n\nfunc extra(ctx context.Context, rt *pyrt.Runtime) {}\n"
	if os.Getenv("PYRT_TEST_VENV") != "" {
		extra = `package main

import (
	"context"
	"fmt"

	pyrt "github.com/pyrt-dev/pyrt/bindings/go"
)

func extra(ctx context.Context, rt *pyrt.Runtime) {
	j, err := BindJinja2(ctx, rt)
	check(err)
	env, err := j.NewEnvironment(ctx, nil)
	check(err)
	defer env.Close()
	tpl, err := env.FromString(ctx, "Hello {{ name }}!", nil)
	check(err)
	defer tpl.Close()
	out, err := tpl.Render(ctx, []any{map[string]any{"name": "Go"}}, nil)
	check(err)
	fmt.Println("jinja2:", out)
}
`
	}
	os.WriteFile(filepath.Join(dir, "extra.go"), []byte(extra), 0o644)
	env := append(os.Environ(), "GOFLAGS=-mod=mod")
	for _, args := range [][]string{{"vet", "."}, {"run", "."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		t.Logf("go %s:\n%s", strings.Join(args, " "), out)
		if err != nil {
			t.Fatalf("go %s: %v", strings.Join(args, " "), err)
		}
	}
	_ = runtime.GOOS
}
