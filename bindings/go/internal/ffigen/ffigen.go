// Package ffigen generates the two implementations of the Go binding's
// foreign-call layer from its one declaration list (bindings/go/ffi.go, the
// cAPI interface), checking every declaration against its prototype in
// include/pyrt.h:
//
//   - ffi_gen_purego.go: the symbol table (one index per C function, resolved
//     all at once when libpyrt is opened) and one method per C function that
//     calls ccall, the purego flavour's single foreign-call chokepoint;
//   - ffi_gen_cgo.go: one static C shim and one method per C function (build
//     tag pyrt_cgo).
//
// The Go types of a declaration say what each argument is, and decide how
// both flavours pass it:
//
//	uintptr          a C pointer Go treats as a number: a handle
//	                 (pyrt_runtime*, pyrt_object*, ...), C memory, a
//	                 function pointer; never Go memory
//	*byte            Go memory holding bytes (a NUL-terminated string, data)
//	*uintptr         pointer-free Go memory C writes words into (T** out
//	                 slots, size_t*, the pyrt_buf struct)
//	*float64 *int64 *uint32 *uint64
//	                 Go memory of that scalar (double*, int64_t*, uint32_t*,
//	                 uint64_t*)
//	unsafe.Pointer   any other Go memory (void*: a caller's slice); the only
//	                 kind cgo's pointer check still inspects
//	int32 uint32 int64 uint64 bool
//	                 the C scalar of the same width; int is size_t
//
// The cgo shims take every pointer to Go memory as a pointer to a scalar
// type, so that cgo's run-time pointer check (which walks the Go heap for
// every argument whose C type might hold pointers) has nothing to inspect:
// the binding only ever hands C pointer-free Go memory, and the declaration
// types make that visible.
package ffigen

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"regexp"
	"strings"
)

// DeclInterface is the interface in ffi.go whose method set is the
// declaration list.
const DeclInterface = "cAPI"

// MaxArgs is the most arguments a declared function may take (the purego
// chokepoint passes this many words).
const MaxArgs = 10

// param is one parameter of a declared function.
type param struct {
	name  string // the Go name
	gtype string // the Go type, as written
	ctype string // the C type from the header, normalized ("const char *")
	cname string // the C name from the header
}

// fn is one declared C function.
type fn struct {
	name   string // the C name, also the Go method name
	params []param
	gret   string // the Go result type, "" for none
	cret   string // the C result type
	doc    string // the declaration's comment, if any
}

// Generate reads the declaration list from decl (the Go source of ffi.go)
// and the C prototypes from header (include/pyrt.h), checks that each
// declaration fits its prototype, and returns the gofmt-ed sources of the
// purego and cgo implementations.
func Generate(decl, header []byte) (purego, cgo []byte, err error) {
	fns, err := parseDecl(decl)
	if err != nil {
		return nil, nil, err
	}
	h, err := parseHeader(header)
	if err != nil {
		return nil, nil, err
	}
	for i := range fns {
		if err := h.bind(&fns[i]); err != nil {
			return nil, nil, err
		}
	}
	if purego, err = format.Source(genPurego(fns)); err != nil {
		return nil, nil, fmt.Errorf("formatting the purego flavour: %w", err)
	}
	if cgo, err = format.Source(genCgo(fns)); err != nil {
		return nil, nil, fmt.Errorf("formatting the cgo flavour: %w", err)
	}
	return purego, cgo, nil
}

// ---- the declaration list ---------------------------------------------------

func parseDecl(src []byte) ([]fn, error) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "ffi.go", src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	var iface *ast.InterfaceType
	ast.Inspect(file, func(n ast.Node) bool {
		if ts, ok := n.(*ast.TypeSpec); ok && ts.Name.Name == DeclInterface {
			iface, _ = ts.Type.(*ast.InterfaceType)
		}
		return iface == nil
	})
	if iface == nil {
		return nil, fmt.Errorf("ffi.go: no interface %s", DeclInterface)
	}
	typeStr := func(e ast.Expr) string {
		var b bytes.Buffer
		_ = format.Node(&b, fset, e)
		return b.String()
	}
	var fns []fn
	seen := map[string]bool{}
	for _, m := range iface.Methods.List {
		ft, ok := m.Type.(*ast.FuncType)
		if !ok || len(m.Names) != 1 {
			return nil, fmt.Errorf("%s: only methods belong in %s", fset.Position(m.Pos()), DeclInterface)
		}
		f := fn{name: m.Names[0].Name}
		if !strings.HasPrefix(f.name, "pyrt_") {
			return nil, fmt.Errorf("%s: %s is not a pyrt_ function", fset.Position(m.Pos()), f.name)
		}
		if seen[f.name] {
			return nil, fmt.Errorf("%s: %s declared twice", fset.Position(m.Pos()), f.name)
		}
		seen[f.name] = true
		if m.Doc != nil {
			f.doc = strings.TrimSpace(m.Doc.Text())
		}
		for _, p := range ft.Params.List {
			if len(p.Names) == 0 {
				return nil, fmt.Errorf("%s: %s: name every parameter", fset.Position(p.Pos()), f.name)
			}
			for _, n := range p.Names {
				f.params = append(f.params, param{name: n.Name, gtype: typeStr(p.Type)})
			}
		}
		if ft.Results != nil {
			if len(ft.Results.List) != 1 || len(ft.Results.List[0].Names) > 1 {
				return nil, fmt.Errorf("%s: %s: at most one result", fset.Position(m.Pos()), f.name)
			}
			f.gret = typeStr(ft.Results.List[0].Type)
		}
		if len(f.params) > MaxArgs {
			return nil, fmt.Errorf("%s: %s takes %d arguments, more than %d", fset.Position(m.Pos()), f.name, len(f.params), MaxArgs)
		}
		fns = append(fns, f)
	}
	if len(fns) == 0 {
		return nil, fmt.Errorf("ffi.go: %s declares nothing", DeclInterface)
	}
	return fns, nil
}

// ---- the header -------------------------------------------------------------

type proto struct {
	ret    string
	params []param // names and C types
}

// cheader is what Generate needs of pyrt.h.
type cheader struct {
	protos map[string]proto
	fnPtrs map[string]bool // the function pointer typedefs (pyrt_host_fn, ...)
}

var (
	protoRE   = regexp.MustCompile(`(?m)^([A-Za-z_][A-Za-z0-9_ \*]*?[\s\*])(pyrt_[a-z0-9_]+)\(([^()]*)\);`)
	fnTypedef = regexp.MustCompile(`typedef\s+[^;]*?\(\s*\*\s*(pyrt_[a-z0-9_]+)\s*\)`)
	spaces    = regexp.MustCompile(`\s+`)
)

// ctype normalizes a C type: single spaces, "T *", "T **".
func ctype(s string) string {
	s = strings.ReplaceAll(s, "*", " * ")
	s = strings.TrimSpace(spaces.ReplaceAllString(s, " "))
	return strings.ReplaceAll(s, "* *", "**")
}

func parseHeader(src []byte) (*cheader, error) {
	protos := map[string]proto{}
	fnPtrs := map[string]bool{}
	for _, m := range protoRE.FindAllSubmatch(src, -1) {
		p := proto{ret: ctype(string(m[1]))}
		if args := strings.TrimSpace(string(m[3])); args != "void" && args != "" {
			for _, a := range strings.Split(args, ",") {
				a = strings.TrimSpace(a)
				i := strings.LastIndexAny(a, " *")
				if i < 0 {
					return nil, fmt.Errorf("pyrt.h: %s: parameter %q has no name", m[2], a)
				}
				p.params = append(p.params, param{cname: a[i+1:], ctype: ctype(a[:i+1])})
			}
		}
		protos[string(m[2])] = p
	}
	for _, m := range fnTypedef.FindAllSubmatch(src, -1) {
		fnPtrs[string(m[1])] = true
	}
	if len(protos) == 0 {
		return nil, fmt.Errorf("pyrt.h: no prototypes found")
	}
	return &cheader{protos, fnPtrs}, nil
}

// ---- checking a declaration against its prototype ---------------------------

// scalars maps the Go scalar types to the one C type each stands for.
var scalars = map[string]string{
	"int32": "int32_t", "uint32": "uint32_t", "int64": "int64_t", "uint64": "uint64_t",
	"int": "size_t", "bool": "bool",
}

// scalarPtrs maps the Go pointers to scalars to their C pointee.
var scalarPtrs = map[string]string{"*float64": "double", "*int64": "int64_t", "*uint32": "uint32_t", "*uint64": "uint64_t"}

func (h *cheader) isPointer(c string) bool { return strings.HasSuffix(c, "*") || h.fnPtrs[c] }

func stripConst(c string) string { return strings.TrimPrefix(c, "const ") }

// fits reports whether a Go declaration type may stand for the C type c.
func (h *cheader) fits(g, c string) bool {
	switch g {
	case "uintptr":
		return h.isPointer(c)
	case "*byte":
		switch stripConst(c) {
		case "char *", "uint8_t *":
			return true
		}
	case "*uintptr":
		// Pointer-free Go memory that C writes words into: a T** out slot, a
		// size_t*, or the pyrt_buf {char *data; size_t len; size_t cap;}.
		return strings.HasSuffix(c, "**") || c == "size_t *" || c == "pyrt_buf *"
	case "unsafe.Pointer":
		return stripConst(c) == "void *"
	}
	if s, ok := scalars[g]; ok {
		return c == s
	}
	if s, ok := scalarPtrs[g]; ok {
		return stripConst(c) == s+" *"
	}
	return false
}

func (h *cheader) bind(f *fn) error {
	p, ok := h.protos[f.name]
	if !ok {
		return fmt.Errorf("%s is declared in ffi.go but has no prototype in pyrt.h", f.name)
	}
	if len(p.params) != len(f.params) {
		return fmt.Errorf("%s: ffi.go declares %d parameters, pyrt.h %d", f.name, len(f.params), len(p.params))
	}
	for i := range f.params {
		g, c := &f.params[i], p.params[i].ctype
		if !h.fits(g.gtype, c) {
			return fmt.Errorf("%s: parameter %d (%s): Go type %s cannot stand for C type %s", f.name, i+1, g.name, g.gtype, c)
		}
		g.ctype, g.cname = c, p.params[i].cname
	}
	f.cret = p.ret
	switch {
	case f.gret == "" && p.ret == "void":
	case f.gret == "uintptr" && h.isPointer(p.ret):
	case f.gret != "" && scalars[f.gret] == p.ret:
	default:
		return fmt.Errorf("%s: Go result %q cannot stand for C result %s", f.name, f.gret, p.ret)
	}
	return nil
}

// ---- purego -----------------------------------------------------------------

const genHeader = "// Code generated by internal/cmd/ffigen from ffi.go and include/pyrt.h; DO NOT EDIT.\n\n"

func genPurego(fns []fn) []byte {
	var b bytes.Buffer
	b.WriteString(genHeader)
	b.WriteString("//go:build !pyrt_cgo\n\npackage pyrt\n\nimport \"unsafe\"\n\n")
	b.WriteString("// The symbol table: one index per declared C function, in declaration order.\nconst (\n")
	for i, f := range fns {
		if i == 0 {
			fmt.Fprintf(&b, "\tsym_%s = iota\n", f.name)
		} else {
			fmt.Fprintf(&b, "\tsym_%s\n", f.name)
		}
	}
	b.WriteString("\tsymCount\n)\n\n")
	b.WriteString("// symNames are the symbols openLibrary resolves, indexed by the sym_ constants.\nvar symNames = [symCount]string{\n")
	for _, f := range fns {
		fmt.Fprintf(&b, "\t%q,\n", f.name)
	}
	b.WriteString("}\n")
	for _, f := range fns {
		b.WriteString("\n")
		writeDoc(&b, f)
		fmt.Fprintf(&b, "func (l *ffiLib) %s(%s) %s {\n", f.name, goParams(f), f.gret)
		args := make([]string, MaxArgs)
		for i := range args {
			args[i] = "0"
		}
		// A pointer to Go memory is converted to uintptr in ccall's call
		// expression: go:uintptrescapes on ccall keeps it alive, on the heap
		// and in place, until the call returns (no KeepAlive needed).
		for i, p := range f.params {
			switch {
			case p.gtype == "uintptr":
				args[i] = p.name
			case p.gtype == "unsafe.Pointer":
				args[i] = "uintptr(" + p.name + ")"
			case strings.HasPrefix(p.gtype, "*"):
				args[i] = "uintptr(unsafe.Pointer(" + p.name + "))"
			case p.gtype == "bool":
				args[i] = "boolArg(" + p.name + ")"
			default:
				args[i] = "uintptr(" + p.name + ")"
			}
		}
		// A pointer or 64-bit result is "wide": ccall must return all of it.
		wide := f.gret == "uintptr" || f.gret == "uint64" || f.gret == "int" || f.gret == "int64"
		call := fmt.Sprintf("ccall(%t, l.fn[sym_%s], %s)", wide, f.name, strings.Join(args, ", "))
		switch f.gret {
		case "":
			fmt.Fprintf(&b, "\t%s\n}\n", call)
		case "uintptr":
			fmt.Fprintf(&b, "\treturn %s\n}\n", call)
		case "bool":
			fmt.Fprintf(&b, "\treturn %s&0xff != 0\n}\n", call)
		default:
			fmt.Fprintf(&b, "\treturn %s(%s)\n}\n", f.gret, call)
		}
	}
	return b.Bytes()
}

func writeDoc(b *bytes.Buffer, f fn) {
	cparams := make([]string, len(f.params))
	for i, p := range f.params {
		cparams[i] = p.ctype + " " + p.cname
		if strings.HasSuffix(p.ctype, "*") {
			cparams[i] = p.ctype + p.cname
		}
	}
	sig := strings.Join(cparams, ", ")
	if sig == "" {
		sig = "void"
	}
	ret := f.cret + " "
	if strings.HasSuffix(f.cret, "*") {
		ret = f.cret
	}
	fmt.Fprintf(b, "// %s calls %s%s(%s).\n", f.name, ret, f.name, sig)
}

func goParams(f fn) string {
	ps := make([]string, len(f.params))
	for i, p := range f.params {
		ps[i] = p.name + " " + p.gtype
	}
	return strings.Join(ps, ", ")
}

// ---- cgo --------------------------------------------------------------------

// shimType is the C type a shim takes for a Go declaration type; "" means
// the prototype's own type (scalars).
var shimType = map[string]string{
	"uintptr":        "uintptr_t",
	"*byte":          "char *",
	"*uintptr":       "uintptr_t *",
	"*float64":       "double *",
	"*int64":         "int64_t *",
	"*uint32":        "uint32_t *",
	"*uint64":        "uint64_t *",
	"unsafe.Pointer": "void *",
}

// cgoGoType is the cgo type of a shim parameter, for the conversion of a Go
// argument.
var cgoGoType = map[string]string{
	"*byte": "*C.char", "*uintptr": "*C.uintptr_t", "*float64": "*C.double", "*int64": "*C.int64_t",
	"*uint32": "*C.uint32_t", "*uint64": "*C.uint64_t",
}

func genCgo(fns []fn) []byte {
	var b bytes.Buffer
	b.WriteString(genHeader)
	b.WriteString("//go:build pyrt_cgo\n\npackage pyrt\n\n")
	b.WriteString("/*\n#include <stdint.h>\n#include \"pyrt.h\"\n\n")
	b.WriteString("// One shim per declared function: pointers to Go memory arrive as pointers\n")
	b.WriteString("// to scalars (nothing for cgo's pointer check to walk), C pointers as\n")
	b.WriteString("// uintptr_t, and are cast to the prototype's types here.\n")
	for _, f := range fns {
		ret := f.cret
		if f.gret == "uintptr" {
			ret = "uintptr_t"
		}
		ps := make([]string, len(f.params))
		as := make([]string, len(f.params))
		for i, p := range f.params {
			t := shimType[p.gtype]
			if t == "" {
				t = p.ctype
			}
			if strings.HasSuffix(t, "*") {
				ps[i] = t + p.cname
			} else {
				ps[i] = t + " " + p.cname
			}
			if t == p.ctype {
				as[i] = p.cname
			} else {
				as[i] = "(" + p.ctype + ")" + p.cname
			}
		}
		sig := strings.Join(ps, ", ")
		if sig == "" {
			sig = "void"
		}
		call := fmt.Sprintf("%s(%s)", f.name, strings.Join(as, ", "))
		if f.gret == "uintptr" {
			call = "(uintptr_t)" + call
		}
		if ret == "void" {
			fmt.Fprintf(&b, "static inline void go_%s(%s) { %s; }\n", f.name, sig, call)
		} else {
			fmt.Fprintf(&b, "static inline %s go_%s(%s) { return %s; }\n", ret, f.name, sig, call)
		}
	}
	b.WriteString("*/\nimport \"C\"\n\nimport \"unsafe\"\n")
	for _, f := range fns {
		b.WriteString("\n")
		writeDoc(&b, f)
		fmt.Fprintf(&b, "func (l *ffiLib) %s(%s) %s {\n", f.name, goParams(f), f.gret)
		args := make([]string, len(f.params))
		for i, p := range f.params {
			switch {
			case p.gtype == "uintptr":
				args[i] = "C.uintptr_t(" + p.name + ")"
			case p.gtype == "unsafe.Pointer":
				args[i] = p.name
			case cgoGoType[p.gtype] != "":
				args[i] = "(" + cgoGoType[p.gtype] + ")(unsafe.Pointer(" + p.name + "))"
			default:
				args[i] = "C." + p.ctype + "(" + p.name + ")"
			}
		}
		call := fmt.Sprintf("C.go_%s(%s)", f.name, strings.Join(args, ", "))
		switch f.gret {
		case "":
			fmt.Fprintf(&b, "\t%s\n", call)
		default:
			fmt.Fprintf(&b, "\treturn %s(%s)\n", f.gret, call)
		}
		b.WriteString("}\n")
	}
	return b.Bytes()
}
