// A Go program outside the pyrt repository, as a user writes it after
// `go get github.com/pyrt-dev/pyrt/bindings/go`. scripts/test-install.sh
// copies it into a temporary module (with a replace directive pointing at
// this checkout), builds it with CGO_ENABLED=0 and runs it with no
// PYRT_* environment: libpyrt must come from the copy embedded in the
// module, libpython from discovery.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"

	pyrt "github.com/pyrt-dev/pyrt/bindings/go"
)

func main() {
	ctx := context.Background()
	rt, err := pyrt.New()
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	info, err := rt.Info(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("libpyrt:", info.Library)
	fmt.Println("python:", info.PythonVersion, info.Libpython)
	v, err := rt.Call(ctx, "math", "sqrt", 16.0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("math.sqrt(16.0) =", v)
	var pe *pyrt.PythonError
	if err := rt.Run(ctx, "1/0"); errors.As(err, &pe) {
		fmt.Println("1/0 raised", pe.Type)
	} else {
		log.Fatalf("1/0: %v", err)
	}
}
