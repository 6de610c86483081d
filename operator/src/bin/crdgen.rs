//! Writes the CRDs generated from the Rust types: `cargo run -p tabula-operator --bin crdgen`
//! rewrites `crds/` (and the chart's copy); `--check` only compares and fails when they are stale.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let check = std::env::args().any(|a| a == "--check");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let targets: Vec<PathBuf> = vec![root.join("crds"), root.join("charts/tabula/crds")];
    let mut stale = false;
    for (file, yaml) in tabula_operator::crd_files() {
        for dir in &targets {
            let path = dir.join(file);
            let current = std::fs::read_to_string(&path).unwrap_or_default();
            if current == yaml {
                continue;
            }
            if check {
                eprintln!("crdgen: {} is stale", path.display());
                stale = true;
            } else if let Err(e) =
                std::fs::create_dir_all(dir).and_then(|_| std::fs::write(&path, &yaml))
            {
                eprintln!("crdgen: cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            } else {
                println!("wrote {}", path.display());
            }
        }
    }
    if stale {
        eprintln!("crdgen: run `cargo run -p tabula-operator --bin crdgen` and commit the result");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
