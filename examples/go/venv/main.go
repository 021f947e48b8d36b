// Command venv runs Python inside a virtual environment.
//
//	go run ./venv [libpython path] [venv path]
//
// Without a venv path, a temporary one is created (python -m venv) with the
// interpreter matching the libpython. The venv's bin/python becomes
// sys.executable, so sys.prefix and site-packages are the venv's.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"

	pyrt "github.com/pyrt-dev/pyrt/bindings/go"
)

func main() {
	libpython := os.Getenv("PYRT_LIBPYTHON")
	if len(os.Args) > 1 && os.Args[1] != "" {
		libpython = os.Args[1]
	}
	var venv string
	if len(os.Args) > 2 {
		venv = os.Args[2]
	} else {
		dir, err := os.MkdirTemp("", "pyrt-venv-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(dir)
		venv = filepath.Join(dir, "venv")
		python := pythonFor(libpython)
		fmt.Printf("creating a virtual environment with %s\n", python)
		if out, err := exec.Command(python, "-m", "venv", "--without-pip", venv).CombinedOutput(); err != nil {
			log.Fatalf("python -m venv: %v\n%s", err, out)
		}
	}
	venv, _ = filepath.Abs(venv)

	opts := []pyrt.Option{pyrt.WithPythonExecutable(filepath.Join(venv, "bin", "python"))}
	if libpython != "" {
		opts = append(opts, pyrt.WithLibpython(libpython))
	}
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
        "site_packages": [p for p in __import__("sys").path if p.endswith("site-packages")],
    }`)
	if err != nil {
		log.Fatal(err)
	}
	m := v.(map[string]any)
	for _, k := range []string{"version", "prefix", "base_prefix", "executable", "in_venv", "site_packages"} {
		fmt.Printf("%-14s %v\n", k+":", m[k])
	}
	if m["in_venv"] != true {
		log.Fatal("not running inside the virtual environment")
	}
}

// pythonFor returns an interpreter of the same version as libpython
// (<prefix>/bin/python3.X next to <prefix>/lib/libpython3.X.so), or python3.
func pythonFor(libpython string) string {
	m := regexp.MustCompile(`libpython(3\.\d+)`).FindStringSubmatch(filepath.Base(libpython))
	if m == nil {
		return "python3"
	}
	name := "python" + m[1]
	dir := filepath.Dir(libpython)
	for _, c := range []string{
		filepath.Join(dir, "..", "bin", name),
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
