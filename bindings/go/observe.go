package pyrt

import (
	"context"
	"strconv"
)

// CallObserver is told of every call a Runtime, and the Objects it makes,
// makes into Python, for tracing (the pyrtotel module makes an
// OpenTelemetry span of each) or for logging and metrics of one's own.
// Install one with [WithCallObserver].
//
// ObserveCall is called on the calling goroutine when the call starts, with
// the call's context and what is known of its target. It returns the context
// the call goes on with (ctx itself, or one derived from it: a tracer's, with
// the call's span in it, which a host function the call runs then receives,
// see HostFunc) and the function that is called exactly once when the call
// ends, with the call's error (nil on success; a *PythonError when Python
// raised, so errors.As finds the exception's type). Both may run on many
// goroutines at once, and calls may nest: a host function (Runtime.Register)
// that calls back into Python is observed inside the call that ran it.
// ObserveCall must return neither a nil context nor a nil function.
//
// What is observed:
//   - Runtime.Call, CallKw, CallInto, CallKwInto, CallJSON, CallT,
//     CallValue, CallValueKw, CallObject: Module and Function.
//   - Object.Call, CallKw, CallObject, CallKwObject and the typed calls
//     (CallFloat, CallInt, CallTyped, CallTypedObject): Object only, the
//     callable's module and name being unknown to pyrt.
//   - Object.CallMethod, CallMethodKw, CallMethodObject: Object and Method.
//   - Runtime.Run, RunFile, Eval, EvalInto: Module "__main__" and Function
//     "<run>", "<run_file>" or "<eval>" (the code itself is not reported).
//   - Runtime.CallAsync, CallAsyncKw (Module and Function) and Object.Await
//     (Object), with Async set: end is called when the coroutine is done,
//     not when the call returns, so the observation covers the coroutine's
//     run; it gets the error Future.Result returns.
//
// Not observed, because they run no function of the caller's: Import,
// EvalObject, NewObject, the attribute and conversion methods of Object
// (Attr, SetAttr, Value, Decode, Repr, Str), iteration, Info and Stats.
// A call refused before it starts (a closed Runtime or Object, a context
// already done) is not observed either; one with arguments that cannot be
// converted is, with that error.
//
// For example, to log slow calls:
//
//	type slowCalls struct{ limit time.Duration }
//
//	func (s slowCalls) ObserveCall(ctx context.Context, c pyrt.CallInfo) (context.Context, func(error)) {
//		start := time.Now()
//		return ctx, func(err error) {
//			if d := time.Since(start); d > s.limit {
//				slog.WarnContext(ctx, "slow Python call", "call", c.String(), "duration", d, "error", err)
//			}
//		}
//	}
//
//	rt, err := pyrt.New(pyrt.WithCallObserver(slowCalls{100 * time.Millisecond}))
type CallObserver interface {
	ObserveCall(ctx context.Context, call CallInfo) (context.Context, func(err error))
}

// CallInfo describes an observed call (see [CallObserver]).
type CallInfo struct {
	// Module and Function name a call by name (Runtime.Call and its
	// variants, CallAsync); for Run, RunFile and Eval they are "__main__"
	// and "<run>", "<run_file>" or "<eval>". Empty for Object calls.
	Module, Function string
	// Method is the method name of Object.CallMethod and its variants;
	// empty otherwise.
	Method string
	// Object is the ID (Object.ID) of the object called, or whose method is
	// called, or awaited; 0 for calls by name.
	Object uint64
	// Async is set for CallAsync and Await, whose observation ends when the
	// coroutine is done.
	Async bool
}

// String is a short description of the call: "math.sqrt",
// "object 12 .append", "object 12".
func (c CallInfo) String() string {
	if c.Module != "" || c.Function != "" {
		return c.Module + "." + c.Function
	}
	s := "object " + strconv.FormatUint(c.Object, 10)
	if c.Method != "" {
		s += " ." + c.Method
	}
	return s
}

// WithCallObserver has obs told of every call this Runtime and its Objects
// make into Python (see [CallObserver]). It is a per-Runtime setting, as
// WithMainThread is: another Runtime on the same interpreter may have
// another observer, or none. Without one, a call pays one nil check.
func WithCallObserver(obs CallObserver) Option { return func(o *options) { o.observer = obs } }
