//! A venv with the base installation's site-packages made visible (`system_site_packages`):
//! a package installed only outside the venv (pip) imports. See tests/venv.rs.

use pyrt::Runtime;

#[test]
fn system_site_packages_are_visible_on_request() {
    let Some(venv) = std::env::var("PYRT_TEST_VENV").ok().filter(|v| !v.is_empty()) else {
        assert!(std::env::var_os("PYRT_TEST_REQUIRE_VENV").is_none(), "PYRT_TEST_REQUIRE_VENV is set but PYRT_TEST_VENV is not");
        eprintln!("PYRT_TEST_VENV is not set: scripts/test.sh sets it");
        return;
    };
    let cfg = format!(r#"{{"venv": {}, "system_site_packages": true}}"#, serde_json::to_string(&venv).unwrap());
    let rt = Runtime::new(Some(&cfg)).unwrap();
    rt.run_string("import pip, numpy").unwrap();
    assert_eq!(rt.eval_json("__import__('sys').executable").unwrap(), serde_json::to_string(&format!("{venv}/bin/python")).unwrap());
}
