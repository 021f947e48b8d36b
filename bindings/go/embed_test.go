package pyrt

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// repoRoot is the pyrt checkout this package sits in ("" when it is not in
// one, e.g. in the module cache).
func repoRoot() string {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return ""
	}
	for _, f := range []string{"Cargo.toml", "build.rs", "src/lib.rs"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			return ""
		}
	}
	return root
}

// treeSourceHash computes pyrt_source_hash() of the sources under root the
// way build.rs does: the SHA-256 of a sha256sum manifest of Cargo.toml,
// Cargo.lock, build.rs, cbindgen.toml and src/**/*.rs in bytewise order.
func treeSourceHash(t *testing.T, root string) string {
	t.Helper()
	var files []string
	for _, f := range []string{"Cargo.toml", "Cargo.lock", "build.rs", "cbindgen.toml"} {
		if st, err := os.Stat(filepath.Join(root, f)); err == nil && st.Mode().IsRegular() {
			files = append(files, f)
		}
	}
	err := filepath.WalkDir(filepath.Join(root, "src"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && strings.HasSuffix(p, ".rs") {
			rel, _ := filepath.Rel(root, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files) // bytewise, as LC_ALL=C sort
	var manifest bytes.Buffer
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&manifest, "%x  %s\n", sum, f)
	}
	sum := sha256.Sum256(manifest.Bytes())
	return hex.EncodeToString(sum[:])
}

// TestSourceHashOfRepositoryBuild checks the Go computation of the source
// hash against the library built from this tree (target/release, which
// scripts/test-go.sh builds first), so TestEmbeddedLibrary's comparison is
// known to be the same computation as build.rs's.
func TestSourceHashOfRepositoryBuild(t *testing.T) {
	root := repoRoot()
	if root == "" {
		t.Skip("not inside a pyrt checkout")
	}
	l, err := loadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	loc := l.location()
	if !strings.Contains(loc, filepath.Join("target", "release")) && loc != "linked (cgo)" {
		t.Skipf("libpyrt was loaded from %s, not this checkout's build", loc)
	}
	if got, want := l.sourceHash(), treeSourceHash(t, root); got != want {
		t.Fatalf("pyrt_source_hash() of %s = %s, but the tree hashes to %s (stale build? run cargo build --release)", loc, got, want)
	}
}

// TestEmbeddedCacheFile exercises the per-user cache, the fallback for
// systems where a library cannot be loaded from memory: the file is
// written once, reused, and rewritten when its content is wrong.
func TestEmbeddedCacheFile(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	e := &embeddedLib{version: "0.1.0", sha256: strings.Repeat("ab", 32)}
	data := []byte("\x7fELF pretend library")
	p, err := e.cacheFile(data)
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := cacheDir()
	if want := filepath.Join(dir, "libpyrt-0.1.0-abababababababab.so"); p != want {
		t.Fatalf("cache path %s, want %s", p, want)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, data) {
		t.Fatalf("cache file holds %q", got)
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("cache dir mode %v, want 0700", st.Mode().Perm())
	}
	before, _ := os.Stat(p)
	if p2, err := e.cacheFile(data); err != nil || p2 != p {
		t.Fatalf("second call: %s, %v", p2, err)
	}
	if after, _ := os.Stat(p); !os.SameFile(before, after) {
		t.Error("a valid cache file was rewritten")
	}
	if err := os.WriteFile(p, []byte("tampered"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cacheFile(data); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, data) {
		t.Fatalf("a wrong cache file was not replaced: %q", got)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".libpyrt-*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestEmbeddedMemfd(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("memfd is Linux only")
	}
	data := bytes.Repeat([]byte("pyrt"), 1000)
	p, release, err := memfdPath(data)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	release()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("memfd %s: %v (read %d bytes)", p, err, len(got))
	}
	if _, err := os.Stat(p); err == nil {
		t.Errorf("%s still open after release", p)
	}
}

func TestEmbeddedCorruptCopyIsAnError(t *testing.T) {
	e := embeddedCopy
	if e == nil {
		t.Skip("no embedded copy for " + runtime.GOOS + "/" + runtime.GOARCH)
	}
	bad := *e
	bad.sha256 = strings.Repeat("0", 64)
	if _, err := bad.bytes(); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("wrong checksum: %v", err)
	}
	bad = *e
	bad.gz = append([]byte(nil), e.gz[:len(e.gz)/2]...)
	if _, err := bad.bytes(); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("truncated copy: %v", err)
	}
	bad = *e
	bad.size--
	if _, err := bad.bytes(); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("wrong size: %v", err)
	}
}

var embedMeta = regexp.MustCompile(`(?m)^\s*(size|sha256|version|sourceHash|glibc):\s*("?)([^",]*)"?,`)

// maxGlibc is the oldest glibc the embedded copies promise to load with
// (scripts/go-embed.sh links them against it with zig; README, doc.go).
const maxGlibc = "2.17"

// versionLess compares dotted numeric versions ("2.17" < "2.34").
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// checkCopy verifies one lib/libpyrt-<os>-<arch>.so.gz without loading it:
// its description in embed_<os>_<arch>.go, checksum, ELF machine, soname,
// exported functions (exactly those of include/pyrt.h) and source hash.
func checkCopy(t *testing.T, gzPath, root, treeHash string) {
	name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(gzPath), "libpyrt-"), ".so.gz") // linux-amd64
	goos, goarch, _ := strings.Cut(name, "-")
	src, err := os.ReadFile(fmt.Sprintf("embed_%s_%s.go", goos, goarch))
	if err != nil {
		t.Fatalf("no description for %s: %v", gzPath, err)
	}
	meta := map[string]string{}
	for _, m := range embedMeta.FindAllStringSubmatch(string(src), -1) {
		meta[m[1]] = m[3]
	}
	size, _ := strconv.ParseInt(meta["size"], 10, 64)
	e := &embeddedLib{platform: goos + "/" + goarch, size: size, sha256: meta["sha256"], version: meta["version"],
		sourceHash: meta["sourceHash"], glibc: meta["glibc"]}
	if e.gz, err = os.ReadFile(gzPath); err != nil {
		t.Fatal(err)
	}
	data, err := e.bytes()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d bytes (%d gzipped), pyrt %s, sources %s, glibc %s", gzPath, len(data), len(e.gz), e.version, e.sourceHash, e.glibc)
	if e.version != BindingVersion {
		t.Errorf("embedded version %s, binding %s", e.version, BindingVersion)
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	wantMachine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[goarch]
	if f.Machine != wantMachine || f.Type != elf.ET_DYN {
		t.Errorf("ELF %v %v, want %v ET_DYN", f.Machine, f.Type, wantMachine)
	}
	if sonames, _ := f.DynString(elf.DT_SONAME); len(sonames) != 1 || sonames[0] != "libpyrt.so."+majorMinor(e.version) {
		t.Errorf("soname %v", sonames)
	}
	if f.Section(".debug_info") != nil || f.Section(".symtab") != nil {
		t.Error("the copy is not stripped")
	}
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	var exported []string
	for _, s := range syms {
		if strings.HasPrefix(s.Name, "pyrt_") && elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Section != elf.SHN_UNDEF {
			exported = append(exported, s.Name)
		}
	}
	sort.Strings(exported)
	for _, s := range syms {
		if s.Section != elf.SHN_UNDEF && s.Name != "" && !strings.HasPrefix(s.Name, "pyrt_") &&
			elf.ST_BIND(s.Info) != elf.STB_LOCAL {
			t.Errorf("exports %s: only pyrt_* may be exported (a bundled unwinder must stay hidden)", s.Name)
		}
	}
	// The newest glibc symbol version needed: what is recorded, and no newer than promised.
	imports, err := f.ImportedSymbols()
	if err != nil {
		t.Fatal(err)
	}
	newest := ""
	for _, s := range imports {
		if v, ok := strings.CutPrefix(s.Version, "GLIBC_"); ok && (newest == "" || versionLess(newest, v)) {
			newest = v
		}
	}
	if newest != e.glibc || versionLess(maxGlibc, newest) {
		t.Errorf("needs glibc %s (recorded %q); the embedded copies must load with glibc %s", newest, e.glibc, maxGlibc)
	}
	if !bytes.Contains(data, []byte(e.sourceHash)) || !bytes.Contains(data, []byte(e.version+"\x00")) {
		t.Error("the library does not contain its recorded version and source hash")
	}
	if root == "" {
		return
	}
	header, err := os.ReadFile(filepath.Join(root, "include", "pyrt.h"))
	if err != nil {
		t.Fatal(err)
	}
	var declared []string
	for _, m := range regexp.MustCompile(`(?m)^[^/#\s].*\b(pyrt_[a-z0-9_]+)\(`).FindAllSubmatch(header, -1) {
		declared = append(declared, string(m[1]))
	}
	sort.Strings(declared)
	if strings.Join(exported, " ") != strings.Join(declared, " ") {
		t.Errorf("exports differ from include/pyrt.h:\n  library: %v\n  header:  %v", exported, declared)
	}
	if e.sourceHash != treeHash {
		t.Errorf("%s was built from sources %s, but this tree is %s: run `make go-embed` and commit the result",
			gzPath, e.sourceHash, treeHash)
	}
	if cargo, _ := os.ReadFile(filepath.Join(root, "Cargo.toml")); !bytes.Contains(cargo, []byte(`version = "`+e.version+`"`)) {
		t.Errorf("embedded version %s is not Cargo.toml's", e.version)
	}
}

// TestEmbeddedLoadFallsBackToCache: when the memory copy cannot be opened
// (a kernel or policy refusing to map a memfd executable), the cache file
// is tried next; both failures are reported when neither works.
func TestEmbeddedLoadFallsBackToCache(t *testing.T) {
	e := embeddedCopy
	if e == nil {
		t.Skip("no embedded copy for " + runtime.GOOS + "/" + runtime.GOARCH)
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	var tried []string
	how, err := e.load(func(path string) error {
		tried = append(tried, path)
		if strings.HasPrefix(path, "/proc/") {
			return fmt.Errorf("mmap: operation not permitted")
		}
		data, err := os.ReadFile(path)
		if err != nil || sha256.Sum256(data) != mustHex(t, e.sha256) {
			return fmt.Errorf("cache file content wrong: %v", err)
		}
		return nil
	})
	if err != nil || !strings.HasPrefix(how, "from the cache file ") {
		t.Fatalf("load: %q, %v (tried %v)", how, err, tried)
	}
	if runtime.GOOS == "linux" && (len(tried) != 2 || !strings.HasPrefix(tried[0], "/proc/self/fd/")) {
		t.Errorf("tried %v, want the memfd first", tried)
	}
	_, err = e.load(func(path string) error { return fmt.Errorf("refused %s", path) })
	if err == nil || !strings.Contains(err.Error(), "from the cache file") || (runtime.GOOS == "linux" && !strings.Contains(err.Error(), "from memory")) {
		t.Errorf("both failing: %v", err)
	}
}

func mustHex(t *testing.T, s string) (sum [32]byte) {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		t.Fatalf("bad sha256 %q", s)
	}
	copy(sum[:], b)
	return sum
}

// TestEmbeddedSizeInDocs keeps the size the documentation gives for the
// embedded copies ("about 0.9 MB") within 15% of what lib/ holds.
func TestEmbeddedSizeInDocs(t *testing.T) {
	root := repoRoot()
	if root == "" {
		t.Skip("not inside the pyrt repository")
	}
	files, err := filepath.Glob("lib/libpyrt-linux-*.so.gz")
	if err != nil || len(files) == 0 {
		t.Fatalf("no embedded copies in lib/: %v", err)
	}
	about := regexp.MustCompile(`about ([0-9.]+) MB`)
	for _, doc := range []string{filepath.Join(root, "README.md"), "README.md", "doc.go"} {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range about.FindAllSubmatch(text, -1) {
			claimed, _ := strconv.ParseFloat(string(m[1]), 64)
			for _, f := range files {
				st, err := os.Stat(f)
				if err != nil {
					t.Fatal(err)
				}
				if mb := float64(st.Size()) / 1e6; mb < claimed*0.85 || mb > claimed*1.15 {
					t.Errorf("%s says %q, but %s is %.2f MB", doc, m[0], f, mb)
				}
			}
		}
	}
}
