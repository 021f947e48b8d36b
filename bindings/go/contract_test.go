package pyrt

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// The contract is generated from libpyrt's sources (src/contract.rs): these
// tests fail when libpyrt gains a status code, a config key or an info field
// the binding does not know.
const contractPath = "../../include/pyrt-contract.json"

type contract struct {
	Statuses []struct {
		Name string `json:"name"`
		Code int32  `json:"code"`
	} `json:"statuses"`
	ConfigKeys []string `json:"config_keys"`
	InfoFields []string `json:"info_fields"`
}

func readContract(t *testing.T) contract {
	t.Helper()
	data, err := os.ReadFile(contractPath)
	if err != nil {
		t.Fatalf("reading the contract: %v", err)
	}
	var c contract
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatalf("%s: %v", contractPath, err)
	}
	if len(c.Statuses) == 0 || len(c.ConfigKeys) == 0 || len(c.InfoFields) == 0 {
		t.Fatalf("%s: a section is empty: %+v", contractPath, c)
	}
	return c
}

// Every status code has its C name (Code.String) and, except PYRT_OK, a
// sentinel of its own that its errors match; and the binding knows no code
// the contract does not list.
func TestContractStatuses(t *testing.T) {
	c := readContract(t)
	seen := map[error]Code{}
	for _, s := range c.Statuses {
		code := Code(s.Code)
		if got := code.String(); got != s.Name {
			t.Errorf("Code(%d).String() = %q, the contract says %q", s.Code, got, s.Name)
		}
		sentinel := code.Sentinel()
		if code == CodeOK || code == CodeDone {
			if sentinel != nil {
				t.Errorf("%s is not an error but has a sentinel: %v", code, sentinel)
			}
			continue
		}
		if sentinel == nil {
			t.Errorf("%s (%d) has no sentinel error (Code.Sentinel)", s.Name, s.Code)
			continue
		}
		if other, dup := seen[sentinel]; dup {
			t.Errorf("%s and %s share the sentinel %v", other, code, sentinel)
		}
		seen[sentinel] = code
		if err := error(&Error{Code: code, Message: "m"}); !errors.Is(err, sentinel) {
			t.Errorf("an *Error with %s does not match its sentinel %v", s.Name, sentinel)
		}
	}
	known := map[Code]bool{}
	for _, s := range c.Statuses {
		known[Code(s.Code)] = true
	}
	for i, name := range codeNames {
		if !known[Code(i)] {
			t.Errorf("the binding knows code %d (%s), which the contract does not list", i, name)
		}
	}
	for i := range codeSentinels {
		if !known[Code(i)] {
			t.Errorf("the binding has a sentinel for code %d, which the contract does not list", i)
		}
	}
}

// allOptions builds every exported Option constructor of the package, with
// arguments that make each one set its config (TestContractConfigKeys checks
// the list against the package's source, so a new constructor must be
// added here).
func allOptions() map[string]Option {
	return map[string]Option{
		"WithMainThread":         WithMainThread(),
		"WithWorkers":            WithWorkers(2),
		"WithWorkerModules":      WithWorkerModules("json"),
		"WithWorkerSetup":        WithWorkerSetup("x = 1"),
		"WithStats":              WithStats(true),
		"WithSignals":            WithSignals("host"),
		"WithSigpipe":            WithSigpipe("call"),
		"WithCallTimeout":        WithCallTimeout(time.Second),
		"WithCaptureOutput":      WithCaptureOutput(io.Discard, nil),
		"WithLibrary":            WithLibrary("/nonexistent/libpyrt.so"),
		"WithLibpython":          WithLibpython("/nonexistent/libpython3.12.so"),
		"WithPythonExecutable":   WithPythonExecutable("/nonexistent/python3"),
		"WithVenv":               WithVenv("/nonexistent/venv"),
		"WithRequirements":       WithRequirements("six"),
		"WithRequirementsFile":   WithRequirementsFile("/nonexistent/requirements.txt"),
		"WithInstallProgress":    WithInstallProgress(func(string) {}),
		"WithLogger":             WithLogger(slog.Default()),
		"WithCallObserver":       WithCallObserver(nil),
		"WithSystemSitePackages": WithSystemSitePackages(true),
		"WithSitePaths":          WithSitePaths("/nonexistent/site"),
		"WithPythonHome":         WithPythonHome("/nonexistent/home"),
		"WithPythonVersion":      WithPythonVersion("3.12"),
		"WithUseEnvironment":     WithUseEnvironment(true),
		"WithArgv":               WithArgv("prog"),
		"WithStdout":             WithStdout(io.Discard),
		"WithStderr":             WithStderr(io.Discard),
	}
}

// exportedOptionFuncs lists the package's exported functions that return an
// Option, read from its (non-test) source files.
func exportedOptionFuncs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var names []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !fn.Name.IsExported() || fn.Type.Results == nil || len(fn.Type.Results.List) != 1 {
				continue
			}
			if id, ok := fn.Type.Results.List[0].Type.(*ast.Ident); ok && id.Name == "Option" {
				names = append(names, fn.Name.Name)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// Every config key can be set through an Option: each Option is applied on
// its own and the keys of the config JSON it produces are collected. Every
// key an Option produces must be in the contract too (libpyrt rejects
// unknown keys).
func TestContractConfigKeys(t *testing.T) {
	c := readContract(t)
	opts := allOptions()
	for _, name := range exportedOptionFuncs(t) {
		if _, ok := opts[name]; !ok {
			t.Errorf("the exported Option constructor %s is missing from allOptions", name)
		}
	}
	setBy := map[string][]string{} // config key -> options that set it
	for name, opt := range opts {
		cfg, err := buildOptions([]Option{opt}).configJSON()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if cfg == nil {
			continue // e.g. WithLibrary, WithStdout: not libpyrt config
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(cfg, &m); err != nil {
			t.Errorf("%s: config %s: %v", name, cfg, err)
			continue
		}
		for k := range m {
			setBy[k] = append(setBy[k], name)
		}
	}
	for _, k := range c.ConfigKeys {
		if len(setBy[k]) == 0 {
			t.Errorf("config key %q: no Option sets it", k)
		}
	}
	for k, names := range setBy {
		if !slices.Contains(c.ConfigKeys, k) {
			t.Errorf("%v set the config key %q, which the contract does not list", names, k)
		}
	}
}

// The values the options write: a duration becomes whole milliseconds
// (rounded up, never 0 for a positive one), and no timeout writes no key.
func TestConfigValues(t *testing.T) {
	for _, tc := range []struct {
		opts []Option
		want string
	}{
		{[]Option{WithCallTimeout(1500 * time.Millisecond)}, `{"timeout_ms":1500}`},
		{[]Option{WithCallTimeout(time.Microsecond)}, `{"timeout_ms":1}`},
		{[]Option{WithCallTimeout(0)}, ``},
		{[]Option{WithCallTimeout(-time.Second)}, ``},
		{[]Option{WithCaptureOutput(nil, nil)}, `{"capture_output":true}`},
		{[]Option{WithMainThread(), WithCallTimeout(time.Second)}, `{"main_thread":true,"timeout_ms":1000}`},
	} {
		cfg, err := buildOptions(tc.opts).configJSON()
		if err != nil || string(cfg) != tc.want {
			t.Errorf("config = %s, %v; want %s", cfg, err, tc.want)
		}
	}
}

// jsonFields returns the json names of t's fields ("-" left out).
func jsonFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f
	}
	return out
}

// Every info field has an Info field (by json tag) and nothing else does;
// and a running runtime's pyrt_info_json decodes into Info completely: no
// key left over, every value carried over.
func TestContractInfoFields(t *testing.T) {
	c := readContract(t)
	fields := jsonFields(reflect.TypeFor[Info]())
	for _, k := range c.InfoFields {
		if _, ok := fields[k]; !ok {
			t.Errorf("info field %q: Info has no field with that json name", k)
		}
	}
	for k, f := range fields {
		if !slices.Contains(c.InfoFields, k) {
			t.Errorf("Info.%s (json %q) is not an info field of the contract", f.Name, k)
		}
	}

	var raw []byte
	if err := testRT.infoJSON(bg, func(data []byte) error { raw = bytes.Clone(data); return nil }); err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("pyrt_info_json: %v\n%s", err, raw)
	}
	for _, k := range c.InfoFields {
		if _, ok := m[k]; !ok {
			t.Errorf("pyrt_info_json lacks the contract's field %q: %s", k, raw)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var strict Info
	if err := dec.Decode(&strict); err != nil {
		t.Errorf("pyrt_info_json has a field Info lacks: %v\n%s", err, raw)
	}
	info, err := testRT.Info(bg)
	if err != nil {
		t.Fatal(err)
	}
	iv := reflect.ValueOf(info)
	for k, text := range m {
		f, ok := fields[k]
		if !ok {
			continue // reported above
		}
		got := iv.FieldByIndex(f.Index)
		want := reflect.New(f.Type)
		if string(text) != "null" {
			if err := json.Unmarshal(text, want.Interface()); err != nil {
				t.Errorf("info field %q = %s does not fit Info.%s (%s): %v", k, text, f.Name, f.Type, err)
				continue
			}
		}
		if !reflect.DeepEqual(got.Interface(), want.Elem().Interface()) {
			t.Errorf("Info.%s = %#v, pyrt_info_json says %q: %s", f.Name, got.Interface(), k, text)
		}
	}
}
