// Package pyrtotel traces a pyrt runtime's calls into Python with
// OpenTelemetry: one span per call, through pyrt's call observer
// ([pyrt.WithCallObserver]), with the official API. It is a module of its
// own so that the pyrt package keeps no dependencies.
//
//	rt, err := pyrt.New(pyrtotel.WithTracing(nil)) // nil: the global TracerProvider
//	...
//	v, err := rt.Call(ctx, "math", "sqrt", 16.0) // a span "python math.sqrt", a child of ctx's span
//
// Each span is a child of the span in the context given to the call, of
// kind internal, and named after what it calls: "python math.sqrt" for a
// call by name, "python .append" for a method of an Object, "python call"
// for an Object called directly (its name is not known to pyrt), and
// "python __main__.<run>", "<run_file>" or "<eval>" for Run, RunFile and
// Eval. An async call's span (CallAsync, Await) lasts until the coroutine is
// done. Attributes:
//
//   - code.function.name: "math.sqrt", or the method name (the semantic
//     conventions' key; absent for Run, RunFile, Eval and plain Object
//     calls);
//   - pyrt.module, pyrt.function: the module and function of a call by
//     name;
//   - pyrt.method, pyrt.object: the method and the object's ID (Object.ID)
//     of an Object call;
//   - pyrt.async: true for CallAsync and Await.
//
// A call that fails sets the span's status to Error, with an "exception"
// event. For a Python exception the event carries exception.type (the
// Python type, e.g. "ValueError" or "json.decoder.JSONDecodeError"),
// exception.message and exception.stacktrace (the Python traceback), and
// the span the attributes exception.type and error.type with the same type;
// for other errors (a conversion, a timeout, ...) the event is
// Span.RecordError's and error.type is pyrt's status name, e.g.
// "PYRT_ERR_TIMEOUT".
//
// A Go function registered with Runtime.Register receives the context of the
// call that ran it, span included (see pyrt.HostFunc): calls it makes into
// Python with that context are children of the call's span.
package pyrtotel

import (
	"context"
	"errors"
	"strings"

	pyrt "github.com/pyrt-dev/pyrt/bindings/go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the spans (the tracer's name).
const ScopeName = "github.com/pyrt-dev/pyrt/bindings/go/pyrtotel"

// The attribute keys of pyrt's own span attributes.
const (
	ModuleKey   = attribute.Key("pyrt.module")
	FunctionKey = attribute.Key("pyrt.function")
	MethodKey   = attribute.Key("pyrt.method")
	ObjectKey   = attribute.Key("pyrt.object")
	AsyncKey    = attribute.Key("pyrt.async")
)

// WithTracing is the pyrt.New option that traces the runtime's calls with
// tp (nil: the global TracerProvider, otel.GetTracerProvider, which follows
// a later otel.SetTracerProvider).
func WithTracing(tp trace.TracerProvider) pyrt.Option {
	return pyrt.WithCallObserver(Observer(tp))
}

// Observer returns a call observer that makes a span of each call with a
// tracer from tp (nil: the global TracerProvider).
func Observer(tp trace.TracerProvider) pyrt.CallObserver {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return &observer{tracer: tp.Tracer(ScopeName)}
}

type observer struct {
	tracer trace.Tracer
}

// ObserveCall starts the call's span, which the call's context then carries
// (to host functions); the function it returns ends it.
func (o *observer) ObserveCall(ctx context.Context, c pyrt.CallInfo) (context.Context, func(error)) {
	if ctx == nil {
		ctx = context.Background()
	}
	name, attrs := describe(c)
	ctx, span := o.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))
	return ctx, func(err error) {
		if err != nil {
			recordError(span, err)
		}
		span.End()
	}
}

// describe names the span and gives its attributes (set at the start, so
// that samplers see them).
func describe(c pyrt.CallInfo) (string, []attribute.KeyValue) {
	attrs := make([]attribute.KeyValue, 0, 4)
	var name string
	switch {
	case c.Module != "" || c.Function != "":
		target := c.Module + "." + c.Function
		name = "python " + target
		if !strings.HasPrefix(c.Function, "<") { // not Run, RunFile or Eval
			attrs = append(attrs, semconv.CodeFunctionName(target))
		}
		attrs = append(attrs, ModuleKey.String(c.Module), FunctionKey.String(c.Function))
	case c.Method != "":
		name = "python ." + c.Method
		attrs = append(attrs, semconv.CodeFunctionName(c.Method), MethodKey.String(c.Method),
			ObjectKey.Int64(int64(c.Object)))
	default:
		name = "python call"
		attrs = append(attrs, ObjectKey.Int64(int64(c.Object)))
	}
	if c.Async {
		attrs = append(attrs, AsyncKey.Bool(true))
	}
	return name, attrs
}

// recordError marks the span failed with err.
func recordError(span trace.Span, err error) {
	var pe *pyrt.PythonError
	if errors.As(err, &pe) {
		// Span.RecordError would name the Go type (*pyrt.PythonError) as
		// exception.type: the event is built the way it builds it, with the
		// Python exception's type and traceback instead.
		ev := []attribute.KeyValue{semconv.ExceptionType(pe.Type), semconv.ExceptionMessage(pe.Message)}
		if pe.Traceback != "" {
			ev = append(ev, semconv.ExceptionStacktrace(pe.Traceback))
		}
		span.AddEvent(semconv.ExceptionEventName, trace.WithAttributes(ev...))
		span.SetAttributes(semconv.ExceptionType(pe.Type), semconv.ErrorTypeKey.String(pe.Type))
		span.SetStatus(codes.Error, pe.Type+": "+pe.Message)
		return
	}
	span.RecordError(err)
	var e *pyrt.Error
	if errors.As(err, &e) {
		span.SetAttributes(semconv.ErrorTypeKey.String(e.Code.String()))
	} else {
		span.SetAttributes(semconv.ErrorType(err))
	}
	span.SetStatus(codes.Error, err.Error())
}
