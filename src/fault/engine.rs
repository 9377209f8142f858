//! The rule table a server consults: installed rules, their counters, the
//! seeded RNG, and the guards that remove rules and check expectations.
//!
//! Implementation notes
//! - The table has its own std `Mutex`, taken briefly to decide; the
//!   decision ([`Action`]) is carried out after the lock is released, so an
//!   injected delay never holds up another connection or the handle.
//! - Fault decisions draw from their own RNG seeded with the server's seed,
//!   so commands that use randomness (SPOP, RANDOMKEY) do not shift which
//!   faults fire: the same seed and the same commands give the same firings.
//! - `active` mirrors "has rules" in an atomic, so a server without rules
//!   pays one relaxed load per command.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Notify;

use super::model::{BadCertificate, ConnTarget, Fault, FaultRule, LatencyPhase, Times};

/// What a connection looks like to the rule matcher.
#[derive(Debug, Clone)]
pub(crate) struct ConnInfo<'a> {
    pub id: u64,
    pub name: &'a [u8],
    pub created: Instant,
}

/// What to do with one command, decided under the lock and carried out after.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    /// Wait, then run the command normally.
    DelayCommand(Duration),
    /// Do not run the command; reply with this error.
    Error(Bytes),
    /// Do not run the command; never answer again.
    Stall,
    /// Run the command, then deliver its reply this way.
    Reply(ReplyAction),
    /// Run the command; the script it runs first stalls this long (fake server only).
    SlowScript(Duration),
}

/// How a reply is delivered (or not).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ReplyAction {
    Delay(Duration),
    Close { after: usize, reset: bool },
    SlowClose(Duration),
    Partial { chunk: usize, delay: Duration },
    Bandwidth(u64),
    Drop,
}

/// What to do with the TLS handshake of a new connection.
#[cfg_attr(not(feature = "tls"), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HandshakeAction {
    Stall,
    Close,
    BadCertificate(BadCertificate),
}

/// What to do with a freshly accepted connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AcceptAction {
    Close,
    MaxClients,
}

struct Installed {
    id: u64,
    rule: FaultRule,
    installed: Instant,
    /// Matching occurrences seen so far.
    seen: u64,
    hits: Arc<AtomicU64>,
    /// Whether a guard owns it (guard-less rules come from the CLI/admin).
    guarded: bool,
    /// For stop-accepting: whether it is holding accepts right now (counts one hit per spell).
    holding: bool,
}

impl Installed {
    fn in_window(&self, now: Instant) -> bool {
        let age = now.saturating_duration_since(self.installed);
        self.rule.from.is_none_or(|f| age >= f) && self.rule.until.is_none_or(|u| age < u)
    }

    fn matches_conn(&self, conn: &ConnInfo<'_>) -> bool {
        match &self.rule.connection {
            ConnTarget::Any => true,
            ConnTarget::Id(id) => *id == conn.id,
            ConnTarget::Name(n) => n.as_bytes() == conn.name,
            ConnTarget::New => conn.created >= self.installed,
        }
    }

    /// For rules on new connections (at accept, at the TLS handshake):
    /// whether it fires now. Rules aimed at commands, a client id or a name
    /// never match: the connection has sent nothing yet.
    fn fires_on_new_connection(&mut self, now: Instant, rng: &mut fastrand::Rng) -> bool {
        self.rule.commands.is_empty()
            && self.rule.predicate.is_none()
            && matches!(self.rule.connection, ConnTarget::Any | ConnTarget::New)
            && self.in_window(now)
            && self.fire(rng)
    }

    /// Counts an occurrence and rolls the dice; true if the rule fires.
    fn fire(&mut self, rng: &mut fastrand::Rng) -> bool {
        self.seen += 1;
        if self.rule.occurrences.is_some_and(|o| !o.contains(self.seen)) {
            return false;
        }
        if self.rule.probability < 1.0 && rng.f64() >= self.rule.probability {
            return false;
        }
        self.hits.fetch_add(1, Ordering::Relaxed);
        true
    }
}

/// Whether `args` is a command that runs a script ([`Fault::SlowScript`] targets these only).
fn runs_script(args: &[Bytes]) -> bool {
    let name = args.first().map(|a| a.to_ascii_lowercase()).unwrap_or_default();
    matches!(&name[..], b"eval" | b"evalsha" | b"eval_ro" | b"evalsha_ro" | b"fcall" | b"fcall_ro")
}

/// A rule as listed by `FakeRedis::fault_rules` and `HARNESS FAULT LIST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    /// Its id (for `HARNESS FAULT DEL`).
    pub id: u64,
    /// Its rule text.
    pub text: String,
    /// How often it has fired.
    pub hits: u64,
}

struct Engine {
    rules: Vec<Installed>,
    rng: fastrand::Rng,
    next_id: u64,
}

/// One server's rule table.
pub(crate) struct Hub {
    engine: Mutex<Engine>,
    seed: u64,
    active: AtomicUsize,
    admin: AtomicBool,
    /// Woken when rules change (the stop-accepting gate waits on it).
    changed: Notify,
}

impl Hub {
    pub(crate) fn new(seed: u64) -> Hub {
        Hub {
            engine: Mutex::new(Engine { rules: Vec::new(), rng: fastrand::Rng::with_seed(seed), next_id: 1 }),
            seed,
            active: AtomicUsize::new(0),
            admin: AtomicBool::new(false),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Engine> {
        self.engine.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn seed(&self) -> u64 {
        self.seed
    }

    /// Whether any rule is installed (cheap; checked before every command).
    pub(crate) fn has_rules(&self) -> bool {
        self.active.load(Ordering::Relaxed) > 0
    }

    pub(crate) fn admin_enabled(&self) -> bool {
        self.admin.load(Ordering::Relaxed)
    }

    pub(crate) fn set_admin(&self, on: bool) {
        self.admin.store(on, Ordering::Relaxed);
    }

    /// Installs a rule; returns its id and hit counter.
    pub(crate) fn add(&self, rule: FaultRule, guarded: bool) -> (u64, Arc<AtomicU64>) {
        let hits = Arc::new(AtomicU64::new(0));
        let mut e = self.lock();
        let id = e.next_id;
        e.next_id += 1;
        e.rules.push(Installed {
            id,
            rule,
            installed: Instant::now(),
            seen: 0,
            hits: hits.clone(),
            guarded,
            holding: false,
        });
        self.active.store(e.rules.len(), Ordering::Relaxed);
        drop(e);
        self.changed.notify_waiters();
        (id, hits)
    }

    /// Removes a rule; returns it if it was still installed.
    pub(crate) fn remove(&self, id: u64) -> Option<FaultRule> {
        let mut e = self.lock();
        let pos = e.rules.iter().position(|r| r.id == id)?;
        let r = e.rules.remove(pos);
        self.active.store(e.rules.len(), Ordering::Relaxed);
        drop(e);
        self.changed.notify_waiters();
        Some(r.rule)
    }

    /// Removes every rule; returns the guarded ones with their hit counts
    /// (for the server's end-of-life verification).
    pub(crate) fn clear(&self) -> Vec<(FaultRule, u64)> {
        let mut e = self.lock();
        let gone = std::mem::take(&mut e.rules);
        self.active.store(0, Ordering::Relaxed);
        drop(e);
        self.changed.notify_waiters();
        gone.into_iter().filter(|r| r.guarded).map(|r| (r.rule, r.hits.load(Ordering::Relaxed))).collect()
    }

    pub(crate) fn list(&self) -> Vec<RuleInfo> {
        self.lock()
            .rules
            .iter()
            .map(|r| RuleInfo { id: r.id, text: r.rule.to_string(), hits: r.hits.load(Ordering::Relaxed) })
            .collect()
    }

    /// Decides what happens to one command. Accept-time faults are skipped.
    pub(crate) fn on_command(&self, conn: &ConnInfo<'_>, args: &[Bytes]) -> Option<Action> {
        let now = Instant::now();
        let mut guard = self.lock();
        let e = &mut *guard;
        for r in e.rules.iter_mut() {
            if r.rule.fault.is_at_accept()
                || r.rule.in_script
                || (matches!(r.rule.fault, Fault::SlowScript { .. }) && !runs_script(args))
                || r.rule.fault.is_at_handshake()
                || !r.in_window(now)
                || !r.matches_conn(conn)
                || !r.rule.matches_command(args)
                || !r.fire(&mut e.rng)
            {
                continue;
            }
            return Some(match &r.rule.fault {
                Fault::Latency { delay, jitter, phase } => {
                    let extra = if jitter.is_zero() {
                        Duration::ZERO
                    } else {
                        Duration::from_nanos(e.rng.u64(0..=jitter.as_nanos().min(u64::MAX as u128) as u64))
                    };
                    match phase {
                        LatencyPhase::BeforeCommand => Action::DelayCommand(*delay + extra),
                        LatencyPhase::BeforeReply => Action::Reply(ReplyAction::Delay(*delay + extra)),
                    }
                }
                Fault::Stall => Action::Stall,
                Fault::Close { after_bytes } => Action::Reply(ReplyAction::Close { after: *after_bytes, reset: false }),
                Fault::Reset { after_bytes } => Action::Reply(ReplyAction::Close { after: *after_bytes, reset: true }),
                Fault::SlowClose { delay } => Action::Reply(ReplyAction::SlowClose(*delay)),
                Fault::Partial { chunk, delay } => {
                    Action::Reply(ReplyAction::Partial { chunk: (*chunk).max(1), delay: *delay })
                }
                Fault::Bandwidth { bytes_per_sec } => Action::Reply(ReplyAction::Bandwidth((*bytes_per_sec).max(1))),
                Fault::Error(t) => Action::Error(Bytes::from(t.clone())),
                Fault::DropReply => Action::Reply(ReplyAction::Drop),
                Fault::RefuseConnections | Fault::StopAccepting | Fault::MaxClients => continue,
                Fault::SlowScript { delay } => Action::SlowScript(*delay),
                Fault::TlsHandshakeStall | Fault::TlsCloseDuringHandshake | Fault::TlsBadCertificate(_) => continue,
            });
        }
        None
    }

    /// The error a command sent by a script (`redis.call`) gets instead of
    /// running, from the first `in_scripts` error rule that fires for it.
    pub(crate) fn on_script_call(&self, conn: &ConnInfo<'_>, args: &[Bytes]) -> Option<Bytes> {
        let now = Instant::now();
        let mut guard = self.lock();
        let e = &mut *guard;
        for r in e.rules.iter_mut() {
            if !r.rule.in_script || !matches!(r.rule.fault, Fault::Error(_)) {
                continue;
            }
            if !r.in_window(now) || !r.matches_conn(conn) || !r.rule.matches_command(args) || !r.fire(&mut e.rng) {
                continue;
            }
            let Fault::Error(text) = &r.rule.fault else { continue };
            return Some(Bytes::from(text.clone()));
        }
        None
    }

    /// Decides what happens to a connection just accepted. Rules aimed at
    /// a client id or name never match here: the connection has neither yet.
    pub(crate) fn on_accept(&self) -> Option<AcceptAction> {
        self.first_on_new_connection(|f| match f {
            Fault::RefuseConnections => Some(AcceptAction::Close),
            Fault::MaxClients => Some(AcceptAction::MaxClients),
            _ => None,
        })
    }

    /// Decides what happens to the TLS handshake of a connection just
    /// accepted (called by TLS servers only), with the same targeting as
    /// [`Hub::on_accept`]: windows, occurrences, probability, expectations.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(crate) fn on_handshake(&self) -> Option<HandshakeAction> {
        self.first_on_new_connection(|f| match f {
            Fault::TlsHandshakeStall => Some(HandshakeAction::Stall),
            Fault::TlsCloseDuringHandshake => Some(HandshakeAction::Close),
            Fault::TlsBadCertificate(c) => Some(HandshakeAction::BadCertificate(*c)),
            _ => None,
        })
    }

    /// The action of the first rule, in installation order, whose fault
    /// `pick` maps to one and that fires for a new connection now.
    fn first_on_new_connection<A>(&self, pick: impl Fn(&Fault) -> Option<A>) -> Option<A> {
        if !self.has_rules() {
            return None;
        }
        let now = Instant::now();
        let mut guard = self.lock();
        let e = &mut *guard;
        for r in e.rules.iter_mut() {
            let Some(action) = pick(&r.rule.fault) else { continue };
            if r.fires_on_new_connection(now, &mut e.rng) {
                return Some(action);
            }
        }
        None
    }

    /// Whether a stop-accepting rule holds accepts now. Counts one hit each
    /// time a rule starts holding.
    fn holding_accepts(&self) -> bool {
        if !self.has_rules() {
            return false;
        }
        let now = Instant::now();
        let mut e = self.lock();
        let mut any = false;
        for r in e.rules.iter_mut().filter(|r| r.rule.fault == Fault::StopAccepting) {
            let on = r.in_window(now);
            if on && !r.holding {
                r.hits.fetch_add(1, Ordering::Relaxed);
            }
            r.holding = on;
            any |= on;
        }
        any
    }

    /// Waits while a stop-accepting rule is active. Rechecks at least every
    /// 20 ms because `from`/`until` windows open and close without a signal.
    pub(crate) async fn accepting(&self) {
        while self.holding_accepts() {
            let _ = tokio::time::timeout(Duration::from_millis(20), self.changed.notified()).await;
        }
    }

    /// Waits while accepts are held, then accepts. An accept already waiting
    /// when the rules change is abandoned and the rules checked again, so a
    /// stop-accepting rule holds the very next connection (`accept` must be
    /// cancel-safe, as tokio's listeners' are).
    pub(crate) async fn accepting_then<F, Fut>(&self, mut accept: F) -> Fut::Output
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future,
    {
        loop {
            self.accepting().await;
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.holding_accepts() {
                continue;
            }
            tokio::select! {
                // A rule installed before a client connected must see that client:
                // when both are ready, the change wins and the rules are checked again.
                biased;
                _ = &mut changed => {}
                r = accept() => return r,
            }
        }
    }
}

/// Something that owns a rule table: the fake server or the proxy.
pub(crate) trait FaultHost: Send + Sync {
    fn hub(&self) -> &Hub;
    /// The commands received so far, one line each, for failure messages.
    fn received(&self) -> Vec<String>;
}

/// Renders a command for messages: `GET key`, binary escaped, long args cut.
pub(crate) fn render_command(args: &[Bytes]) -> String {
    let mut s = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        if a.len() > 64 {
            let _ = write!(s, "{}...({} bytes)", a[..64].escape_ascii(), a.len());
        } else {
            let _ = write!(s, "{}", a.escape_ascii());
        }
    }
    s
}

/// The expectation failure message, or `None` if the count is allowed.
pub(crate) fn check_expectation(rule: &FaultRule, hits: u64, seed: u64, received: &[String]) -> Option<String> {
    let expect = rule.expect?;
    if expect.contains(hits) {
        return None;
    }
    let mut msg = format!(
        "redis-harness: fault rule `{rule}` was expected to fire {} but fired {hits} time(s) (seed {seed}; rerun with REDIS_HARNESS_SEED={seed})\n",
        describe(expect)
    );
    let _ = writeln!(msg, "commands received ({}):", received.len());
    for line in received.iter().take(200) {
        let _ = writeln!(msg, "  {line}");
    }
    if received.len() > 200 {
        let _ = writeln!(msg, "  ... and {} more", received.len() - 200);
    }
    Some(msg)
}

fn describe(t: Times) -> String {
    if t.exact {
        format!("exactly {} time(s)", t.max)
    } else if t.max == u64::MAX {
        format!("at least {} time(s)", t.min)
    } else if t.min == 0 {
        format!("at most {} time(s)", t.max)
    } else {
        format!("between {} and {} time(s)", t.min, t.max)
    }
}

/// Logs (`tracing::warn!`) a rule without an expectation that never fired:
/// most often a targeting mistake, like `.on(["SET"])` when the client sends
/// SETEX. Names the family members and category matches that were received,
/// when there are any.
pub(crate) fn warn_never_fired(rule: &FaultRule, received: &[String]) {
    let names: std::collections::BTreeSet<String> = received
        .iter()
        .filter_map(|line| line.split_once("] ").map_or(Some(line.as_str()), |(_, rest)| Some(rest)))
        .filter_map(|rest| rest.split(' ').next())
        .map(|n| n.to_ascii_uppercase())
        .collect();
    let mut hints = Vec::new();
    for t in &rule.commands {
        if let super::targets::CommandTarget::Name(n) = t {
            let kin: Vec<String> =
                super::targets::family_members(n).into_iter().filter(|m| m != n && names.contains(m)).collect();
            if !kin.is_empty() {
                hints.push(format!(
                    "the server received {} (not {n}): target them with family={n} / .on_family(\"{n}\")",
                    kin.join(", ")
                ));
            }
        }
    }
    let hint = if hints.is_empty() { String::new() } else { format!("; {}", hints.join("; ")) };
    tracing::warn!(
        rule = %rule,
        commands_received = received.len(),
        "redis-harness: fault rule `{rule}` never fired{hint}"
    );
}

/// Verifies the expectations of every guarded rule still installed when a
/// server goes away, and removes them. Panics (unless already panicking)
/// with every failure; warns about rules without an expectation that never fired.
pub(crate) fn verify_on_drop(host: &dyn FaultHost) {
    let gone = host.hub().clear();
    if gone.iter().any(|(r, hits)| r.expect.is_none() && *hits == 0) {
        let received = host.received();
        for (r, _) in gone.iter().filter(|(r, hits)| r.expect.is_none() && *hits == 0) {
            warn_never_fired(r, &received);
        }
    }
    if gone.iter().all(|(r, _)| r.expect.is_none()) {
        return;
    }
    let received = host.received();
    let failures: Vec<String> =
        gone.iter().filter_map(|(r, hits)| check_expectation(r, *hits, host.hub().seed(), &received)).collect();
    if !failures.is_empty() && !std::thread::panicking() {
        panic!("{}", failures.join("\n"));
    }
}

/// Keeps a fault rule installed; dropping it removes the rule and checks
/// the rule's [`expect`](super::FaultRule::expect)ation. A rule without an
/// expectation that never fired is reported with a `tracing::warn!` (not a
/// panic) naming the rule and, when the server received a relative of a
/// command it targets (SETEX for `cmd=SET`), that command.
///
/// ```
/// # let server = redis_harness::FakeRedis::builder().start_blocking();
/// use redis_harness::fault::FaultRule;
/// let guard = server.fault(FaultRule::error("ERR nope").on(["GET"]));
/// assert_eq!(guard.hits(), 0);
/// drop(guard); // the rule is gone
/// ```
#[must_use = "the rule is removed as soon as the guard is dropped; bind it with `let _guard = ...` or call keep()"]
pub struct FaultGuard {
    /// `None` once kept.
    host: Option<Weak<dyn FaultHost>>,
    id: u64,
    hits: Arc<AtomicU64>,
    rule: String,
}

impl FaultGuard {
    pub(crate) fn install(host: &Arc<dyn FaultHost>, rule: FaultRule) -> FaultGuard {
        let text = rule.to_string();
        let (id, hits) = host.hub().add(rule, true);
        FaultGuard { host: Some(Arc::downgrade(host)), id, hits, rule: text }
    }

    /// How many times the rule has fired.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// The rule's id (as `HARNESS FAULT LIST` shows it).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Leaves the rule installed for the rest of the server's life; its
    /// expectation is then checked when the server is dropped.
    pub fn keep(mut self) {
        self.host = None;
    }
}

impl std::fmt::Debug for FaultGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultGuard")
            .field("id", &self.id)
            .field("rule", &self.rule)
            .field("hits", &self.hits())
            .finish()
    }
}

impl Drop for FaultGuard {
    fn drop(&mut self) {
        let Some(host) = self.host.take().and_then(|h| h.upgrade()) else { return };
        let Some(rule) = host.hub().remove(self.id) else { return };
        if std::thread::panicking() {
            return;
        }
        if rule.expect.is_none() {
            if self.hits() == 0 {
                warn_never_fired(&rule, &host.received());
            }
            return;
        }
        if let Some(msg) = check_expectation(&rule, self.hits(), host.hub().seed(), &host.received()) {
            panic!("{msg}");
        }
    }
}
