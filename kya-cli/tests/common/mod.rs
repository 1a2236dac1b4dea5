//! Shared by the registry CLI tests.
#![allow(dead_code, clippy::unwrap_used, clippy::panic, missing_docs)]

/// Sends `anvil_mine` over a bare HTTP/1.1 request (the test has no JSON-RPC client).
pub(crate) fn mine(endpoint: &str, n: u64) {
    use std::io::{Read as _, Write as _};
    let addr = endpoint.trim_start_matches("http://");
    let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"anvil_mine","params":["{n:#x}"]}}"#);
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
}

/// The standard output of a `kya` run that must have succeeded (else both outputs, failing).
pub(crate) fn succeeded(args: &[&str], out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "kya {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
