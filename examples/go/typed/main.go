// Command typed calls a typed Python module (shapes.py) through the Go
// binding pyrt-gen generated from its type hints (shapes_pyrt.go): Go
// types, doc comments and compile-time checked calls, no module or
// function names as strings.
//
//	go generate   # after changing shapes.py: rewrites shapes_pyrt.go
//	go run ./typed
package main

//go:generate go run github.com/pyrt-dev/pyrt/bindings/go/cmd/pyrt-gen -pkg main shapes.py

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log"
	"strconv"

	pyrt "github.com/pyrt-dev/pyrt/bindings/go"
)

//go:embed shapes.py
var shapesPy string

func main() {
	ctx := context.Background()
	rt, err := pyrt.New()
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	// The module travels inside the binary; a real program would rather put
	// its directory on sys.path (pyrt.WithSitePaths).
	if err := rt.Run(ctx, "import sys, types\nm = types.ModuleType('shapes')\nm.__file__ = 'shapes.py'\nsys.modules['shapes'] = m\n"+
		"exec(compile("+strconv.Quote(shapesPy)+", 'shapes.py', 'exec'), m.__dict__)"); err != nil {
		log.Fatal(err)
	}

	shapes, err := BindShapes(ctx, rt) // checks every signature against shapes_pyrt.go
	if errors.Is(err, pyrt.ErrStaleBinding) {
		log.Fatalf("shapes.py changed since go generate: %v", err)
	} else if err != nil {
		log.Fatal(err)
	}
	defer shapes.Close()

	r := Rect{Width: 3, Height: 2, Label: "door"} // a Python dataclass, as a Go struct
	a, err := shapes.Area(ctx, r)
	check(err)
	fmt.Println("area:", a)

	label := "big door"
	big, err := shapes.Scaled(ctx, r, 2, &ScaledOptions{Label: &label}) // keyword-only as options
	check(err)
	fmt.Printf("scaled: %+v\n", big)

	corners, err := shapes.Polygon(ctx, 4, nil) // list[tuple[float, float]] -> [][2]float64
	check(err)
	fmt.Println("square corners:", corners)

	mm, err := shapes.Unit(ctx, "in")
	check(err)
	fmt.Println("mm per inch:", mm)

	for tile, err := range shapes.Tiles(ctx, r, 1.5) { // a generator as iter.Seq2
		check(err)
		fmt.Printf("  %s %gx%g\n", tile.Label, tile.Width, tile.Height)
	}

	fut, err := shapes.Measure(ctx, big) // async def: a typed future
	check(err)
	m, err := fut.Wait(ctx)
	check(err)
	fmt.Println("measured:", m)

	canvas, err := shapes.NewCanvas(ctx, "sketch") // a class: a Go type with methods and Close
	check(err)
	defer canvas.Close()
	_, err = canvas.Add(ctx, r)
	check(err)
	n, err := canvas.Add(ctx, big)
	check(err)
	covered, err := canvas.Covered(ctx)
	check(err)
	fmt.Printf("canvas: %d rectangles covering %g\n", n, covered)
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
