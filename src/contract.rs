//! `include/pyrt-contract.json`: the facts of the contract every binding must know, written out
//! from their one definition here (status codes from [`ErrorKind`], config keys from
//! [`Config`](crate::config::Config), `pyrt_info_json` fields from the runtime). The bindings'
//! tests (Go, Node, the Rust API, the C tests) read the file and fail when they lack one.
//!
//! The test below fails when the committed file is stale; `PYRT_UPDATE_HEADER=1 cargo test
//! --lib contract` rewrites it (the same switch that regenerates the header).

#[cfg(test)]
mod tests {
    use crate::capi::status::PYRT_OK;
    use crate::error::ErrorKind;

    fn contract_json() -> String {
        let mut statuses = vec![serde_json::json!({"name": "PYRT_OK", "code": PYRT_OK})];
        statuses.extend(ErrorKind::ALL.iter().map(|k| serde_json::json!({"name": k.name(), "code": k.code()})));
        statuses.push(serde_json::json!({"name": "PYRT_DONE", "code": crate::capi::status::PYRT_DONE}));
        let value = serde_json::json!({
            "doc": "Generated from libpyrt's sources (src/contract.rs); do not edit. Every binding's tests check they know each status, config key and info field.",
            "statuses": statuses,
            "config_keys": crate::config::CONFIG_KEYS,
            "info_fields": crate::runtime::INFO_FIELDS,
        });
        let mut text = serde_json::to_string_pretty(&value).expect("serializable");
        text.push('\n');
        text
    }

    #[test]
    fn committed_contract_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("include/pyrt-contract.json");
        let want = contract_json();
        if std::env::var_os("PYRT_UPDATE_HEADER").is_some() {
            std::fs::write(&path, &want).expect("write include/pyrt-contract.json");
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(have == want, "include/pyrt-contract.json is stale: run PYRT_UPDATE_HEADER=1 cargo test --lib contract");
    }
}
