//! Loopback ports for the server processes tests start. Shared by the data plane's and the
//! operator's integration tests (the operator's includes this file by path): both run as
//! parallel nextest processes picking ports from the same range, so they must agree on how a
//! port is claimed.

/// A free TCP port on `ip` (a loopback address) for a server process to listen on. It is
/// taken below the kernel's ephemeral range (32768 and up): a port handed out by `bind(0)`
/// can be taken as the local port of one of the many client connections the tests open
/// before the server process binds it, and the server then fails to start.
pub fn free_port(ip: &str) -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let seed = std::process::id()
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 20_000 + (seed.wrapping_add(n.wrapping_mul(7919)) % 12_000) as u16;
        if std::net::TcpListener::bind((ip, port)).is_ok() && claim_port(port) {
            return port;
        }
    }
}

/// Claims `port` for this test process across all test processes of the workspace (nextest
/// runs tests as parallel processes, each picking ports at random from the same range): an
/// exclusive lock on a file named after the port, held until the process exits. A port
/// another process holds is skipped, so two tests never hand the same port to their servers.
fn claim_port(port: u16) -> bool {
    static HELD: std::sync::Mutex<Vec<std::fs::File>> = std::sync::Mutex::new(Vec::new());
    let dir = std::env::temp_dir().join("tabula-test-ports");
    if std::fs::create_dir_all(&dir).is_err() {
        return true;
    }
    let Ok(file) = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(port.to_string()))
    else {
        return true;
    };
    if file.try_lock().is_err() {
        return false;
    }
    HELD.lock().unwrap_or_else(|p| p.into_inner()).push(file);
    true
}
