// Command ffigen writes the Go binding's two foreign-call implementations
// (ffi_gen_purego.go, ffi_gen_cgo.go) from the declaration list in ffi.go
// and the prototypes in include/pyrt.h. It runs from bindings/go through
// `go generate` (the directive is in ffi.go); TestGeneratedFFI checks that
// the committed output is current.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pyrt-dev/pyrt/bindings/go/internal/ffigen"
)

func main() {
	dir := flag.String("dir", ".", "the bindings/go directory")
	header := flag.String("header", filepath.Join("..", "..", "include", "pyrt.h"), "pyrt.h, relative to -dir")
	flag.Parse()
	if err := run(*dir, *header); err != nil {
		fmt.Fprintln(os.Stderr, "ffigen:", err)
		os.Exit(1)
	}
}

func run(dir, header string) error {
	decl, err := os.ReadFile(filepath.Join(dir, "ffi.go"))
	if err != nil {
		return err
	}
	h, err := os.ReadFile(filepath.Join(dir, header))
	if err != nil {
		return err
	}
	purego, cgo, err := ffigen.Generate(decl, h)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ffi_gen_purego.go"), purego, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "ffi_gen_cgo.go"), cgo, 0o644)
}
