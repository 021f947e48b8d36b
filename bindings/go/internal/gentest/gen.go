// Package gentest holds the binding pyrt-gen generates for typedmod.py, a
// module exercising every mapping, and its tests (of the generator on the
// stdlib and jinja2 too).
package gentest

//go:generate go run ../../cmd/pyrt-gen -pkg gentest typedmod.py
