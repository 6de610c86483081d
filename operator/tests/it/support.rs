//! Shared test helpers: example Tables and the golden-file comparison.

use std::path::PathBuf;

use tabula_operator::crd::Table;

/// The example manifest users start from (also used by e2e/kind.sh), with the uid and
/// namespace the API server would have filled in.
pub fn example_table() -> Table {
    let text = std::fs::read_to_string(repo_path("e2e/manifests/table.yaml")).expect("example");
    let mut t: Table = serde_yaml::from_str(&text).expect("example parses as a Table");
    t.metadata.namespace = Some("shop".into());
    t.metadata.uid = Some("6f1c2a9e-0000-4000-8000-000000000001".into());
    t
}

pub fn table_from_yaml(yaml: &str) -> Table {
    serde_yaml::from_str(yaml).expect("test Table parses")
}

pub fn repo_path(p: &str) -> PathBuf {
    manifest_dir().join("..").join(p)
}

/// The operator crate's directory, as cargo gives it to the running test. The compile-time
/// value is only a fallback: cargo reuses a test binary built in another checkout of the
/// same workspace (CI's clean clone shares the target dir), and that binary's compile-time
/// path names the other checkout.
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// Compares an object with `operator/tests/golden/<name>.yaml`. `TABULA_BLESS=1` rewrites the
/// file instead (then review the diff before committing).
pub fn assert_golden<T: serde::Serialize>(name: &str, obj: &T) {
    let path = manifest_dir()
        .join("tests/golden")
        .join(format!("{name}.yaml"));
    let rendered = serde_yaml::to_string(obj).expect("renders");
    if std::env::var_os("TABULA_BLESS").is_some() {
        std::fs::write(&path, &rendered).expect("bless");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing {}: run with TABULA_BLESS=1", path.display()));
    let want: serde_json::Value = serde_yaml::from_str(&expected).expect("golden parses");
    let got = serde_json::to_value(obj).expect("to json");
    assert!(
        want == got,
        "{} differs from the builder's output:\n{rendered}",
        path.display()
    );
}
