//! The JSON report against the JSON Schema shipped in `schema/`.

use std::path::Path;

/// The shipped schema is the one the code generates: a change to the report
/// model must come with the schema file (regenerate with
/// `UPDATE_SCHEMA=1 cargo test report_schema`).
#[test]
fn shipped_schema_matches_the_model() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/report.schema.json");
    let generated = wxc_preflight::report::json_schema();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let shipped = std::fs::read_to_string(&path).expect("schema/report.schema.json is shipped");
    assert_eq!(
        shipped, generated,
        "schema/report.schema.json is stale: rerun with UPDATE_SCHEMA=1"
    );
}

/// Real output of the binary, for a failing and a healthy-as-possible
/// config, validates against the shipped schema.
#[test]
fn real_json_output_validates() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/report.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema");
    for fixture in [
        super::cli::Fixture::healthy(),
        super::cli::Fixture::broken(),
    ] {
        let output = fixture.run(&["check", "--format", "json"]);
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&report)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
        assert_eq!(report["schema_version"], 1);
    }
}
