// The prebuilt libpyrt shipped inside this module (lib/*.so.gz, written by
// `make go-embed`), so that `go get` is all a Go user needs: no cargo, no
// environment variable. On first use the copy is decompressed, checked
// against its SHA-256, and opened from memory (a memfd) or, where that is
// impossible, from a per-user cache file.

package pyrt

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// embeddedLib describes the libpyrt embedded for this GOOS/GOARCH.
type embeddedLib struct {
	platform   string // "linux/amd64"
	gz         []byte // the gzip-compressed, stripped library
	size       int64  // its uncompressed size
	sha256     string // hex SHA-256 of the uncompressed library
	version    string // its pyrt_version()
	sourceHash string // its pyrt_source_hash(): the sources it was built from
	glibc      string // the newest glibc symbol version it needs, e.g. "2.17"
}

// embeddedCopy is set by the generated embed_<os>_<arch>.go file of a
// platform with an embedded library. It stays nil on other platforms, with
// the pyrt_noembed build tag, and with pyrt_cgo (which links libpyrt).
var embeddedCopy *embeddedLib

// EmbeddedLibrary describes the libpyrt embedded in this module for the
// running platform, if any.
type EmbeddedLibrary struct {
	// Platform is GOOS/GOARCH, e.g. "linux/amd64".
	Platform string
	// Version is the library's pyrt_version().
	Version string
	// SHA256 is the hex SHA-256 of the (uncompressed) library, checked
	// before it is loaded.
	SHA256 string
	// SourceHash is the library's pyrt_source_hash(): the SHA-256 of the
	// sources it was built from (scripts/source-hash.sh in the repository).
	SourceHash string
	// Size is the uncompressed size in bytes; CompressedSize what the
	// module carries.
	Size, CompressedSize int64
	// Glibc is the oldest glibc the library loads with, e.g. "2.17".
	Glibc string
}

// Embedded reports the libpyrt embedded for this platform; ok is false on
// platforms without one and with the pyrt_noembed build tag.
func Embedded() (lib EmbeddedLibrary, ok bool) {
	e := embeddedCopy
	if e == nil {
		return EmbeddedLibrary{}, false
	}
	return EmbeddedLibrary{Platform: e.platform, Version: e.version, SHA256: e.sha256,
		SourceHash: e.sourceHash, Size: e.size, CompressedSize: int64(len(e.gz)), Glibc: e.glibc}, true
}

func (e *embeddedLib) describe() string {
	return fmt.Sprintf("libpyrt %s embedded for %s (sha256 %.12s)", e.version, e.platform, e.sha256)
}

// bytes decompresses the library and checks its size and SHA-256.
func (e *embeddedLib) bytes() ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(e.gz))
	if err != nil {
		return nil, fmt.Errorf("embedded libpyrt is corrupt: %v", err)
	}
	data, err := io.ReadAll(io.LimitReader(zr, e.size+1))
	if err == nil {
		err = zr.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("embedded libpyrt is corrupt: %v", err)
	}
	if int64(len(data)) != e.size {
		return nil, fmt.Errorf("embedded libpyrt is corrupt: %d bytes, want %d", len(data), e.size)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != e.sha256 {
		return nil, fmt.Errorf("embedded libpyrt is corrupt: sha256 %x, want %s", sum, e.sha256)
	}
	return data, nil
}

// load writes the library out and opens it with open: from memory when the
// platform allows (memfdPath, Linux), and if that fails (no memfd, or a
// kernel or security policy that refuses to map it executable) from a file
// in the per-user cache. It reports how the library was loaded. The memfd
// is closed once open returns (a loaded library stays mapped).
func (e *embeddedLib) load(open func(path string) error) (how string, err error) {
	data, err := e.bytes()
	if err != nil {
		return "", err
	}
	memErr := errNoMemfd
	if !avoidMemfd {
		var path string
		var release func()
		if path, release, memErr = memfdPath(data); memErr == nil {
			memErr = open(path)
			release()
			if memErr == nil {
				return "from memory", nil
			}
			memErr = fmt.Errorf("from memory: %v", memErr)
		}
	}
	path, err := e.cacheFile(data)
	if err != nil {
		return "", fmt.Errorf("%v; per-user cache: %v", memErr, err)
	}
	if err := open(path); err != nil {
		return "", fmt.Errorf("%v; from the cache file %s: %w", memErr, path, err)
	}
	return "from the cache file " + path, nil
}

// cacheDir is where cached copies are written: <user cache dir>/pyrt.
func cacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "pyrt"), nil
}

// cacheFile returns a file holding data, named after its version and hash:
// an existing one whose content still matches is reused, otherwise it is
// written to a temporary file and renamed into place (so concurrent
// processes never see a partial file).
func (e *embeddedLib) cacheFile(data []byte) (string, error) {
	dir, err := cacheDir()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, fmt.Sprintf("libpyrt-%s-%.16s.so", e.version, e.sha256))
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return path, nil
	}
	tmp, err := os.CreateTemp(dir, ".libpyrt-*.tmp")
	if err != nil {
		return "", err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o755)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return path, nil
}

var errNoMemfd = errors.New("loading from memory is not supported on this platform")

// avoidMemfd makes materialize go straight to the cache file (set by the
// tests of that fallback, which must run in a fresh process).
var avoidMemfd bool
