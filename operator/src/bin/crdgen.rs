//! Writes the CRDs generated from the Rust types: `cargo run -p tabula-operator --bin crdgen`
//! rewrites `crds/` and the chart's copy. The operator's tests fail while either is stale.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    // `cargo run` sets CARGO_MANIFEST_DIR for the process; the compile-time value may name
    // another checkout whose build cargo reused (a shared target dir).
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    let root = dir.join("..");
    for (file, yaml) in tabula_operator::crd_files() {
        for dir in [root.join("crds"), root.join("charts/tabula/crds")] {
            let path = dir.join(file);
            if std::fs::read_to_string(&path).is_ok_and(|current| current == yaml) {
                continue;
            }
            if let Err(e) = std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(&path, &yaml))
            {
                eprintln!("crdgen: cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
            println!("wrote {}", path.display());
        }
    }
    ExitCode::SUCCESS
}
