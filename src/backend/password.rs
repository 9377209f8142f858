//! `CONFIG SET requirepass` on a real Redis, straight to its plaintext port
//! (never through the fault proxy: its faults must not hit this connection).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Bound on connecting to Redis and on each of its replies.
const TIMEOUT: Duration = Duration::from_secs(5);

fn encode(args: &[&str], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// Sets `requirepass` to `new` (empty: none) on the Redis at `addr`,
/// authenticating with `current` first if it is set.
pub(super) fn set_requirepass(addr: SocketAddr, current: Option<&str>, new: &str) -> Result<(), String> {
    let io = |what: &str, e: std::io::Error| format!("{what} {addr} to set requirepass: {e}");
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| io("connecting to", e))?;
    s.set_read_timeout(Some(TIMEOUT)).map_err(|e| io("configuring the connection to", e))?;
    s.set_write_timeout(Some(TIMEOUT)).map_err(|e| io("configuring the connection to", e))?;
    let mut out = Vec::new();
    let mut replies = 1;
    if let Some(pw) = current {
        encode(&["AUTH", pw], &mut out);
        replies += 1;
    }
    encode(&["CONFIG", "SET", "requirepass", new], &mut out);
    s.write_all(&out).map_err(|e| io("writing to", e))?;
    // Both replies are one line (`+OK` or an error); read until there are as many lines as commands.
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while got.windows(2).filter(|w| w == b"\r\n").count() < replies {
        match s.read(&mut buf) {
            Ok(0) => return Err(format!("{addr} closed the connection while setting requirepass")),
            Ok(n) if got.len() + n <= 64 * 1024 => got.extend_from_slice(&buf[..n]),
            Ok(_) => return Err(format!("{addr} sent an unexpectedly long reply to CONFIG SET requirepass")),
            Err(e) => return Err(io("reading from", e)),
        }
    }
    let text = String::from_utf8_lossy(&got);
    for line in text.split("\r\n").take(replies) {
        if line != "+OK" {
            return Err(format!("{addr} refused to set requirepass: {line} (is the current password right?)"));
        }
    }
    Ok(())
}
