//! Generates the C header from `src/capi/` with cbindgen.
//!
//! The header is written to `$OUT_DIR/pyrt.h` on every build; the test `header_is_fresh`
//! (tests/header.rs) fails when the committed `include/pyrt.h` differs from it, so a stale header
//! cannot pass CI. `PYRT_UPDATE_HEADER=1 cargo build` (`make header`) rewrites the committed copy.
use std::{env, fs, path::PathBuf};

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("pyrt.h");
    println!("cargo:rerun-if-changed=src/capi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=PYRT_UPDATE_HEADER");

    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable");
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
