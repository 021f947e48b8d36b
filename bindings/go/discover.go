package pyrt

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// BindingVersion is the version of this Go binding. A libpyrt is accepted
// when its pyrt_version() has the same major.minor.
const BindingVersion = "0.1.0"

// LibraryEnv is the environment variable naming the libpyrt shared library
// to load (purego mode).
const LibraryEnv = "PYRT_LIBRARY"

// libraryName is the file name searched for.
const libraryName = "libpyrt.so"

type libCandidate struct {
	path     string
	source   string
	final    bool         // an explicit choice: do not fall through to the next ones
	embedded *embeddedLib // the copy inside this module, written out at load time (path is empty)
}

// libraryCandidates lists, in order, where libpyrt is looked for:
//
//  1. the WithLibrary option (only that, when given);
//  2. $PYRT_LIBRARY (only that, when set);
//  3. next to the running executable;
//  4. target/release/libpyrt.so in this repository's build output, found by
//     walking up from the working directory (the repository's own tests and
//     examples; a program elsewhere gets the embedded copy, as after `go get`);
//  5. the copy embedded in this module for this platform (embed_*.go);
//  6. "libpyrt.so" through the system's dynamic-linker search path
//     (LD_LIBRARY_PATH, ld.so.cache, /usr/lib, ...).
func libraryCandidates(explicit string) []libCandidate {
	if explicit != "" {
		return []libCandidate{{path: explicit, source: "WithLibrary option", final: true}}
	}
	if env := os.Getenv(LibraryEnv); env != "" {
		return []libCandidate{{path: env, source: "$" + LibraryEnv, final: true}}
	}
	var out []libCandidate
	seen := map[string]bool{}
	add := func(p, source string) {
		if p == "" || seen[p] {
			return
		}
		seen[p] = true
		out = append(out, libCandidate{path: p, source: source})
	}
	if exe, err := os.Executable(); err == nil {
		add(filepath.Join(filepath.Dir(exe), libraryName), "next to the executable")
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			add(filepath.Join(filepath.Dir(real), libraryName), "next to the executable")
		}
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			p := filepath.Join(d, "target", "release", libraryName)
			if _, err := os.Stat(p); err == nil {
				add(p, "repository build output")
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if e := embeddedCopy; e != nil {
		out = append(out, libCandidate{source: "embedded copy", embedded: e})
	}
	add(libraryName, "system library path")
	return out
}

// sameLibrary reports whether two library paths name the same file.
func sameLibrary(a, b string) bool {
	if a == b {
		return true
	}
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// checkVersion accepts a libpyrt version string with the binding's major.minor.
func checkVersion(v string) error {
	if majorMinor(v) == "" || majorMinor(v) != majorMinor(BindingVersion) {
		return &loadError{ErrLibraryVersion, fmt.Sprintf(
			"libpyrt version %q is not compatible with the Go binding %s (major.minor must match)", v, BindingVersion)}
	}
	return nil
}

func majorMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return ""
	}
	for _, p := range parts[:2] {
		for _, c := range p {
			if c < '0' || c > '9' {
				return ""
			}
		}
	}
	return parts[0] + "." + parts[1]
}
