//! Build script: the C header, the shared library's soname, and the source hash.
//!
//! * The header is generated from `src/capi/` with cbindgen into `$OUT_DIR/pyrt.h` on every build;
//!   the test `header_is_fresh` (tests/header.rs) fails when the committed `include/pyrt.h`
//!   differs from it, so a stale header cannot pass CI. `PYRT_UPDATE_HEADER=1 cargo build`
//!   (`make header`) rewrites the committed copy.
//! * The cdylib gets a versioned soname, `libpyrt.so.<major>` (`libpyrt.so.0.<minor>` while the
//!   major version is 0, when every minor release may break the ABI — the cargo-c convention), so
//!   programs linked with `-lpyrt` record that name and `make install` can lay out the usual
//!   `libpyrt.so -> libpyrt.so.0.1 -> libpyrt.so.0.1.0` links. For programs linked against the
//!   build directory, a symlink `<soname> -> libpyrt.so` is created next to the library.
//! * `PYRT_SOURCE_HASH` (read by `pyrt_source_hash()`) is the SHA-256 of a `sha256sum`-style
//!   manifest of the sources: one line `<sha256 of the file>  <path>\n` for each of
//!   `Cargo.toml`, `Cargo.lock`, `build.rs`, `cbindgen.toml` and every `src/**/*.rs` that exists,
//!   in bytewise path order. Reproduce it with
//!   `{ ls Cargo.toml Cargo.lock build.rs cbindgen.toml; find src -name '*.rs'; } | LC_ALL=C sort | xargs sha256sum | sha256sum`
//!   (scripts/source-hash.sh); the Go binding's tests compare it with the embedded libpyrt's.
use std::{env, fs, path::Path, path::PathBuf};

use sha2::{Digest, Sha256};

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    for path in ["src", "Cargo.toml", "Cargo.lock", "build.rs", "cbindgen.toml"] {
        println!("cargo:rerun-if-changed={path}");
    }
    println!("cargo:rerun-if-env-changed=PYRT_UPDATE_HEADER");

    header(&crate_dir, &out_dir);
    soname(&out_dir);
    println!("cargo:rustc-env=PYRT_SOURCE_HASH={}", source_hash(&crate_dir));
}

fn header(crate_dir: &Path, out_dir: &Path) {
    let out = out_dir.join("pyrt.h");
    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml is readable");
    // The version this header was generated with, for `#if` checks at compile time (the library's
    // own, possibly newer, version is pyrt_version() at run time).
    let [major, minor, patch] = ["MAJOR", "MINOR", "PATCH"].map(|p| env::var(format!("CARGO_PKG_VERSION_{p}")).unwrap());
    config.after_includes = Some(format!(
        "\n/* The pyrt version this header belongs to (pyrt_version() returns the loaded library's). */\n\
         #define PYRT_VERSION_MAJOR {major}\n#define PYRT_VERSION_MINOR {minor}\n#define PYRT_VERSION_PATCH {patch}\n\
         #define PYRT_VERSION_STRING \"{major}.{minor}.{patch}\"\n"
    ));
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/capi/mod.rs")) // follows its `mod` declarations
        .generate()
        .expect("cbindgen could not generate the header");
    bindings.write_to_file(&out);
    if env::var_os("PYRT_UPDATE_HEADER").is_some() {
        fs::copy(&out, crate_dir.join("include/pyrt.h")).expect("write include/pyrt.h");
    }
}

fn soname(out_dir: &Path) {
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return;
    }
    let major = env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    let minor = env::var("CARGO_PKG_VERSION_MINOR").unwrap();
    let soname = if major == "0" { format!("libpyrt.so.0.{minor}") } else { format!("libpyrt.so.{major}") };
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    // OUT_DIR is <target>/<profile>/build/pyrt-<hash>/out; the library lands in <target>/<profile>.
    // The link may dangle until the library is linked, and is harmless where no cdylib is built.
    if let Some(profile_dir) = out_dir.ancestors().nth(3) {
        let link = profile_dir.join(&soname);
        if fs::read_link(&link).ok().as_deref() != Some(Path::new("libpyrt.so")) {
            let _ = fs::remove_file(&link);
            if let Err(e) = std::os::unix::fs::symlink("libpyrt.so", &link) {
                println!("cargo:warning=cannot create {}: {e}", link.display());
            }
        }
    }
}

fn source_hash(crate_dir: &Path) -> String {
    let mut files: Vec<String> = ["Cargo.toml", "Cargo.lock", "build.rs", "cbindgen.toml"]
        .iter()
        .filter(|f| crate_dir.join(f).is_file())
        .map(|f| f.to_string())
        .collect();
    collect_rs(crate_dir, Path::new("src"), &mut files);
    files.sort(); // bytewise, as `LC_ALL=C sort`
    let mut manifest = String::new();
    for f in &files {
        let data = fs::read(crate_dir.join(f)).unwrap_or_else(|e| panic!("read {f}: {e}"));
        manifest.push_str(&format!("{}  {f}\n", hex(&Sha256::digest(&data))));
    }
    hex(&Sha256::digest(manifest.as_bytes()))
}

fn collect_rs(root: &Path, rel: &Path, out: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(root.join(rel)) else { return };
    for entry in entries.flatten() {
        let rel = rel.join(entry.file_name());
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            collect_rs(root, &rel, out);
        } else if kind.is_file() && rel.extension().is_some_and(|e| e == "rs") {
            out.push(rel.to_str().expect("source paths are UTF-8").to_string());
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
