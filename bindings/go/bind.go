package pyrt

import (
	"context"
	"crypto/sha256"
	_ "embed" // bind.py
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"strconv"
)

// This file is the run-time support of the code pyrt-gen generates (see
// cmd/pyrt-gen): binding a module with its signatures checked, and typed
// results. Hand-written code may use it too.

//go:embed bind.py
var bindPy string

// ErrStaleBinding matches the error of BindModule when a Python function or
// class no longer has the signature a binding was generated for.
var ErrStaleBinding = errors.New("pyrt: stale binding")

// StaleBindingError says which function of a generated binding changed and
// how: the signature it was generated for and the one Python has now
// (Current is empty when the name is gone). It matches ErrStaleBinding.
type StaleBindingError struct {
	Module, Name       string
	Generated, Current string
}

func (e *StaleBindingError) Error() string {
	if e.Current == "" {
		return fmt.Sprintf("pyrt: stale binding: %s.%s no longer exists (generated for %s%s); run go generate again",
			e.Module, e.Name, e.Name, e.Generated)
	}
	return fmt.Sprintf("pyrt: stale binding: %s.%s changed: generated for %s%s, now %s%s; run go generate again",
		e.Module, e.Name, e.Name, e.Generated, e.Name, e.Current)
}

// Is reports whether target is ErrStaleBinding.
func (e *StaleBindingError) Is(target error) bool { return target == ErrStaleBinding }

// Signature is one function's (or class's) signature as a generated binding
// recorded it: Text is what inspect.signature printed ("async " first for a
// coroutine function), Hash is SignatureHash(Text).
type Signature struct {
	Name, Hash, Text string
}

// SignatureHash is the hash pyrt-gen records per function: the first 16 hex
// digits of the SHA-256 of the signature text.
func SignatureHash(text string) string {
	s := sha256.Sum256([]byte(text))
	return hex.EncodeToString(s[:8])
}

// ensureBindSupport installs the _pyrt_bind helper module once per runtime.
func (r *Runtime) ensureBindSupport(ctx context.Context) (*Object, error) {
	r.bindMu.Lock()
	defer r.bindMu.Unlock()
	if r.bindMod != nil {
		return r.bindMod, nil
	}
	code := "import sys, types\nif '_pyrt_bind' not in sys.modules:\n" +
		"    _m = types.ModuleType('_pyrt_bind')\n" +
		"    exec(compile(" + strconv.Quote(bindPy) + ", '<pyrt bind.py>', 'exec'), _m.__dict__)\n" +
		"    sys.modules['_pyrt_bind'] = _m\n    del _m\n"
	if err := r.Run(ctx, code); err != nil {
		return nil, err
	}
	m, err := r.Import(ctx, "_pyrt_bind")
	if err != nil {
		return nil, err
	}
	r.bindMod = m
	return m, nil
}

// BindModule imports module and checks that each of sigs still has the
// signature recorded (the stale-binding check of generated code): the first
// difference is a *StaleBindingError, matching ErrStaleBinding, naming the
// function and both signatures.
func BindModule(ctx context.Context, r *Runtime, module string, sigs []Signature) (*Object, error) {
	helper, err := r.ensureBindSupport(ctx)
	if err != nil {
		return nil, err
	}
	mod, err := r.Import(ctx, module)
	if err != nil {
		return nil, err
	}
	if len(sigs) == 0 {
		return mod, nil
	}
	names := make([]any, len(sigs))
	for i, s := range sigs {
		names[i] = s.Name
	}
	v, err := helper.CallMethod(ctx, "sigtexts", mod, names)
	if err != nil {
		mod.Close()
		return nil, err
	}
	var texts []*string
	if err := Assign(&texts, v); err != nil {
		mod.Close()
		return nil, err
	}
	for i, s := range sigs {
		if texts[i] == nil {
			mod.Close()
			return nil, &StaleBindingError{Module: module, Name: s.Name, Generated: s.Text}
		}
		if SignatureHash(*texts[i]) != s.Hash {
			mod.Close()
			return nil, &StaleBindingError{Module: module, Name: s.Name, Generated: s.Text, Current: *texts[i]}
		}
	}
	return mod, nil
}

// BindFunc returns the function (or class) qualname of a module bound with
// BindModule. kind "" returns it as it is; "call", "gen" and "nd" wrap it
// in Python to convert arguments by its type hints (dataclasses,
// NamedTuples and tuples arrive from Go as dicts and lists; NumPy arrays as
// memoryviews) and results to what the Go types read.
func BindFunc(ctx context.Context, mod *Object, qualname, kind string) (*Object, error) {
	helper, err := mod.rt.ensureBindSupport(ctx)
	if err != nil {
		return nil, err
	}
	return helper.CallMethodObject(ctx, "get", mod, qualname, kind)
}

// BindMethod returns the method name of obj, wrapped as BindFunc does for
// kind != "".
func BindMethod(ctx context.Context, obj *Object, name, kind string) (*Object, error) {
	if kind == "" {
		return obj.AttrObject(ctx, name)
	}
	helper, err := obj.rt.ensureBindSupport(ctx)
	if err != nil {
		return nil, err
	}
	return helper.CallMethodObject(ctx, "method", obj, name, kind)
}

// CallMethodKwObject calls obj.name(*args, **kwargs) and returns the result
// as an Object.
func (o *Object) CallMethodKwObject(ctx context.Context, name string, args []any, kwargs map[string]any) (*Object, error) {
	if name == "" {
		return nil, newError(CodeInvalidArgument, "empty method name")
	}
	return o.callObject(ctx, name, args, kwargs, kwargs != nil)
}

// DescribeModule returns pyrt-gen's JSON description of a module (by name)
// or a .py/.pyi file: its public functions, classes and structured types
// with their signatures and type hints mapped to Go's vocabulary.
func DescribeModule(ctx context.Context, r *Runtime, nameOrPath string) (string, error) {
	helper, err := r.ensureBindSupport(ctx)
	if err != nil {
		return "", err
	}
	v, err := helper.CallMethod(ctx, "describe", nameOrPath)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", newError(CodeInternal, "describe returned %T", v)
	}
	return s, nil
}

// As converts a call's result with Assign into a T, naming what in the
// error (errors.Is(err, ErrConversion) holds): the typed result of
// generated code.
func As[T any](what string, v any, err error) (T, error) {
	var out T
	if err != nil {
		return out, fmt.Errorf("%s: %w", what, err)
	}
	if err := Assign(&out, v); err != nil {
		return out, fmt.Errorf("%s: result: %w", what, err)
	}
	return out, nil
}

// SeqOf ranges over the items of an iterable returned by a call (as
// Object.Items), converting each into a T with Assign; an error (from the
// call, the iterator or a conversion) is the loop's last pair. The object is
// closed when the loop ends.
func SeqOf[T any](ctx context.Context, what string, o *Object, err error, opts ...IterOption) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		if err != nil {
			yield(zero, fmt.Errorf("%s: %w", what, err))
			return
		}
		defer o.Close()
		i := 0
		for v, err := range o.Items(ctx, opts...) {
			if err != nil {
				yield(zero, fmt.Errorf("%s: %w", what, err))
				return
			}
			var t T
			if err := Assign(&t, v); err != nil {
				yield(zero, fmt.Errorf("%s: item %d: %w", what, i, err))
				return
			}
			if !yield(t, nil) {
				return
			}
			i++
		}
	}
}

// TypedFuture is a Future whose result is converted into a T (the result
// of a generated binding of an async def).
type TypedFuture[T any] struct {
	*Future
	what string
}

// FutureOf wraps a started Future as a TypedFuture; what names the
// function in errors.
func FutureOf[T any](what string, f *Future, err error) (*TypedFuture[T], error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return &TypedFuture[T]{Future: f, what: what}, nil
}

// Wait waits for the coroutine (as Future.Wait) and converts its result.
func (f *TypedFuture[T]) Wait(ctx context.Context) (T, error) {
	v, err := f.Future.Wait(ctx)
	return As[T](f.what, v, err)
}

// Result returns the converted outcome of a done future (as Future.Result).
func (f *TypedFuture[T]) Result() (T, error) {
	v, err := f.Future.Result()
	return As[T](f.what, v, err)
}

// FloatsOf copies a buffer-exporting result (a NumPy array, array.array,
// memoryview) of element type T into a new Go slice, closing o.
func FloatsOf[T Numeric](ctx context.Context, what string, o *Object, err error) ([]T, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer o.Close()
	bv, err := o.Buffer(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("%s: result: %w", what, err)
	}
	defer bv.Close()
	s, err := View[T](bv)
	if err != nil {
		return nil, fmt.Errorf("%s: result: %w", what, err)
	}
	return append([]T(nil), s...), nil
}
