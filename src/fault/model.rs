//! The fault model: plain data describing what goes wrong ([`Fault`]) and
//! when ([`FaultRule`]'s targeting), with no I/O and no serde, so that the
//! fake server, the proxy, the CLI and chaos files can all share it.

use std::fmt;
use std::ops::{Range, RangeFrom, RangeInclusive, RangeTo, RangeToInclusive};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::targets::CommandTarget;

/// Redis's error texts for the conditions clients most often have to survive,
/// for use with [`FaultRule::error`]. Each is the text after the leading `-`.
pub mod errors {
    /// EVALSHA of a script the server does not have (after a failover, a
    /// restart or SCRIPT FLUSH): clients fall back to EVAL or SCRIPT LOAD.
    pub const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";
    /// The server is still loading its dataset.
    pub const LOADING: &str = "LOADING Redis is loading the dataset in memory";
    /// A script is running too long.
    pub const BUSY: &str = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
    /// A write was sent to a read-only replica.
    pub const READONLY: &str = "READONLY You can't write against a read only replica.";
    /// `maxmemory` is reached.
    pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
    /// A replica lost its master and does not serve stale data.
    pub const MASTERDOWN: &str = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
    /// The cluster is down.
    pub const CLUSTERDOWN: &str = "CLUSTERDOWN The cluster is down";
    /// A wrong password (what the next AUTH gets under [`FaultRule::auth_failures`](super::FaultRule::auth_failures)).
    pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
    /// What Redis sends a connection it accepts beyond `maxclients`.
    pub const MAX_CLIENTS: &str = "ERR max number of clients reached";

    /// The short names the rule text accepts (`error LOADING`), with their texts.
    pub const NAMED: &[(&str, &str)] = &[
        ("NOSCRIPT", NOSCRIPT),
        ("LOADING", LOADING),
        ("BUSY", BUSY),
        ("READONLY", READONLY),
        ("OOM", OOM),
        ("MASTERDOWN", MASTERDOWN),
        ("CLUSTERDOWN", CLUSTERDOWN),
        ("WRONGPASS", WRONGPASS),
    ];
}

/// When a latency fault waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatencyPhase {
    /// Before the request is read and run: when the client gives up, the
    /// command has not happened.
    BeforeCommand,
    /// After the command ran, before its reply is written: when the client
    /// gives up, the command has happened.
    BeforeReply,
}

/// The bad certificate a [`Fault::TlsBadCertificate`] rule presents (the
/// kinds of `tls::ServerCertKind` other than the valid one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BadCertificate {
    /// Validity ended a day ago.
    Expired,
    /// Validity starts in a year.
    NotYetValid,
    /// Valid, but only for another host name.
    WrongHost,
    /// Valid for the right names, but signed by a CA the client does not trust.
    UnknownCa,
}

impl BadCertificate {
    /// All four, in rule-text order.
    pub const ALL: [BadCertificate; 4] =
        [BadCertificate::Expired, BadCertificate::NotYetValid, BadCertificate::WrongHost, BadCertificate::UnknownCa];

    /// Its name in rule text (`tls-bad-cert expired`).
    pub fn name(self) -> &'static str {
        match self {
            BadCertificate::Expired => "expired",
            BadCertificate::NotYetValid => "not-yet-valid",
            BadCertificate::WrongHost => "wrong-host",
            BadCertificate::UnknownCa => "unknown-ca",
        }
    }
}

/// What goes wrong. Faults marked *at accept* apply to new connections,
/// those marked *at TLS handshake* to new connections of a TLS server
/// (`Builder::tls`; they never fire on a plaintext server or the proxy);
/// the others to the commands a rule selects.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Wait `delay` plus a random extra of up to `jitter` (from the seeded RNG).
    Latency {
        /// The fixed part of the wait.
        delay: Duration,
        /// The most the random part adds.
        jitter: Duration,
        /// Before the command runs or before its reply.
        phase: LatencyPhase,
    },
    /// Read the request and never answer it, nor anything after it, until
    /// the client hangs up. The command does not run.
    Stall,
    /// Run the command, write the first `after_bytes` of its reply (0: none),
    /// then close the connection cleanly (FIN: the client reads EOF).
    Close {
        /// Reply bytes written before closing.
        after_bytes: usize,
    },
    /// Like [`Fault::Close`] but abortive (RST: the client reads
    /// `ECONNRESET`). Unix sockets cannot send a reset and close cleanly.
    Reset {
        /// Reply bytes written before resetting.
        after_bytes: usize,
    },
    /// Run the command, send nothing, wait `delay`, then close (FIN).
    SlowClose {
        /// How long the connection hangs before closing.
        delay: Duration,
    },
    /// Write the reply in slices of `chunk` bytes, waiting `delay` between
    /// slices, so that clients see several partial reads.
    Partial {
        /// Bytes per slice (at least 1).
        chunk: usize,
        /// Wait between slices.
        delay: Duration,
    },
    /// Write the reply no faster than `bytes_per_sec`.
    Bandwidth {
        /// The rate limit (at least 1).
        bytes_per_sec: u64,
    },
    /// Reply with this error instead of running the command (text without
    /// the leading `-`; see [`errors`] for Redis's texts).
    Error(String),
    /// Run the command but never send its reply; later commands are answered.
    DropReply,
    /// *At accept*: accept new connections and close them at once.
    RefuseConnections,
    /// *At accept*: stop accepting; connections wait in the listen backlog
    /// (connect succeeds, nothing answers) until the rule goes.
    StopAccepting,
    /// *At accept*: write `-ERR max number of clients reached` and close, as
    /// Redis does beyond `maxclients`.
    MaxClients,
    /// *Scripts, fake server only*: the script an EVAL, EVALSHA, EVAL_RO,
    /// EVALSHA_RO, FCALL or FCALL_RO runs starts by stalling this long on
    /// the server's clock (a paused clock: until the test advances it), on
    /// a thread of its own, so other clients get BUSY once
    /// `busy-reply-threshold` has passed and may SCRIPT KILL it. Other
    /// commands never match it; a proxy ignores it.
    SlowScript {
        /// How long the script stalls, on the server's clock.
        delay: Duration,
    },
    /// *At TLS handshake*: accept the TCP connection and never answer the
    /// ClientHello (the socket is read and discarded until the client hangs up).
    TlsHandshakeStall,
    /// *At TLS handshake*: read the ClientHello, then close the connection
    /// mid-handshake.
    TlsCloseDuringHandshake,
    /// *At TLS handshake*: present this bad certificate instead of the
    /// server's valid one, so the client's verification fails.
    TlsBadCertificate(BadCertificate),
}

impl Fault {
    /// Whether the fault acts when a connection is accepted rather than on a command.
    pub fn is_at_accept(&self) -> bool {
        matches!(self, Fault::RefuseConnections | Fault::StopAccepting | Fault::MaxClients)
    }

    /// Whether the fault acts in the TLS handshake of a new connection.
    pub fn is_at_handshake(&self) -> bool {
        matches!(self, Fault::TlsHandshakeStall | Fault::TlsCloseDuringHandshake | Fault::TlsBadCertificate(_))
    }
}

/// Which connections a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ConnTarget {
    /// Every connection.
    #[default]
    Any,
    /// The connection with this client id (`CLIENT ID`; the proxy numbers
    /// its client connections from 1 in accept order).
    Id(u64),
    /// Connections whose `CLIENT SETNAME` name is this.
    Name(String),
    /// Only connections accepted after the rule was installed.
    New,
}

/// A count or a range of counts, like wiremock's `Times`:
/// `3`, `2..5`, `2..=4`, `1..`, `..3`.
///
/// [`FaultRule::expect`] reads it as the number of firings allowed;
/// [`FaultRule::times`] as which matching occurrences fire (a plain count
/// `n` meaning the first `n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    pub(crate) min: u64,
    /// Inclusive.
    pub(crate) max: u64,
    /// Built from a plain count.
    pub(crate) exact: bool,
}

impl Times {
    /// Whether `n` lies in the range.
    pub fn contains(&self, n: u64) -> bool {
        self.min <= n && n <= self.max
    }

    /// The occurrence numbers (1-based) that [`FaultRule::times`] lets fire.
    pub(crate) fn as_occurrences(self) -> Times {
        if self.exact {
            Times { min: 1, max: self.max, exact: false }
        } else {
            self
        }
    }
}

impl From<u64> for Times {
    fn from(n: u64) -> Times {
        Times { min: n, max: n, exact: true }
    }
}

impl From<Range<u64>> for Times {
    fn from(r: Range<u64>) -> Times {
        Times { min: r.start, max: r.end.saturating_sub(1), exact: false }
    }
}

impl From<RangeInclusive<u64>> for Times {
    fn from(r: RangeInclusive<u64>) -> Times {
        Times { min: *r.start(), max: *r.end(), exact: false }
    }
}

impl From<RangeFrom<u64>> for Times {
    fn from(r: RangeFrom<u64>) -> Times {
        Times { min: r.start, max: u64::MAX, exact: false }
    }
}

impl From<RangeTo<u64>> for Times {
    fn from(r: RangeTo<u64>) -> Times {
        Times { min: 0, max: r.end.saturating_sub(1), exact: false }
    }
}

impl From<RangeToInclusive<u64>> for Times {
    fn from(r: RangeToInclusive<u64>) -> Times {
        Times { min: 0, max: r.end, exact: false }
    }
}

impl fmt::Display for Times {
    /// Renders as the rule text writes it: `3`, `2..=4`, `2..`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.exact {
            write!(f, "{}", self.max)
        } else if self.max == u64::MAX {
            write!(f, "{}..", self.min)
        } else {
            write!(f, "{}..={}", self.min, self.max)
        }
    }
}

/// A closure over a command's arguments (`args[0]` is the command name).
pub type Predicate = Arc<dyn Fn(&[Bytes]) -> bool + Send + Sync>;

/// A [`Fault`] and the commands and connections it applies to.
///
/// Build one with a constructor per fault, narrow it with the targeting
/// methods, and install it with `FakeRedis::fault` or `FaultProxy::fault`:
///
/// ```
/// use std::time::Duration;
/// use redis_harness::fault::{errors, FaultRule};
///
/// let rule = FaultRule::error(errors::LOADING).on(["GET", "MGET"]).times(2).expect(2);
/// assert_eq!(rule.to_string(), format!("error \"{}\" cmd=GET,MGET times=2 expect=2", errors::LOADING));
/// let slow = FaultRule::latency(Duration::from_millis(50)).jitter(Duration::from_millis(10)).probability(0.5);
/// assert_eq!(slow.to_string(), "latency 50ms jitter=10ms prob=0.5");
/// ```
///
/// # Matching
///
/// A server tries its rules in the order they were installed, and the first
/// rule that *fires* decides what happens to a command (or a new
/// connection); later rules are not consulted for it. A rule fires when the
/// command is one of [`FaultRule::on`] (any, if none given), the predicate
/// of [`FaultRule::when`] holds, the connection fits [`FaultRule::client_id`]
/// / [`FaultRule::client_name`] / [`FaultRule::new_connections`], the time
/// is inside [`FaultRule::from`] / [`FaultRule::until`], the occurrence
/// (counted over the commands that matched so far, from 1) is allowed by
/// [`FaultRule::times`] / [`FaultRule::nth`], and the seeded RNG says yes
/// under [`FaultRule::probability`]. A rule that matches but does not fire
/// lets the next rule try.
#[derive(Clone)]
pub struct FaultRule {
    pub(crate) fault: Fault,
    /// Names, categories, globs and families; empty matches every command.
    pub(crate) commands: Vec<CommandTarget>,
    pub(crate) predicate: Option<Predicate>,
    pub(crate) connection: ConnTarget,
    /// Occurrence numbers that may fire (1-based); `None`: every one.
    pub(crate) occurrences: Option<Times>,
    pub(crate) probability: f64,
    pub(crate) from: Option<Duration>,
    pub(crate) until: Option<Duration>,
    pub(crate) expect: Option<Times>,
    pub(crate) label: Option<String>,
    /// Applies to the commands scripts send with `redis.call`/`redis.pcall`
    /// (instead of those clients send).
    pub(crate) in_script: bool,
}

impl FaultRule {
    /// A rule for `fault` that applies to every command (or every new
    /// connection, for faults at accept).
    pub fn new(fault: Fault) -> FaultRule {
        FaultRule {
            fault,
            commands: Vec::new(),
            predicate: None,
            connection: ConnTarget::Any,
            occurrences: None,
            probability: 1.0,
            from: None,
            until: None,
            expect: None,
            label: None,
            in_script: false,
        }
    }

    /// Waits `delay` before writing the reply (the command has run).
    /// Change the phase with [`FaultRule::before_command`].
    pub fn latency(delay: Duration) -> FaultRule {
        FaultRule::new(Fault::Latency { delay, jitter: Duration::ZERO, phase: LatencyPhase::BeforeReply })
    }

    /// Reads the request and never answers ([`Fault::Stall`]).
    pub fn stall() -> FaultRule {
        FaultRule::new(Fault::Stall)
    }

    /// Runs the command, then closes with FIN instead of replying
    /// ([`Fault::Close`]); see [`FaultRule::after_bytes`].
    pub fn close() -> FaultRule {
        FaultRule::new(Fault::Close { after_bytes: 0 })
    }

    /// Runs the command, then resets the connection (RST) instead of
    /// replying ([`Fault::Reset`]); see [`FaultRule::after_bytes`].
    pub fn reset() -> FaultRule {
        FaultRule::new(Fault::Reset { after_bytes: 0 })
    }

    /// Sends nothing, waits `delay`, then closes ([`Fault::SlowClose`]).
    pub fn slow_close(delay: Duration) -> FaultRule {
        FaultRule::new(Fault::SlowClose { delay })
    }

    /// Slices the reply into `chunk`-byte writes `delay` apart ([`Fault::Partial`]).
    pub fn partial(chunk: usize, delay: Duration) -> FaultRule {
        FaultRule::new(Fault::Partial { chunk: chunk.max(1), delay })
    }

    /// Limits the reply to `bytes_per_sec` ([`Fault::Bandwidth`]).
    pub fn bandwidth(bytes_per_sec: u64) -> FaultRule {
        FaultRule::new(Fault::Bandwidth { bytes_per_sec: bytes_per_sec.max(1) })
    }

    /// Replies with this error instead of running the command. `text` is
    /// everything after the `-`, code first (`"LOADING ..."`); line breaks
    /// become spaces so the reply stays one RESP line.
    pub fn error(text: impl Into<String>) -> FaultRule {
        let text: String = text.into();
        FaultRule::new(Fault::Error(text.replace(['\r', '\n'], " ")))
    }

    /// EVALSHA and EVALSHA_RO answer NOSCRIPT ([`errors::NOSCRIPT`]) as after
    /// a failover or SCRIPT FLUSH, without running: a test proves its client
    /// falls back to EVAL (or SCRIPT LOAD). Narrow it with `times`/`nth`.
    pub fn noscript() -> FaultRule {
        FaultRule::error(errors::NOSCRIPT).on(["EVALSHA", "EVALSHA_RO"])
    }

    /// Scripts start by stalling `delay` on the server's clock
    /// ([`Fault::SlowScript`]), so that other clients see BUSY.
    pub fn slow_script(delay: Duration) -> FaultRule {
        FaultRule::new(Fault::SlowScript { delay })
    }

    /// Aims the rule at the commands scripts run with `redis.call` and
    /// `redis.pcall` rather than at those clients send: with
    /// [`FaultRule::error`], `redis.call('INCR', ...)` gets the error (and
    /// raises it; `redis.pcall` returns it), so a test sees how its script
    /// handles a failing inner call. Only error faults apply there.
    pub fn in_scripts(mut self) -> FaultRule {
        self.in_script = true;
        self
    }

    /// Runs the command and swallows its reply ([`Fault::DropReply`]).
    pub fn drop_reply() -> FaultRule {
        FaultRule::new(Fault::DropReply)
    }

    /// Stalls the TLS handshake of new connections ([`Fault::TlsHandshakeStall`]).
    pub fn tls_handshake_stall() -> FaultRule {
        FaultRule::new(Fault::TlsHandshakeStall)
    }

    /// Closes new connections in the middle of their TLS handshake
    /// ([`Fault::TlsCloseDuringHandshake`]).
    pub fn tls_close_during_handshake() -> FaultRule {
        FaultRule::new(Fault::TlsCloseDuringHandshake)
    }

    /// Presents a bad certificate to new connections ([`Fault::TlsBadCertificate`]).
    pub fn tls_bad_certificate(cert: BadCertificate) -> FaultRule {
        FaultRule::new(Fault::TlsBadCertificate(cert))
    }

    /// Accepts new connections and closes them at once.
    pub fn refuse_connections() -> FaultRule {
        FaultRule::new(Fault::RefuseConnections)
    }

    /// Stops accepting new connections while the rule is installed.
    pub fn stop_accepting() -> FaultRule {
        FaultRule::new(Fault::StopAccepting)
    }

    /// Answers new connections with `-ERR max number of clients reached` and closes them.
    pub fn max_clients() -> FaultRule {
        FaultRule::new(Fault::MaxClients)
    }

    /// The next `n` authentication attempts (`AUTH`, or `HELLO ... AUTH`)
    /// fail with `WRONGPASS`, whatever the password; the connection stays
    /// unauthenticated. Independent of ACLs: only the reply is replaced.
    pub fn auth_failures(n: u64) -> FaultRule {
        FaultRule::error(errors::WRONGPASS)
            .on(["AUTH", "HELLO"])
            .when(|args: &[Bytes]| {
                args[0].eq_ignore_ascii_case(b"auth") || args.iter().skip(1).any(|a| a.eq_ignore_ascii_case(b"auth"))
            })
            .times(n)
            .labelled(format!("auth-fail {n}"))
    }

    /// Makes a latency fault wait before the command runs instead of before the reply.
    pub fn before_command(mut self) -> FaultRule {
        if let Fault::Latency { phase, .. } = &mut self.fault {
            *phase = LatencyPhase::BeforeCommand;
        }
        self
    }

    /// Adds a random extra of up to `jitter` to a latency fault.
    pub fn jitter(mut self, jitter: Duration) -> FaultRule {
        if let Fault::Latency { jitter: j, .. } = &mut self.fault {
            *j = jitter;
        }
        self
    }

    /// For close and reset faults: write this many bytes of the reply first.
    pub fn after_bytes(mut self, n: usize) -> FaultRule {
        if let Fault::Close { after_bytes } | Fault::Reset { after_bytes } = &mut self.fault {
            *after_bytes = n;
        }
        self
    }

    /// Only these commands. Each entry is one of
    ///
    /// - a command name, matched exactly and case-insensitively: `"SET"`
    ///   matches SET only, not the SETEX that redis-rs's `set_ex` sends
    ///   (use [`FaultRule::on_family`] for that);
    /// - `"@category"`, a Redis ACL category (`@write`, `@read`, `@string`,
    ///   `@hash`, `@blocking`, `@dangerous`, ... as `ACL CAT` lists them),
    ///   judged by Redis 7.0's own command table, subcommand by subcommand
    ///   (`CLIENT KILL` is `@dangerous`, `CLIENT ID` is not);
    /// - a Redis glob over command names: `"SET*"` matches SET, SETEX,
    ///   SETNX, SETRANGE, SETBIT (not PSETEX, not GETSET).
    ///
    /// Subcommands are otherwise not told apart: use [`FaultRule::when`] for
    /// `CLIENT SETNAME` and the like. Calling it again adds to the list.
    ///
    /// ```
    /// use redis_harness::fault::FaultRule;
    /// let rule = FaultRule::close().on(["@write", "GET", "H*"]);
    /// assert_eq!(rule.to_string(), "close cmd=@write,GET,H*");
    /// ```
    ///
    /// # Panics
    ///
    /// If an `@` entry is not a Redis ACL category (a typo would otherwise
    /// make a rule that never fires); the rule text reports it as an error.
    pub fn on<I, S>(mut self, commands: I) -> FaultRule
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for c in commands {
            match CommandTarget::parse(c.as_ref()) {
                Ok(t) => self.commands.push(t),
                Err(e) => panic!("FaultRule::on: {e}"),
            }
        }
        self
    }

    /// Only the commands of `base`'s family: `on_family("SET")` matches
    /// SET, SETEX, PSETEX, SETNX, GETSET, MSET and MSETNX, whichever a
    /// client library sends for "set a string". The families are listed in
    /// [`FAMILIES`](super::FAMILIES); a command with no listed variants is a
    /// family of one. Adds to the commands given to [`FaultRule::on`].
    ///
    /// ```
    /// use redis_harness::fault::FaultRule;
    /// let rule = FaultRule::error("ERR no").on_family("set").on_family("DEL");
    /// assert_eq!(rule.to_string(), "error \"ERR no\" family=SET,DEL");
    /// ```
    pub fn on_family(mut self, base: &str) -> FaultRule {
        self.commands.push(CommandTarget::family(base));
        self
    }

    /// Only this command; shorthand for `.on([name])`.
    pub fn command(self, name: &str) -> FaultRule {
        self.on([name])
    }

    /// Only commands for which `predicate(args)` holds (`args[0]` is the
    /// command name as sent). Combined with [`FaultRule::on`], both must hold.
    pub fn when<F>(mut self, predicate: F) -> FaultRule
    where
        F: Fn(&[Bytes]) -> bool + Send + Sync + 'static,
    {
        self.predicate = Some(Arc::new(predicate));
        self
    }

    /// Only the connection with this client id.
    pub fn client_id(mut self, id: u64) -> FaultRule {
        self.connection = ConnTarget::Id(id);
        self
    }

    /// Only connections named `name` with `CLIENT SETNAME` (or `HELLO ... SETNAME`).
    pub fn client_name(mut self, name: impl Into<String>) -> FaultRule {
        self.connection = ConnTarget::Name(name.into());
        self
    }

    /// Only connections accepted after the rule is installed.
    pub fn new_connections(mut self) -> FaultRule {
        self.connection = ConnTarget::New;
        self
    }

    /// Fires only on the `n`th matching occurrence (1-based).
    pub fn nth(mut self, n: u64) -> FaultRule {
        self.occurrences = Some(Times::from(n..=n));
        self
    }

    /// Which matching occurrences fire: `times(3)` the first three,
    /// `times(2..4)` the second and third, `times(5..)` from the fifth on.
    pub fn times(mut self, t: impl Into<Times>) -> FaultRule {
        self.occurrences = Some(t.into().as_occurrences());
        self
    }

    /// Fires with probability `p` (clamped to 0..=1), drawn from the
    /// server's seeded RNG: the same seed and the same commands give the
    /// same firings.
    pub fn probability(mut self, p: f64) -> FaultRule {
        self.probability = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
        self
    }

    /// Active only from `after` past the moment the rule is installed.
    pub fn from(mut self, after: Duration) -> FaultRule {
        self.from = Some(after);
        self
    }

    /// Active only until `after` past the moment the rule is installed.
    pub fn until(mut self, after: Duration) -> FaultRule {
        self.until = Some(after);
        self
    }

    /// Expects the rule to fire this many times (a count or a range); checked
    /// when its [`FaultGuard`](super::FaultGuard) or the server is dropped.
    pub fn expect(mut self, t: impl Into<Times>) -> FaultRule {
        self.expect = Some(t.into());
        self
    }

    /// A name shown in listings and failure messages instead of the rule text.
    pub fn labelled(mut self, label: impl Into<String>) -> FaultRule {
        self.label = Some(label.into());
        self
    }

    /// The fault this rule injects.
    pub fn fault(&self) -> &Fault {
        &self.fault
    }

    /// The expected number of firings, if one was set with [`FaultRule::expect`].
    pub fn expectation(&self) -> Option<Times> {
        self.expect
    }

    /// Whether the command `args` passes the command and predicate filters.
    pub(crate) fn matches_command(&self, args: &[Bytes]) -> bool {
        if args.is_empty() {
            return false;
        }
        if !self.commands.is_empty() && !self.commands.iter().any(|c| c.matches(args)) {
            return false;
        }
        self.predicate.as_ref().is_none_or(|p| p(args))
    }
}
