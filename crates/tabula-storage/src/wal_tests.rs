//! The write-ahead log's reused files: `warm_wal` leaves a written file in use, and recovery
//! after a crash replays only what was written to a reused file since its reuse, never the
//! stale records of its earlier life behind them.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{MasterKey, Store};

fn master() -> MasterKey {
    MasterKey::from_bytes(&[7; 32])
}

/// The write-ahead log files (`*.log`) in the database directory.
fn log_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect()
}

/// The log file RocksDB writes to: the highest-numbered one.
fn log_in_use(dir: &Path) -> PathBuf {
    log_files(dir).into_iter().max().expect("a log file")
}

fn size(p: &Path) -> u64 {
    std::fs::metadata(p).expect("metadata").len()
}

#[test]
fn warm_wal_leaves_a_written_file_in_use_and_a_spare() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), master()).expect("open");
    let before = log_in_use(dir.path());
    store.warm_wal(1 << 20).expect("warm");
    let now = log_in_use(dir.path());
    assert_ne!(before, now, "the warm-up switched log files");
    // A new file would be (nearly) empty: this one was written before and is being reused.
    assert!(size(&now) >= 1 << 20, "log in use has {} bytes", size(&now));
    let written = log_files(dir.path())
        .iter()
        .filter(|p| size(p) >= 1 << 20)
        .count();
    assert!(
        written >= 2,
        "a written spare is kept ({written} written log files)"
    );
    // Writes go on as usual and survive a reopen.
    store
        .log_append(&[(1, b"one".to_vec())], true)
        .expect("append");
    drop(store);
    let store = Store::open(dir.path(), master()).expect("reopen");
    assert_eq!(
        store.log_range(0, 10).expect("range"),
        vec![(1, b"one".to_vec())]
    );
}

/// Entries 1..=200 are written with value `c` in rounds `c = 0..ROUNDS`, each round moved to
/// an SST by a flush (which also switches log files, so files are retired and reused). The
/// last round rewrites only entries 1..=20, in a reused file that still holds an earlier
/// round's records behind them.
const ROUNDS: u8 = 6;
const LAST: u8 = 9;
const CHILD_DIR: &str = "TABULA_WAL_TEST_CHILD_DIR";

fn value(round: u8) -> Vec<u8> {
    vec![round; 1000]
}

/// The process the next test kills (it runs this ignored test in a child process).
#[test]
#[ignore = "the child process of after_sigkill_a_reused_log_replays_only_its_new_records"]
fn reused_log_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let store = Store::open(Path::new(&dir), master()).expect("open");
    store.warm_wal(64 << 10).expect("warm");
    for round in 0..ROUNDS {
        let entries: Vec<_> = (1..=200).map(|i| (i, value(round))).collect();
        store.log_append(&entries, true).expect("append");
        store.flush_and_compact().expect("flush");
    }
    let entries: Vec<_> = (1..=20).map(|i| (i, value(LAST))).collect();
    store.log_append(&entries, true).expect("append");
    println!("synced");
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

#[test]
fn after_sigkill_a_reused_log_replays_only_its_new_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "wal_tests::reused_log_child",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_DIR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let out = child.stdout.take().expect("stdout");
    let synced = std::io::BufReader::new(out)
        .lines()
        .any(|l| l.expect("read child") == "synced");
    assert!(synced, "the child wrote its last round");
    // The last round wrote ~20 KB; a file this large was written before, by a full round:
    // its stale records follow the new ones.
    let log = log_in_use(dir.path());
    assert!(
        size(&log) > 150 << 10,
        "the last round went to a reused file ({} bytes)",
        size(&log)
    );
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");

    let store = Store::open(dir.path(), master()).expect("reopen");
    let entries = store.log_range(0, 1000).expect("range");
    assert_eq!(entries.len(), 200);
    for (i, v) in entries {
        let want = if i <= 20 { LAST } else { ROUNDS - 1 };
        assert_eq!(v[0], want, "entry {i}");
        assert_eq!(v, value(want), "entry {i} whole");
    }
}
