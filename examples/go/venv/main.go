// Command venv runs Python inside a virtual environment (the seed's
// examples/venv).
//
//	go run ./venv [libpython path] [venv path]
//	go run ./venv "" /path/to/venv      # the venv's own Python is loaded
//
// With pyrt.WithVenv, sys.prefix, sys.executable and site-packages are the
// venv's, so its packages import as they would under venv/bin/python. Given
// no libpython, pyrt asks the venv's interpreter which libpython it uses.
// Without a venv path, a temporary one (without packages) is created with
// the interpreter that goes with the libpython. If the venv has numpy or
// jinja2, they are used.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"

	pyrt "github.com/pyrt-dev/pyrt/bindings/go"
)

func main() {
	var libpython, venv string
	if len(os.Args) > 1 {
		libpython = os.Args[1]
	}
	if len(os.Args) > 2 {
		venv = os.Args[2]
	}
	if len(os.Args) > 3 {
		log.Fatalf("usage: %s [libpython path] [venv path]", os.Args[0])
	}
	var opts []pyrt.Option
	if libpython != "" {
		opts = append(opts, pyrt.WithLibpython(libpython))
	}
	if venv == "" {
		dir, err := os.MkdirTemp("", "pyrt-venv-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(dir)
		venv = filepath.Join(dir, "venv")
		python := pythonFor(libpython, opts)
		fmt.Printf("creating a virtual environment with %s\n", python)
		if out, err := exec.Command(python, "-m", "venv", "--without-pip", venv).CombinedOutput(); err != nil {
			log.Fatalf("python -m venv: %v\n%s", err, out)
		}
	}
	opts = append(opts, pyrt.WithVenv(venv))

	// Which libpython will be used, and why (nothing is loaded yet).
	d, err := pyrt.Discover(opts...)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(d)

	rt, err := pyrt.New(opts...)
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	ctx := context.Background()

	v, err := rt.Eval(ctx, `{
        "version": __import__("sys").version.split()[0],
        "prefix": __import__("sys").prefix,
        "base_prefix": __import__("sys").base_prefix,
        "executable": __import__("sys").executable,
        "in_venv": __import__("sys").prefix != __import__("sys").base_prefix,
        "site_packages": [p for p in __import__("sys").path if p.endswith("-packages")],
    }`)
	if err != nil {
		log.Fatal(err)
	}
	m := v.(map[string]any)
	fmt.Println()
	for _, k := range []string{"version", "prefix", "base_prefix", "executable", "in_venv", "site_packages"} {
		fmt.Printf("%-14s %v\n", k+":", m[k])
	}
	if m["in_venv"] != true {
		log.Fatal("not running inside the virtual environment")
	}

	// Packages of the venv, if it has them: numpy (a C extension) and jinja2.
	var pe *pyrt.PythonError
	err = rt.Run(ctx, "import numpy")
	switch {
	case err == nil:
		sums, err := rt.Eval(ctx, "numpy.arange(10).reshape(2, 5).sum(axis=1).tolist()")
		if err != nil {
			log.Fatal(err)
		}
		ver, _ := rt.Eval(ctx, "numpy.__version__")
		fmt.Printf("%-14s numpy %v: arange(10).reshape(2, 5).sum(axis=1) = %v\n", "numpy:", ver, sums)
	case errors.As(err, &pe) && pe.Type == "ModuleNotFoundError":
		fmt.Printf("%-14s not installed in this venv\n", "numpy:")
	default:
		log.Fatal(err)
	}
	err = rt.Run(ctx, "import jinja2")
	switch {
	case err == nil:
		page, err := rt.Eval(ctx, `jinja2.Template("Hello {{ name }}!").render(name="venv")`)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%-14s %v\n", "jinja2:", page)
	case errors.As(err, &pe) && pe.Type == "ModuleNotFoundError":
		fmt.Printf("%-14s not installed in this venv\n", "jinja2:")
	default:
		log.Fatal(err)
	}
}

// pythonFor returns an interpreter of the same version as the libpython that
// would be loaded: the one discovery reports, else <prefix>/bin/python3.X
// next to <prefix>/lib/libpython3.X.so (python3.Xt for a free-threaded
// libpython3.Xt.so: a venv made by the other build kind is refused), else
// python3.
func pythonFor(libpython string, opts []pyrt.Option) string {
	if d, err := pyrt.Discover(opts...); err == nil {
		if d.Executable != "" {
			return d.Executable
		}
		libpython = d.Libpython
	}
	m := regexp.MustCompile(`libpython(3\.\d+t?)`).FindStringSubmatch(filepath.Base(libpython))
	if m == nil {
		return "python3"
	}
	name := "python" + m[1]
	dir := filepath.Dir(libpython)
	for _, c := range []string{
		filepath.Join(dir, "..", "bin", name),
		filepath.Join(dir, "..", "..", "bin", name),
		filepath.Join("/usr/bin", name),
	} {
		if _, err := os.Stat(c); err == nil {
			return filepath.Clean(c)
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return "python3"
}
