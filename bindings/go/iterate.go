package pyrt

import (
	"context"
	"iter"
	"runtime"
	"sync"
)

// Iterator steps through a Python iterator: the items of a list, the rows a
// generator yields, the lines of a file. Each step is a call into Python made
// when the Go code asks for the next item, so a generator of ten million rows
// streams in constant memory and a generator waiting on I/O hands over each
// item as it comes. Items are converted with the tagged encoding, as
// Object.Call converts results.
//
// Get one with Object.Iter, or range over Object.Items or Runtime.Stream,
// which close the iterator when the loop ends:
//
//	for row, err := range rt.Stream(ctx, "mymodule", "rows", "table") {
//		if err != nil {
//			return err
//		}
//		fmt.Println(row)
//	}
//
// Leaving such a loop early (break, return, a panic) closes a generator, so
// its finally blocks and with statements run before the loop statement ends.
// The context of each step interrupts it as it interrupts a call, and the
// runtime's WithCallTimeout limits each step.
//
// An Iterator is safe for use by several goroutines; its steps then run one
// at a time. Close releases it.
type Iterator struct {
	obj   *Object
	flags uint32
	batch int

	mu      sync.Mutex // one step at a time; guards what follows
	pending []any      // items a batch took ahead
	done    bool
}

// IterOption configures Object.Iter, Object.Items and Runtime.Stream:
// WithBatch, or a CallOption such as WithHandles (items without an encoding
// become *Object values instead of errors).
type IterOption interface{ applyIter(*Iterator) }

func (o CallOption) applyIter(it *Iterator) { it.flags |= o.flags }

type batchOption int

func (b batchOption) applyIter(it *Iterator) { it.batch = max(int(b), 1) }

// WithBatch makes an iterator take up to n items per call into Python
// instead of one. Streaming many small items then costs one foreign call per
// batch rather than per item (see the package benchmarks), but a generator
// runs ahead of the Go loop by up to n-1 items: keep the default of 1 where
// each step has an effect the Go side must pace. An exception raised after
// some items of a batch still arrives after those items.
func WithBatch(n int) IterOption { return batchOption(n) }

// Iter returns an iterator over the object's items: Python's iter(obj). An
// object that is not iterable is a *PythonError of type TypeError.
func (o *Object) Iter(ctx context.Context, opts ...IterOption) (*Iterator, error) {
	if err := o.enter(ctx); err != nil {
		return nil, err
	}
	f := getFrame()
	defer putFrame(f)
	if err := o.invoke(ctx, f, func() int32 { return o.rt.lib.pyrt_object_iter(o.id, f.outArg(), f.errArg()) }); err != nil {
		return nil, err
	}
	obj, err := o.rt.takeObject(f)
	if err != nil {
		return nil, err
	}
	it := &Iterator{obj: obj, batch: 1}
	for _, opt := range opts {
		if opt != nil {
			opt.applyIter(it)
		}
	}
	if it.flags, err = objectFlags(it.flags); err != nil {
		_ = obj.Close()
		return nil, err
	}
	return it, nil
}

// Items ranges over the object's items (see Iterator). A failure to start
// iterating, or an exception raised by the iterator, is the loop's last pair
// (nil, err); the iterator is closed when the loop ends.
func (o *Object) Items(ctx context.Context, opts ...IterOption) iter.Seq2[any, error] {
	return func(yield func(any, error) bool) {
		it, err := o.Iter(ctx, opts...)
		if err != nil {
			yield(nil, err)
			return
		}
		defer it.Close()
		it.All(ctx)(yield)
	}
}

// Stream calls module.function(*args) and ranges over the items of what it
// returns: a generator, a list, any iterable (see Iterator). Arguments are
// converted as for Object.Call; IterOptions among them (WithBatch) configure
// the iteration.
func (r *Runtime) Stream(ctx context.Context, module, function string, args ...any) iter.Seq2[any, error] {
	return func(yield func(any, error) bool) {
		callArgs, opts := splitIterOptions(args)
		o, err := r.CallObject(ctx, module, function, callArgs...)
		if err != nil {
			yield(nil, err)
			return
		}
		defer o.Close()
		o.Items(ctx, opts...)(yield)
	}
}

// splitIterOptions takes the IterOptions out of Stream's arguments; the
// CallOptions among them (WithHandles) also stay for the call.
func splitIterOptions(args []any) (callArgs []any, opts []IterOption) {
	for _, a := range args {
		if o, ok := a.(IterOption); ok {
			opts = append(opts, o)
			if _, isCall := a.(CallOption); !isCall {
				continue
			}
		}
		callArgs = append(callArgs, a)
	}
	return callArgs, opts
}

// All ranges over the remaining items. The loop's last pair is (nil, err)
// if the iterator raised; leaving the loop early closes the iterator.
func (it *Iterator) All(ctx context.Context) iter.Seq2[any, error] {
	return func(yield func(any, error) bool) {
		for {
			v, ok, err := it.Next(ctx)
			if err != nil {
				yield(nil, err)
				return
			}
			if !ok {
				return
			}
			if !yield(v, nil) {
				_ = it.Close()
				return
			}
		}
	}
}

// Next takes the next item: (item, true, nil), or (nil, false, nil) once the
// iterator is exhausted (and on every later call). An exception the iterator
// raised is returned as the error; a generator that raised is finished, so
// the next call reports the end.
func (it *Iterator) Next(ctx context.Context) (any, bool, error) {
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.obj.closed.Load() {
		return nil, false, errObjectClosed
	}
	if len(it.pending) > 0 {
		v := it.pending[0]
		it.pending[0] = nil
		it.pending = it.pending[1:]
		return v, true, nil
	}
	if it.done {
		return nil, false, nil
	}
	if it.batch > 1 {
		items, ok, err := it.step(ctx, func(o *Object, f *frame) int32 {
			return o.rt.lib.pyrt_iter_next_batch(o.id, it.batch, it.flags, f.outArg(), f.errArg())
		})
		if !ok || err != nil {
			return nil, false, err
		}
		list, _ := items.([]any)
		if len(list) == 0 {
			return nil, false, &Error{Code: CodeInternal, Message: "libpyrt returned an empty batch"}
		}
		it.pending = list[1:]
		return list[0], true, nil
	}
	return it.step(ctx, func(o *Object, f *frame) int32 {
		return o.rt.lib.pyrt_iter_next(o.id, it.flags, f.outArg(), f.errArg())
	})
}

// NextObject takes the next item as an *Object (any item, also one with an
// encoding), or (nil, false, nil) at the end. It cannot follow items a
// WithBatch iterator took ahead and has not handed out yet.
func (it *Iterator) NextObject(ctx context.Context) (*Object, bool, error) {
	it.mu.Lock()
	defer it.mu.Unlock()
	if err := it.unbuffered("NextObject"); err != nil || it.done {
		return nil, false, err
	}
	f := getFrame()
	defer putFrame(f)
	return iterStep(it, ctx, f, func(o *Object, f *frame) int32 {
		return o.rt.lib.pyrt_iter_next_object(o.id, f.outArg(), f.errArg())
	}, func(o *Object, f *frame) (*Object, error) { return o.rt.takeObject(f) })
}

// Send resumes a generator with v (generator.send(v)) and returns the next
// value it yields, or (nil, false, nil) when it returns. A generator must be
// started with Next (or a Send of nil) first, as in Python.
func (it *Iterator) Send(ctx context.Context, v any) (any, bool, error) {
	it.mu.Lock()
	defer it.mu.Unlock()
	if err := it.unbuffered("Send"); err != nil {
		return nil, false, err
	}
	f := getFrame()
	defer putFrame(f)
	var e tagEnc
	b, err := e.marshal(f.buf[:0], v)
	f.buf = append(b, 0)
	if err != nil {
		return nil, false, err
	}
	out, ok, err := it.stepFrame(ctx, f, func(o *Object, f *frame) int32 {
		return o.rt.lib.pyrt_iter_send(o.id, f.cstr(0), it.flags|e.flags, f.outArg(), f.errArg())
	})
	runtime.KeepAlive(e.objs)
	return out, ok, err
}

// Throw raises exc (an exception instance or class, as an *Object) inside the
// generator where it is suspended (generator.throw(exc)). It returns the
// next value the generator yields, (nil, false, nil) if it returns, or the
// exception that propagates out of it.
func (it *Iterator) Throw(ctx context.Context, exc *Object) (any, bool, error) {
	it.mu.Lock()
	defer it.mu.Unlock()
	if err := it.unbuffered("Throw"); err != nil {
		return nil, false, err
	}
	if exc == nil || exc.closed.Load() {
		return nil, false, errObjectClosed
	}
	out, ok, err := it.step(ctx, func(o *Object, f *frame) int32 {
		return o.rt.lib.pyrt_iter_throw(o.id, exc.id, it.flags, f.outArg(), f.errArg())
	})
	runtime.KeepAlive(exc)
	return out, ok, err
}

// Close ends the iteration now: a generator's close() runs its finally
// blocks before Close returns, then the reference is released. Idempotent
// and safe from any goroutine; an error is what the generator's cleanup
// raised. Items a batch took ahead are dropped.
func (it *Iterator) Close() error {
	if it == nil {
		return nil
	}
	it.mu.Lock()
	defer it.mu.Unlock()
	it.pending = nil
	o := it.obj
	if o.closed.Load() {
		return nil
	}
	it.done = true
	var err error
	if !o.rt.closed.Load() {
		f := getFrame()
		st := o.rt.guard(context.Background(), func() int32 { return o.rt.lib.pyrt_iter_close(o.id, f.errArg()) })
		if st != 0 {
			// A runtime closed meanwhile has released the iterator already.
			if e := o.rt.lib.takeError(st, f.errp()); Code(st) != CodeClosed {
				err = e
			}
		}
		putFrame(f)
	}
	_ = o.Close()
	return err
}

// Object returns the Python iterator itself.
func (it *Iterator) Object() *Object { return it.obj }

func (it *Iterator) unbuffered(what string) error {
	if len(it.pending) > 0 {
		return newError(CodeInvalidArgument, "%s: items a batch took ahead are still unread", what)
	}
	return nil
}

// step makes one foreign call that returns an encoded item (or a batch) or
// PYRT_DONE.
func (it *Iterator) step(ctx context.Context, call func(o *Object, f *frame) int32) (any, bool, error) {
	f := getFrame()
	defer putFrame(f)
	return it.stepFrame(ctx, f, call)
}

func (it *Iterator) stepFrame(ctx context.Context, f *frame, call func(o *Object, f *frame) int32) (any, bool, error) {
	return iterStep(it, ctx, f, call, func(o *Object, f *frame) (any, error) { return o.rt.takeTagged(f) })
}

// iterStep makes one step's foreign call and reads its outcome: the item
// (read by take), PYRT_DONE (the end, remembered), or the error.
func iterStep[T any](it *Iterator, ctx context.Context, f *frame, call func(o *Object, f *frame) int32,
	take func(o *Object, f *frame) (T, error)) (T, bool, error) {
	var zero T
	o := it.obj
	if err := o.enter(ctx); err != nil {
		return zero, false, err
	}
	st := o.rt.guard(ctx, func() int32 { return call(o, f) })
	runtime.KeepAlive(o)
	switch Code(st) {
	case CodeOK:
		v, err := take(o, f)
		return v, err == nil, err
	case CodeDone:
		it.done = true
		return zero, false, nil
	default:
		return zero, false, wrapContext(ctx, o.rt.lib.takeError(st, f.errp()))
	}
}
