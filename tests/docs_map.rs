//! docs/c-api-contract.md maps every C function, status, config key and info field to the Go,
//! Rust and Node ways of doing the same. This test fails when it falls behind the generated
//! contract: a function declared in include/pyrt.h, or a status, config key or info field listed in
//! include/pyrt-contract.json, without its row, or a row for something that no longer exists.
//! No CPython needed.

use std::collections::BTreeMap;

fn read(rel: &str) -> String {
    let path = format!("{}/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The functions the header declares: lines such as `int32_t pyrt_new(const char *...);`, the name
/// being the identifier right before the first `(` (comments, macros and typedefs skipped).
fn header_functions(header: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in header.lines().map(str::trim) {
        if line.starts_with("//") || line.starts_with('*') || line.starts_with("/*") || line.starts_with('#') || line.starts_with("typedef")
        {
            continue;
        }
        let Some(open) = line.find('(') else { continue };
        let before = &line[..open];
        let start = before.rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map_or(0, |i| i + 1);
        let name = &before[start..];
        if name.starts_with("pyrt_") && start > 0 && line.ends_with(");") {
            names.push(name.to_string());
        }
    }
    names
}

/// The doc's level-2 sections, by title, each with its text.
fn sections(doc: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut title = String::new();
    for line in doc.lines() {
        if let Some(t) = line.strip_prefix("## ") {
            title = t.trim().to_string();
        }
        let text: &mut String = out.entry(title.clone()).or_default();
        text.push_str(line);
        text.push('\n');
    }
    out
}

/// The first cell of each table row that starts with a code span: `| `name` | ...` gives `name`.
fn row_keys(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`'))
        .filter(|(_, after)| after.trim_start().starts_with('|'))
        .map(|(key, _)| key.to_string())
        .collect()
}

/// What `section` of the doc is missing of `want`, what it has too much, and what it repeats.
fn compare(doc: &BTreeMap<String, String>, section: &str, what: &str, want: &[String], problems: &mut Vec<String>) {
    let Some(text) = doc.get(section) else {
        problems.push(format!("no section \"## {section}\""));
        return;
    };
    let have = row_keys(text);
    for w in want {
        match have.iter().filter(|h| *h == w).count() {
            0 => problems.push(format!("{section}: no row for the {what} `{w}`")),
            1 => {}
            n => problems.push(format!("{section}: {n} rows for the {what} `{w}`")),
        }
    }
    for h in &have {
        if !want.contains(h) {
            problems.push(format!("{section}: a row for `{h}`, which the contract does not list as a {what}"));
        }
    }
}

fn strings(v: &serde_json::Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("include/pyrt-contract.json: \"{key}\" is not an array"))
        .iter()
        .map(|x| x.as_str().unwrap_or_else(|| panic!("include/pyrt-contract.json: \"{key}\" holds a non-string {x}")).to_string())
        .collect()
}

#[test]
fn the_doc_maps_every_function_status_key_and_field() {
    let header = read("include/pyrt.h");
    let doc_text = read("docs/c-api-contract.md");
    let contract: serde_json::Value =
        serde_json::from_str(&read("include/pyrt-contract.json")).expect("include/pyrt-contract.json is JSON");

    let functions = header_functions(&header);
    // The parser must see the header's functions, or this test would pass on nothing.
    for must in ["pyrt_new", "pyrt_free", "pyrt_call_json", "pyrt_error_free", "pyrt_object_free", "pyrt_status_name"] {
        assert!(functions.iter().any(|f| f == must), "header parser missed {must}; it found {functions:?}");
    }
    let statuses: Vec<String> = contract["statuses"]
        .as_array()
        .expect("include/pyrt-contract.json: \"statuses\" is an array")
        .iter()
        .map(|s| s["name"].as_str().expect("every status has a name").to_string())
        .collect();
    let config_keys = strings(&contract, "config_keys");
    let info_fields = strings(&contract, "info_fields");
    assert!(!statuses.is_empty() && !config_keys.is_empty() && !info_fields.is_empty(), "include/pyrt-contract.json lists nothing");

    let doc = sections(&doc_text);
    let mut problems = Vec::new();
    compare(&doc, "Operations", "C function", &functions, &mut problems);
    compare(&doc, "Statuses", "status", &statuses, &mut problems);
    compare(&doc, "Config keys", "config key", &config_keys, &mut problems);
    compare(&doc, "Info fields", "info field", &info_fields, &mut problems);
    // What the brief asks literally: each name appears in the doc as a code span.
    for name in functions.iter().chain(&statuses).chain(&config_keys).chain(&info_fields) {
        if !doc_text.contains(&format!("`{name}`")) {
            problems.push(format!("`{name}` does not appear in the doc"));
        }
    }
    assert!(
        problems.is_empty(),
        "docs/c-api-contract.md is behind include/pyrt.h / include/pyrt-contract.json:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_header_parser_reads_declarations_only() {
    let header = "// pyrt_commented(void);\n#define PYRT_OK 0\ntypedef void (*pyrt_output_fn)(void *u);\n\
                  int32_t pyrt_new(const char *config_json, pyrt_runtime **rt_out, pyrt_error **err_out);\n\
                  const char *pyrt_version(void);\nvoid pyrt_free(pyrt_runtime *rt);\n";
    assert_eq!(header_functions(header), ["pyrt_new", "pyrt_version", "pyrt_free"]);
}
