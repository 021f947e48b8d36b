//go:build !pyrt_cgo

package pyrt

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestEmbeddedLibrary checks the libpyrt copies this module ships
// (lib/*.so.gz) against their descriptions and against the sources in
// this checkout, then loads the copy for this platform the way a program
// outside the repository does and runs Python with it. It loads a second
// libpyrt into the test process, so it runs alone and on request:
//
//	PYRT_TEST_EMBEDDED=1 go test -run TestEmbeddedLibrary .
//
// (scripts/test-go.sh does, once). A failure that says the sources differ
// means the copies are stale: run `make go-embed` and commit the result.
func TestEmbeddedLibrary(t *testing.T) {
	mode := os.Getenv("PYRT_TEST_EMBEDDED")
	if mode != "1" && mode != "cache" {
		t.Skip("set PYRT_TEST_EMBEDDED=1 (load from memory) or =cache (the per-user cache fallback) and run it alone (-run TestEmbeddedLibrary): it loads another libpyrt")
	}
	cache := ""
	if mode == "cache" {
		avoidMemfd = true
		cache = t.TempDir()
		t.Setenv("XDG_CACHE_HOME", cache)
	}
	root := repoRoot()
	treeHash := ""
	if root != "" {
		treeHash = treeSourceHash(t, root)
	}
	copies, _ := filepath.Glob(filepath.Join("lib", "libpyrt-*.so.gz"))
	if len(copies) == 0 {
		t.Fatal("no embedded copies in lib/")
	}
	for _, gz := range copies {
		t.Run(filepath.Base(gz), func(t *testing.T) { checkCopy(t, gz, root, treeHash) })
	}

	e := embeddedCopy
	if e == nil {
		if runtime.GOOS == "linux" && runtime.GOARCH == "amd64" {
			t.Fatal("no embedded copy compiled in for linux/amd64 (pyrt_noembed set?)")
		}
		t.Skip("no embedded copy for " + runtime.GOOS + "/" + runtime.GOARCH)
	}
	if emb, ok := Embedded(); !ok || emb.SHA256 != e.sha256 || emb.CompressedSize != int64(len(e.gz)) {
		t.Errorf("Embedded() = %+v, %v", emb, ok)
	}

	// Load it as the default search would, with nothing loaded before.
	libMu.Lock()
	if libPtr != nil {
		libMu.Unlock()
		t.Fatal("a libpyrt is already loaded in this process; run this test alone")
	}
	l, err := openEmbedded(e)
	if err == nil {
		libPtr = l
	}
	libMu.Unlock()
	if err != nil {
		t.Fatalf("loading the embedded copy: %v", err)
	}
	t.Logf("loaded %s", l.location())
	want := "loaded from memory"
	if mode == "cache" {
		want = "loaded from the cache file " + filepath.Join(cache, "pyrt", "libpyrt-"+e.version+"-"+e.sha256[:16]+".so")
	}
	if !strings.Contains(l.location(), "embedded for "+runtime.GOOS+"/"+runtime.GOARCH) || !strings.HasSuffix(l.location(), want) {
		t.Errorf("location() = %q, want it to end with %q", l.location(), want)
	}
	if l.version() != e.version || l.sourceHash() != e.sourceHash {
		t.Errorf("loaded copy says %s / %s, embedded as %s / %s", l.version(), l.sourceHash(), e.version, e.sourceHash)
	}
	if treeHash != "" && l.sourceHash() != treeHash {
		t.Errorf("the embedded libpyrt was built from sources %s, this tree is %s: run `make go-embed`", l.sourceHash(), treeHash)
	}

	rt, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	ctx := context.Background()
	if v, err := rt.Call(ctx, "math", "sqrt", 16.0); err != nil || v != 4.0 {
		t.Fatalf("math.sqrt(16.0) = %v, %v", v, err)
	}
	if err := rt.Run(ctx, "1/0"); err == nil || !strings.Contains(err.Error(), "ZeroDivisionError") {
		t.Errorf("1/0: %v", err)
	}
	info, err := rt.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Library != l.location() || info.SourceHash != e.sourceHash || info.PyrtVersion != e.version {
		t.Errorf("Info = %+v", info)
	}
	t.Logf("ran Python %s from %s", info.PythonVersion, info.Libpython)
}
