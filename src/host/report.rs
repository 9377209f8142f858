//! The reports both front ends hand back: a client as the host sees it,
//! connections still open when a wait ran out, and why a host did not start.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// A client connection as the server sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSnapshot {
    /// CLIENT ID.
    pub id: u64,
    /// Peer address (`ip:port`, or `path:0` for unix sockets).
    pub peer: String,
    /// CLIENT SETNAME name (empty if none).
    pub name: String,
    /// CLIENT SETINFO LIB-NAME.
    pub lib_name: String,
    /// CLIENT SETINFO LIB-VER.
    pub lib_ver: String,
    /// Selected database.
    pub db: usize,
    /// Protocol version (2 or 3).
    pub resp: u8,
    /// Time since the connection was accepted.
    pub age: Duration,
    /// Time since its last command.
    pub idle: Duration,
    /// Name of the last command it ran (`NULL` if none).
    pub last_command: String,
}

impl fmt::Display for ClientSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "id={} addr={} name={} lib-name={} lib-ver={} db={} resp={} age={:?} idle={:?} last-cmd={}",
            self.id,
            self.peer,
            self.name,
            self.lib_name,
            self.lib_ver,
            self.db,
            self.resp,
            self.age,
            self.idle,
            self.last_command
        )
    }
}

/// Connections that were still open when a wait ran out.
#[derive(Debug, Clone)]
pub struct LeakError {
    /// How many open connections the caller waited for.
    pub expected: usize,
    /// The clients still open when the wait ended.
    pub open: Vec<ClientSnapshot>,
    /// How long the caller waited.
    pub waited: Duration,
    /// The server's address.
    pub addr: SocketAddr,
}

impl fmt::Display for LeakError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "expected {} open connection(s) to the fake Redis at {}, but {} still open after {:?}:",
            self.expected,
            self.addr,
            self.open.len(),
            self.waited
        )?;
        for c in &self.open {
            writeln!(f, "  {c}")?;
        }
        write!(f, "check that every client, pool and connection the code under test created is closed or dropped")
    }
}

impl std::error::Error for LeakError {}

/// Why a server (or a proxy) could not start.
#[derive(Debug)]
pub struct StartError {
    /// "the fake server" or "the fault proxy".
    host: &'static str,
    what: String,
    source: std::io::Error,
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "redis-harness: could not start {}: {}: {}", self.host, self.what, self.source)
    }
}

impl StartError {
    /// The fake server failed at `what` (as "binding 127.0.0.1:6379") with `source`.
    pub(crate) fn new(what: impl Into<String>, source: std::io::Error) -> StartError {
        StartError { host: "the fake server", what: what.into(), source }
    }

    /// The fault proxy failed at `what` with `source`.
    pub(crate) fn proxy(what: impl Into<String>, source: std::io::Error) -> StartError {
        StartError { host: "the fault proxy", what: what.into(), source }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}
