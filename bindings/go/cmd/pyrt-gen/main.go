// Command pyrt-gen writes typed Go bindings for Python modules from their
// type hints: one Go file per module, with a function per public function
// (a method of the generated module type), a Go type per public class and
// per TypedDict, dataclass and NamedTuple, and the signatures it was
// generated for, checked when the binding is bound.
//
// Usage:
//
//	pyrt-gen [flags] module-or-file...
//
// A module is named as Python imports it (textwrap, jinja2, pkg.sub) or
// given as a .py or .pyi file (its directory is put on sys.path; a .pyi
// stub binds the module of the same name, without the signature check).
// From a //go:generate line:
//
//	//go:generate go run github.com/pyrt-dev/pyrt/bindings/go/cmd/pyrt-gen -pkg shapes -path . shapes.py
//
// The introspection (inspect.signature, typing.get_type_hints) runs inside
// pyrt, on the Python the flags (or pyrt.New's defaults: PYRT_LIBPYTHON,
// python3 on PATH, ...) select.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	pyrt "github.com/pyrt-dev/pyrt/bindings/go"
	"github.com/pyrt-dev/pyrt/bindings/go/internal/gen"
)

func main() {
	pkg := flag.String("pkg", "", "Go package name of the generated files (default: the output directory's name)")
	out := flag.String("out", ".", "output directory")
	venv := flag.String("venv", "", "virtual environment to import from (pyrt.WithVenv)")
	libpython := flag.String("libpython", "", "libpython to load (pyrt.WithLibpython)")
	library := flag.String("library", "", "libpyrt to load (pyrt.WithLibrary)")
	paths := flag.String("path", "", "directories to add to sys.path, separated by "+string(os.PathListSeparator))
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: pyrt-gen [flags] module-or-file.py...\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*pkg, *out, *venv, *libpython, *library, *paths, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "pyrt-gen:", err)
		os.Exit(1)
	}
}

func run(pkg, out, venv, libpython, library, paths string, targets []string) error {
	var opts []pyrt.Option
	if venv != "" {
		opts = append(opts, pyrt.WithVenv(venv))
	}
	if libpython != "" {
		opts = append(opts, pyrt.WithLibpython(libpython))
	}
	if library != "" {
		opts = append(opts, pyrt.WithLibrary(library))
	}
	if pkg == "" {
		abs, err := filepath.Abs(out)
		if err != nil {
			return err
		}
		pkg = strings.NewReplacer("-", "_", ".", "_").Replace(filepath.Base(abs))
	}
	rt, err := pyrt.New(opts...)
	if err != nil {
		return err
	}
	defer rt.Close()
	ctx := context.Background()
	var dirs []string
	if paths != "" {
		dirs = filepath.SplitList(paths)
	}
	for _, t := range targets {
		if strings.HasSuffix(t, ".py") || strings.HasSuffix(t, ".pyi") {
			dirs = append(dirs, filepath.Dir(t))
		}
	}
	for _, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return err
		}
		if err := rt.Run(ctx, "import sys\nif "+strconv.Quote(abs)+" not in sys.path: sys.path.insert(0, "+strconv.Quote(abs)+")"); err != nil {
			return err
		}
	}
	for _, t := range targets {
		src := t
		if strings.HasSuffix(t, ".py") || strings.HasSuffix(t, ".pyi") {
			abs, err := filepath.Abs(t)
			if err != nil {
				return err
			}
			src = abs
		}
		desc, err := pyrt.DescribeModule(ctx, rt, src)
		if err != nil {
			return fmt.Errorf("%s: %w", t, err)
		}
		m, err := gen.Parse(desc)
		if err != nil {
			return err
		}
		code, err := gen.Generate(m, gen.Config{Package: pkg, Source: filepath.Base(t), NoCheck: strings.HasSuffix(t, ".pyi")})
		if err != nil {
			return err
		}
		name := strings.ReplaceAll(m.Module, ".", "_") + "_pyrt.go"
		if err := os.WriteFile(filepath.Join(out, name), code, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "pyrt-gen: %s -> %s (%d functions, %d classes, %d structs)\n", t, filepath.Join(out, name), len(m.Funcs), len(m.Classes), len(m.Structs))
	}
	return nil
}
