package pyrt

import (
	"fmt"
	"math"
	"math/big"
	"reflect"
	"time"
)

// Go types for the Python values that plain JSON cannot carry. They are what
// the object API (Object.Call, Object.Value, Runtime.CallValue, ...) returns,
// and what it accepts as arguments; see "Tagged values" in the package
// documentation and docs/values.md for the whole table.
type (
	// Tuple is a Python tuple. (A list is a []any.)
	Tuple []any
	// Set is a Python set. Its order is Python's iteration order, which
	// means nothing; compare sets without regard to order.
	Set []any
	// FrozenSet is a Python frozenset (see Set).
	FrozenSet []any
	// ByteArray is a Python bytearray. (bytes is a []byte.)
	ByteArray []byte
	// Dict is a Python dict whose keys are not all strings (ints, tuples,
	// None, ...), or that has the key "__pyrt__": its items in Python's
	// order. A dict with only str keys is a map[string]any instead.
	Dict []Pair
	// Decimal is a Python decimal.Decimal, held as its exact text (str() of
	// the Decimal): "3.14", "-0", "1E+2", "NaN", "-Infinity".
	Decimal string
)

// Pair is one item of a Dict.
type Pair struct {
	Key, Value any
}

// Lookup returns the value of the first pair whose key equals key
// (reflect.DeepEqual; an int key matches int64 and any other Go integer
// type of the same value).
func (d Dict) Lookup(key any) (any, bool) {
	key = normalizeKey(key)
	for _, p := range d {
		if reflect.DeepEqual(normalizeKey(p.Key), key) {
			return p.Value, true
		}
	}
	return nil, false
}

func normalizeKey(k any) any {
	rv := reflect.ValueOf(k)
	switch {
	case !rv.IsValid():
		return nil
	case rv.CanInt():
		return rv.Int()
	case rv.CanUint() && rv.Uint() <= math.MaxInt64:
		return int64(rv.Uint())
	}
	return k
}

// String returns the decimal text.
func (d Decimal) String() string { return string(d) }

// Rat returns the value of a finite Decimal as an exact rational number;
// ok is false for NaN and infinities.
func (d Decimal) Rat() (r *big.Rat, ok bool) { return new(big.Rat).SetString(string(d)) }

// Date is a Python datetime.date: a calendar day without a time or zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the calendar day of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// In returns midnight of the day in loc.
func (d Date) In(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// String formats the date as Python's isoformat() does: "1999-12-31".
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// TimeOfDay is a Python datetime.time: a wall-clock time with microsecond
// precision and an optional UTC offset.
type TimeOfDay struct {
	Hour, Minute, Second, Microsecond int
	// Aware is set when the time has a UTC offset (a tzinfo in Python);
	// Offset is then that offset in seconds east of UTC.
	Aware  bool
	Offset int
}

// String formats the time as Python's isoformat() does: "23:59:59.999999+05:30".
func (t TimeOfDay) String() string {
	b := fmt.Appendf(nil, "%02d:%02d:%02d", t.Hour, t.Minute, t.Second)
	if t.Microsecond != 0 {
		b = fmt.Appendf(b, ".%06d", t.Microsecond)
	}
	if t.Aware {
		b = appendOffset(b, t.Offset)
	}
	return string(b)
}

// Naive is the location of a time.Time that stands for a naive Python
// datetime (one without tzinfo): its wall clock is the datetime's, its
// offset 0. A time.Time in any other location becomes an aware datetime
// with the UTC offset that location has at that instant.
var Naive = time.FixedZone("naive", 0)

// CallOption adjusts a call of the object API. Pass it among the arguments
// (it is not sent to Python), or to Attr, Value and Decode:
//
//	v, err := obj.CallMethod(ctx, "items", pyrt.WithHandles())
type CallOption struct{ flags uint32 }

// WithHandles makes a result value that has no encoding (an arbitrary Python
// object, also nested inside a list or dict) come back as an *Object instead
// of an error matching ErrConversion. The caller owns those objects: Close
// them, or leave them to the garbage collector.
func WithHandles() CallOption { return CallOption{flags: valueHandles} }

// WithPlainJSON makes Runtime.Call, CallKw, CallInto/CallKwInto with a *any,
// Eval and EvalInto with a *any decode the result as plain JSON, as they
// did before they became lossless: a tuple becomes []any, and bytes, sets,
// dicts with non-string keys, NaN, datetimes, ... are errors matching
// ErrConversion instead of the documented Go types. The arguments are
// encoded the same way either way. The object API (Object.Call, Attr,
// Value, ...) is always tagged and refuses this option.
func WithPlainJSON() CallOption { return CallOption{flags: callPlainJSON} }

// MarshalJSON makes a CallOption nested inside an argument (not passed at
// the top level of the arguments) a conversion error rather than an empty
// dict.
func (CallOption) MarshalJSON() ([]byte, error) {
	return nil, fmt.Errorf("pyrt.CallOption must be passed among the call's arguments, not inside one")
}

// Value flags of the C API, and callPlainJSON, a Go-side flag never sent.
const (
	valueTagged   uint32 = 1 // PYRT_VALUE_TAGGED
	valueHandles  uint32 = 2 // PYRT_VALUE_HANDLES
	callPlainJSON uint32 = 1 << 16
)

// callFlags ORs the flags of opts.
func callFlags(opts []CallOption) uint32 {
	var flags uint32
	for _, o := range opts {
		flags |= o.flags
	}
	return flags
}

// argOptions returns the flags of the CallOptions among args, how many
// there are, and whether every other argument is a scalar whose JSON has no
// object in it (nil, bool, string, a number of a basic type).
func argOptions(args []any) (flags uint32, n int, scalars bool) {
	scalars = true
	for _, a := range args {
		switch x := a.(type) {
		case nil, bool, string, float64, int, int64, float32, int32, uint, uint64, uint32:
		case CallOption:
			flags |= x.flags
			n++
		default:
			scalars = false
		}
	}
	return flags, n, scalars
}

// wireFlags turns the flags of a runtime-level call into the C flags:
// 0 (plain JSON) with callPlainJSON, else tagged (and handles if asked).
func wireFlags(flags uint32) uint32 {
	if flags&callPlainJSON != 0 {
		return 0
	}
	return valueTagged | flags&valueHandles
}

// checkRuntimeFlags refuses WithPlainJSON together with WithHandles (plain
// JSON has no handles).
func checkRuntimeFlags(flags uint32) error {
	if flags&callPlainJSON != 0 && flags&valueHandles != 0 {
		return newError(CodeInvalidArgument, "pyrt.WithPlainJSON() and pyrt.WithHandles() exclude each other")
	}
	return nil
}

// objectFlags returns the C flags of an object-API call (always tagged),
// refusing WithPlainJSON.
func objectFlags(flags uint32) (uint32, error) {
	if flags&callPlainJSON != 0 {
		return 0, newError(CodeInvalidArgument, "pyrt.WithPlainJSON() applies to Runtime.Call, CallKw, CallInto, Eval and EvalInto; the object API is always tagged")
	}
	return valueTagged | flags, nil
}
