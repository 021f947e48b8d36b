package pyrt

import (
	"fmt"
	"strings"
)

// Discovery is the report of Discover: the libpython New would load for the
// same options, and every candidate considered on the way.
type Discovery struct {
	// Libpython is the shared library that would be loaded.
	Libpython string `json:"libpython"`
	// Version is its "major.minor" (from the file name), e.g. "3.12", with
	// a "t" for a free-threaded build ("3.13t"); empty when the name does
	// not tell. WithPythonVersion takes it as it is.
	Version string `json:"version"`
	// FreeThreaded reports a free-threaded build (libpython3.Xt, no GIL),
	// as far as the file name tells.
	FreeThreaded bool `json:"free_threaded"`
	// Untested reports a Python newer than any version pyrt was tested with
	// (3.8–3.14, 3.13t): accepted because it exports what pyrt needs (see
	// Info.Tested).
	Untested bool `json:"untested"`
	// Warning is set when the python3 on PATH could not be used and another
	// library was chosen instead: why. Empty otherwise.
	Warning string `json:"warning"`
	// Executable is the interpreter that would be reported as
	// sys.executable when known at discovery time (the venv's bin/python, or
	// the interpreter that named the library); empty when New derives it.
	Executable string `json:"executable"`
	// Venv is the virtualenv directory (WithVenv), or empty.
	Venv string `json:"venv"`
	// Candidates lists, in order, every library or interpreter considered,
	// the accepted one last.
	Candidates []Candidate `json:"candidates"`
}

// Candidate is one place libpython discovery looked at.
type Candidate struct {
	// Source says where the candidate came from: `config "libpython"`,
	// "PYRT_LIBPYTHON", "`python3` on PATH (sysconfig)", "interpreter
	// <venv>/bin/python (sysconfig)", "common location", ...
	Source string `json:"source"`
	// Path is the library or interpreter path (empty when there was none,
	// e.g. PYRT_LIBPYTHON not set).
	Path string `json:"path"`
	// Accepted reports whether this candidate was taken.
	Accepted bool `json:"accepted"`
	// Reason says why it was taken or rejected.
	Reason string `json:"reason"`
}

// Discover reports which libpython New would use with the same options
// (WithLibpython, WithVenv, WithPythonVersion, $PYRT_LIBPYTHON, ...), its
// version, and every candidate considered with the reason it was taken or
// rejected, without loading libpython or starting Python (it may run the
// python3 on PATH, or the venv's interpreter, to ask sysconfig). It loads
// libpyrt (WithLibrary is honoured).
//
// When nothing usable is found the error matches ErrLibpythonNotFound and
// its message lists the same candidates; an invalid option (a
// WithPythonVersion that is not "3.X" with X ≥ 8, a directory that is not a
// venv) is an error matching ErrConfig.
func Discover(opts ...Option) (*Discovery, error) {
	o := buildOptions(opts)
	l, err := loadLibrary(o.library)
	if err != nil {
		return nil, err
	}
	cfg, err := o.configJSON()
	if err != nil {
		return nil, err
	}
	f := getFrame()
	defer putFrame(f)
	cfgOff := -1
	if cfg != nil {
		f.buf = append(append(f.buf[:0], cfg...), 0)
		cfgOff = 0
	}
	if st := l.pyrt_discover_json(f.cstr(cfgOff), f.outArg(), f.errArg()); st != 0 {
		return nil, l.takeError(st, f.errp())
	}
	d := &Discovery{}
	if err := l.takeResult(f, func(data []byte) error { return decodeInto(data, d) }); err != nil {
		return nil, err
	}
	return d, nil
}

// String formats the report for people, one candidate per line:
//
//	libpython:  /usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0 (3.11)
//	executable: /usr/bin/python3.11
//	  [rejected] PYRT_LIBPYTHON: not set
//	  [taken]    `python3` on PATH (sysconfig): /usr/lib/...: Python 3.11, file exists
//
// The version is followed by ", free-threaded" and ", untested" when they
// apply, and a warning, when there is one, has its own line.
func (d *Discovery) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "libpython:  %s", d.Libpython)
	if d.Version != "" || d.FreeThreaded || d.Untested {
		notes := []string{}
		if d.Version != "" {
			notes = append(notes, d.Version)
		}
		if d.FreeThreaded {
			notes = append(notes, "free-threaded")
		}
		if d.Untested {
			notes = append(notes, "untested")
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(notes, ", "))
	}
	b.WriteByte('\n')
	if d.Executable != "" {
		fmt.Fprintf(&b, "executable: %s\n", d.Executable)
	}
	if d.Venv != "" {
		fmt.Fprintf(&b, "venv:       %s\n", d.Venv)
	}
	if d.Warning != "" {
		fmt.Fprintf(&b, "warning:    %s\n", strings.ReplaceAll(strings.TrimSpace(d.Warning), "\n", "\n            "))
	}
	for _, c := range d.Candidates {
		b.WriteString("  " + c.String() + "\n")
	}
	return b.String()
}

// String formats the candidate as "[taken] source: path: reason".
func (c Candidate) String() string {
	mark := "[rejected]"
	if c.Accepted {
		mark = "[taken]   "
	}
	s := mark + " " + c.Source
	if c.Path != "" && c.Path != c.Source {
		s += ": " + c.Path
	}
	reason := strings.TrimSpace(c.Reason)
	reason = strings.ReplaceAll(reason, "\n", "\n             ")
	return s + ": " + reason
}
