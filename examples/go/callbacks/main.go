// Command callbacks shows Python calling back into Go: a jinja2 template
// whose filter is a Go function, and a long Python loop that reports its
// progress to a Go callback.
//
//	go run ./callbacks [libpython path] [venv path with jinja2]
//
// Without a venv (or without jinja2 in it), the template part explains what
// is missing and the progress part still runs.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"

	pyrt "github.com/pyrt-dev/pyrt/bindings/go"
)

func main() {
	var opts []pyrt.Option
	if len(os.Args) > 1 && os.Args[1] != "" {
		opts = append(opts, pyrt.WithLibpython(os.Args[1]))
	}
	if len(os.Args) > 2 && os.Args[2] != "" {
		opts = append(opts, pyrt.WithVenv(os.Args[2]))
	}
	rt, err := pyrt.New(opts...)
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	ctx := context.Background()

	// 1. A jinja2 filter implemented in Go.
	err = pyrt.RegisterFunc(rt, "gofilters", "shout", func(ctx context.Context, s string) (string, error) {
		return strings.ToUpper(s) + "!", nil
	})
	if err != nil {
		log.Fatal(err)
	}
	err = rt.Run(ctx, `
import gofilters
try:
    import jinja2
except ImportError:
    jinja2 = None
def render(name):
    env = jinja2.Environment()
    env.filters["shout"] = gofilters.shout
    return env.from_string("Hello, {{ name | shout }}").render(name=name)
`)
	if err != nil {
		log.Fatal(err)
	}
	if has, _ := rt.Eval(ctx, "jinja2 is not None"); has == true {
		s, err := pyrt.CallT[string](ctx, rt, "__main__", "render", "gopher")
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("jinja2 with a Go filter:", s)
	} else {
		fmt.Println("jinja2 is not installed here: pass a venv that has it to see the Go filter at work")
	}

	// 2. Progress from a long Python loop to a Go callback.
	err = pyrt.RegisterFunc(rt, "goprogress", "report", func(ctx context.Context, p [2]int64) (any, error) {
		fmt.Printf("  progress: %3d%% (%d items)\n", 100*p[0]/p[1], p[0])
		return nil, nil
	})
	if err != nil {
		log.Fatal(err)
	}
	err = rt.Run(ctx, `
import goprogress
total, acc = 200000, 0
for i in range(1, total + 1):
    acc += i * i
    if i % 50000 == 0:
        goprogress.report(i, total)
`)
	if err != nil {
		log.Fatal(err)
	}
	sum, _ := rt.Eval(ctx, "acc")
	fmt.Println("sum of squares:", sum)
}
