//! The committed C header must be exactly what cbindgen generates from the current sources
//! (build.rs writes a fresh copy to OUT_DIR on every build). Fix a failure with `make header`.

#[test]
fn header_is_fresh() {
    let generated = include_str!(concat!(env!("OUT_DIR"), "/pyrt.h"));
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/pyrt.h")).expect("include/pyrt.h exists");
    assert!(generated == committed, "include/pyrt.h is stale: run `make header` and commit it");
}
