//! The pool's error type: one enum a caller can match on, whose `Display`
//! names the address and says what to check next.

use std::io;
use std::sync::Arc;
use std::time::Duration;

/// Which deadline expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    /// Connecting, TLS and the handshake took longer than `dial_timeout`.
    Dial,
    /// A reply did not arrive within `read_timeout` (plus a blocking command's own timeout).
    Read,
    /// The command could not be written within `write_timeout`.
    Write,
    /// No connection became free within `pool_timeout`.
    PoolWait {
        /// The pool's size, for the message.
        pool_size: usize,
    },
}

/// Why a TLS handshake failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsErrorKind {
    /// The server's certificate is invalid (expired, malformed, wrong usage).
    BadCertificate,
    /// The server's certificate is signed by a CA we do not trust.
    UnknownCa,
    /// The certificate is valid but not for the host name we dialled.
    HostnameMismatch,
    /// Anything else (protocol versions, the `tls` feature missing, bad PEM files).
    Other,
}

/// Why the server refused our credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthErrorKind {
    /// The server requires a password and none was configured (`NOAUTH`).
    NoAuth,
    /// The user name or password is wrong (`WRONGPASS`, or `ERR invalid password`).
    WrongPass,
    /// The user may not run this command (`NOPERM`).
    NoPerm,
}

/// Everything the pool and its connections can fail with.
///
/// Errors are `Clone` (I/O errors are shared behind an `Arc`) so the dial
/// circuit breaker can hand the last dial error to every caller it turns away.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A deadline expired.
    #[error("{}", timeout_message(.kind, .addr, .after))]
    Timeout {
        /// Which deadline.
        kind: TimeoutKind,
        /// The server address.
        addr: Arc<str>,
        /// How long we waited, when a deadline was set.
        after: Option<Duration>,
    },
    /// Nothing listens at the address.
    #[error("connection refused by {addr} — is a server listening there?")]
    ConnectionRefused {
        /// The server address.
        addr: Arc<str>,
    },
    /// The server closed or reset the connection.
    #[error("connection to {addr} was closed or reset by the server — check the server's log, its timeout and maxclients settings, or a proxy in between")]
    Reset {
        /// The server address.
        addr: Arc<str>,
    },
    /// The pool is closed (or closing): nothing was sent.
    #[error("the pool for {addr} is closed — the application is shutting down, or a handle was used after close()")]
    Closed {
        /// The server address.
        addr: Arc<str>,
    },
    /// The command was in flight when the close deadline passed: the
    /// connection was closed under it and whether the server ran it is unknown.
    #[error("command to {addr} aborted: the pool's close deadline passed while it was in flight — give close() a longer deadline or stop issuing commands before closing")]
    Aborted {
        /// The server address.
        addr: Arc<str>,
    },
    /// This checked-out connection was discarded after an earlier error or a
    /// cancelled command; take a new one from the pool.
    #[error("this connection to {addr} was discarded after an earlier error or a cancelled command — drop it and get a new one from the pool")]
    Unusable {
        /// The server address.
        addr: Arc<str>,
    },
    /// The dial circuit breaker is open: recent dials all failed, so this
    /// one fails fast instead of waiting for the same error again.
    #[error("not dialling {addr}: the last {failures} dials failed (last error: {last}); the next attempt is allowed in {retry_in:?} — check that the server is up and reachable")]
    CircuitOpen {
        /// The server address.
        addr: Arc<str>,
        /// Consecutive failures that opened the breaker.
        failures: u32,
        /// When the next probe dial will be allowed.
        retry_in: Duration,
        /// The last dial error.
        last: Box<Error>,
    },
    /// The TLS handshake failed.
    #[error("TLS handshake with {addr} failed ({kind:?}): {detail} — check the CA file, the server certificate and the host name in the URL")]
    Tls {
        /// What kind of failure.
        kind: TlsErrorKind,
        /// The server address.
        addr: Arc<str>,
        /// The TLS library's description.
        detail: String,
    },
    /// The server rejected our credentials or a command for lack of permission.
    #[error("{}", auth_message(.kind, .addr, .message))]
    Auth {
        /// What kind of rejection.
        kind: AuthErrorKind,
        /// The server address.
        addr: Arc<str>,
        /// The server's error text.
        message: String,
    },
    /// The server answered with an error reply.
    #[error("{addr} replied with an error: {code} {message}")]
    Redis {
        /// The error code (`ERR`, `WRONGTYPE`, `MOVED`...).
        code: String,
        /// The rest of the error line.
        message: String,
        /// The server address.
        addr: Arc<str>,
    },
    /// The server sent something that is not valid RESP, or not what the
    /// command expects.
    #[error("protocol error talking to {addr}: {detail} — is this a Redis server (and not TLS, HTTP or a proxy) on that port?")]
    Protocol {
        /// The server address.
        addr: Arc<str>,
        /// What was wrong.
        detail: String,
    },
    /// The configuration (URL or options) is invalid.
    #[error("invalid pool configuration: {0}")]
    Config(String),
    /// Any other I/O error.
    #[error("I/O error talking to {addr}: {source} — check the network path to the server")]
    Io {
        /// The server address.
        addr: Arc<str>,
        /// The underlying error.
        #[source]
        source: Arc<io::Error>,
    },
}

fn timeout_message(kind: &TimeoutKind, addr: &str, after: &Option<Duration>) -> String {
    let after = match after {
        Some(d) => format!("{d:?}"),
        None => "the deadline".to_string(),
    };
    match kind {
        TimeoutKind::Dial => format!(
            "dialling {addr} timed out after {after} — is the host reachable, and is the server accepting and answering (not overloaded or paused)?"
        ),
        TimeoutKind::Read => format!(
            "no reply from {addr} within {after} — the server may be slow (check SLOWLOG and latency) or the read_timeout too short for this command"
        ),
        TimeoutKind::Write => format!(
            "writing to {addr} timed out after {after} — the server is not reading (overloaded, paused or its output buffer limits hit)"
        ),
        TimeoutKind::PoolWait { pool_size } => format!(
            "all {pool_size} connections to {addr} busy for {after} — raise pool_size or find who holds connections"
        ),
    }
}

fn auth_message(kind: &AuthErrorKind, addr: &str, message: &str) -> String {
    let hint = match kind {
        AuthErrorKind::NoAuth => {
            "the server requires a password: put it in the URL (redis://:PASSWORD@host) or set password()"
        }
        AuthErrorKind::WrongPass => "check the user name and password configured for the pool",
        AuthErrorKind::NoPerm => "the ACL user lacks the permission: check ACL GETUSER on the server",
    };
    format!("{addr} refused authentication: {message} — {hint}")
}

impl Error {
    /// Maps an I/O error to the variant a caller would match on.
    pub(crate) fn from_io(addr: &Arc<str>, e: io::Error) -> Error {
        #[cfg(feature = "tls")]
        if let Some(tls) = super::tls::classify_io(addr, &e) {
            return tls;
        }
        match e.kind() {
            io::ErrorKind::ConnectionRefused => Error::ConnectionRefused { addr: addr.clone() },
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::NotConnected => Error::Reset { addr: addr.clone() },
            _ => Error::Io { addr: addr.clone(), source: Arc::new(e) },
        }
    }

    /// Builds the right variant for an error reply line (`CODE message`).
    pub(crate) fn from_reply(addr: &Arc<str>, code: &str, message: &str) -> Error {
        let auth = match code {
            "NOAUTH" => Some(AuthErrorKind::NoAuth),
            "WRONGPASS" => Some(AuthErrorKind::WrongPass),
            "NOPERM" => Some(AuthErrorKind::NoPerm),
            // Redis before 6 said `ERR invalid password`.
            "ERR" if message.starts_with("invalid password") => Some(AuthErrorKind::WrongPass),
            _ => None,
        };
        match auth {
            Some(kind) => Error::Auth { kind, addr: addr.clone(), message: format!("{code} {message}") },
            None => Error::Redis { code: code.to_string(), message: message.to_string(), addr: addr.clone() },
        }
    }

    /// Whether this error is a timeout of the given kind family.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// The server address this error concerns, when there is one.
    pub fn addr(&self) -> Option<&str> {
        match self {
            Error::Timeout { addr, .. }
            | Error::ConnectionRefused { addr }
            | Error::Reset { addr }
            | Error::Closed { addr }
            | Error::Aborted { addr }
            | Error::Unusable { addr }
            | Error::CircuitOpen { addr, .. }
            | Error::Tls { addr, .. }
            | Error::Auth { addr, .. }
            | Error::Redis { addr, .. }
            | Error::Protocol { addr, .. }
            | Error::Io { addr, .. } => Some(addr),
            Error::Config(_) => None,
        }
    }
}

/// A failed attempt, with what the retry policy needs to know about it.
#[derive(Debug)]
pub(crate) struct Failure {
    pub err: Error,
    /// Whether any byte of the command may have reached the server.
    pub maybe_sent: bool,
}

impl Failure {
    pub(crate) fn unsent(err: Error) -> Failure {
        Failure { err, maybe_sent: false }
    }
    pub(crate) fn sent(err: Error) -> Failure {
        Failure { err, maybe_sent: true }
    }
}
