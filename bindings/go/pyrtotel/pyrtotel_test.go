package pyrtotel_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	pyrt "github.com/pyrt-dev/pyrt/bindings/go"
	"github.com/pyrt-dev/pyrt/bindings/go/pyrtotel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestMain keeps a runtime open for the whole process: closing the last one
// finalizes Python, which cannot start again.
func TestMain(m *testing.M) {
	rt, err := pyrt.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pyrtotel tests need libpyrt and a libpython ($PYRT_LIBPYTHON):", err)
		os.Exit(1)
	}
	code := m.Run()
	rt.Close()
	os.Exit(code)
}

// newTraced starts a runtime traced into a span recorder.
func newTraced(t *testing.T) (*pyrt.Runtime, *sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	rt, err := pyrt.New(pyrtotel.WithTracing(tp))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	return rt, tp, sr
}

// ended returns the ended spans and forgets them.
func ended(sr *tracetest.SpanRecorder) []sdktrace.ReadOnlySpan {
	spans := sr.Ended()
	sr.Reset()
	return spans
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

func only(t *testing.T, sr *tracetest.SpanRecorder) sdktrace.ReadOnlySpan {
	t.Helper()
	spans := ended(sr)
	if len(spans) != 1 {
		t.Fatalf("%d spans ended, want 1", len(spans))
	}
	return spans[0]
}

func TestSpanOfCall(t *testing.T) {
	rt, _, sr := newTraced(t)
	ctx := context.Background()
	if v, err := rt.Call(ctx, "math", "sqrt", 16.0); err != nil || v != 4.0 {
		t.Fatal(v, err)
	}
	s := only(t, sr)
	if s.Name() != "python math.sqrt" {
		t.Errorf("span name %q", s.Name())
	}
	a := attrs(s)
	if a["code.function.name"].AsString() != "math.sqrt" || a[pyrtotel.ModuleKey].AsString() != "math" ||
		a[pyrtotel.FunctionKey].AsString() != "sqrt" {
		t.Errorf("attributes %v", s.Attributes())
	}
	if s.Status().Code != codes.Unset || len(s.Events()) != 0 {
		t.Errorf("status %v, events %v", s.Status(), s.Events())
	}
	if s.InstrumentationScope().Name != pyrtotel.ScopeName || s.Parent().IsValid() {
		t.Errorf("scope %q, parent %v", s.InstrumentationScope().Name, s.Parent())
	}
}

// A Python exception: status Error, the Python type as exception.type and
// error.type, and an exception event with the traceback.
func TestSpanOfFailingCall(t *testing.T) {
	rt, _, sr := newTraced(t)
	if _, err := rt.Call(context.Background(), "builtins", "int", "x"); err == nil {
		t.Fatal("int('x') succeeded")
	}
	s := only(t, sr)
	if s.Status().Code != codes.Error || !strings.HasPrefix(s.Status().Description, "ValueError: invalid literal") {
		t.Errorf("status %+v", s.Status())
	}
	a := attrs(s)
	if a["exception.type"].AsString() != "ValueError" || a["error.type"].AsString() != "ValueError" {
		t.Errorf("attributes %v", s.Attributes())
	}
	ev := s.Events()
	if len(ev) != 1 || ev[0].Name != "exception" {
		t.Fatalf("events %v", ev)
	}
	e := map[attribute.Key]string{}
	for _, kv := range ev[0].Attributes {
		e[kv.Key] = kv.Value.AsString()
	}
	if e["exception.type"] != "ValueError" || !strings.Contains(e["exception.message"], "invalid literal") {
		t.Errorf("event attributes %v", ev[0].Attributes)
	}
	// (int is a C function: no Python frame, so no traceback.)

	// One raised in Python code has its traceback as exception.stacktrace.
	if err := rt.Run(context.Background(), "def otel_fails():\n    raise KeyError('k')\n"); err != nil {
		t.Fatal(err)
	}
	ended(sr)
	if _, err := rt.Call(context.Background(), "__main__", "otel_fails"); err == nil {
		t.Fatal("otel_fails succeeded")
	}
	s = only(t, sr)
	ev = s.Events()
	if len(ev) != 1 || attrs(s)["error.type"].AsString() != "KeyError" {
		t.Fatalf("events %v, attributes %v", ev, s.Attributes())
	}
	for _, kv := range ev[0].Attributes {
		if kv.Key == "exception.stacktrace" && strings.Contains(kv.Value.AsString(), "otel_fails") {
			return
		}
	}
	t.Errorf("no traceback naming otel_fails in %v", ev[0].Attributes)
}

// A failure that is not a Python exception: error.type is pyrt's status.
func TestSpanOfConversionError(t *testing.T) {
	rt, _, sr := newTraced(t)
	sqrt, err := rt.EvalObject(context.Background(), "__import__('math').sqrt")
	if err != nil {
		t.Fatal(err)
	}
	defer sqrt.Close()
	if _, err := sqrt.CallFloat(context.Background(), []int{1}); err == nil {
		t.Fatal("a typed call with a slice succeeded")
	}
	s := only(t, sr)
	if s.Name() != "python call" || s.Status().Code != codes.Error ||
		attrs(s)["error.type"].AsString() != "PYRT_ERR_CONVERSION" ||
		attrs(s)[pyrtotel.ObjectKey].AsInt64() != int64(sqrt.ID()) {
		t.Errorf("span %q, status %+v, attributes %v", s.Name(), s.Status(), s.Attributes())
	}
}

// The span in the call's context is the parent; a method call is named
// after the method.
func TestSpanParent(t *testing.T) {
	rt, tp, sr := newTraced(t)
	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	lst, err := rt.NewObject(ctx, []any{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	defer lst.Close()
	if _, err := lst.CallMethod(ctx, "append", 3); err != nil {
		t.Fatal(err)
	}
	parent.End()
	spans := ended(sr)
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2", len(spans))
	}
	child := spans[0]
	if child.Name() != "python .append" || attrs(child)[pyrtotel.MethodKey].AsString() != "append" ||
		attrs(child)["code.function.name"].AsString() != "append" {
		t.Errorf("span %q, attributes %v", child.Name(), child.Attributes())
	}
	if child.Parent().SpanID() != parent.SpanContext().SpanID() ||
		child.SpanContext().TraceID() != parent.SpanContext().TraceID() {
		t.Errorf("the call's span is not a child of the request's")
	}
}

// A call a host function makes into Python, with the context it received,
// is a child of the call that ran the host function.
func TestSpanOfNestedCall(t *testing.T) {
	rt, tp, sr := newTraced(t)
	if err := rt.Register("otelhost", "inner", func(ctx context.Context, args []any, kw map[string]any) (any, error) {
		return rt.Call(ctx, "math", "sqrt", 16.0)
	}); err != nil {
		t.Fatal(err)
	}
	// (A context that cannot be cancelled: the observer's span alone makes
	// pyrt pass it on.)
	ctx, request := tp.Tracer("test").Start(context.Background(), "request")
	if _, err := rt.Eval(ctx, "__import__('otelhost').inner()"); err != nil {
		t.Fatal(err)
	}
	request.End()
	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range ended(sr) {
		byName[s.Name()] = s
	}
	outer, inner := byName["python __main__.<eval>"], byName["python math.sqrt"]
	if outer == nil || inner == nil {
		t.Fatalf("spans %v: want the eval and the nested math.sqrt", byName)
	}
	if outer.Parent().SpanID() != request.SpanContext().SpanID() {
		t.Errorf("the eval's span is not a child of the request's")
	}
	if inner.Parent().SpanID() != outer.SpanContext().SpanID() {
		t.Errorf("the nested call's span is not a child of the eval's")
	}
}

// An async call's span lasts until the coroutine is done.
func TestSpanOfAsyncCall(t *testing.T) {
	rt, _, sr := newTraced(t)
	ctx := context.Background()
	if err := rt.Run(ctx, "import asyncio\nasync def otel_nap(x):\n    await asyncio.sleep(0.05)\n    return x\n"); err != nil {
		t.Fatal(err)
	}
	ended(sr)
	fut, err := rt.CallAsync(ctx, "__main__", "otel_nap", 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fut.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	// The span ends on a goroutine of its own just after the coroutine.
	deadline := time.Now().Add(10 * time.Second)
	for len(sr.Ended()) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	s := only(t, sr)
	if s.Name() != "python __main__.otel_nap" || !attrs(s)[pyrtotel.AsyncKey].AsBool() {
		t.Errorf("span %q, attributes %v", s.Name(), s.Attributes())
	}
	if d := s.EndTime().Sub(s.StartTime()); d < 50*time.Millisecond {
		t.Errorf("the span lasted %v, less than the coroutine's sleep", d)
	}
}
