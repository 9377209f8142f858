//! Everything the server shares between connections: the keyspace, the
//! client table, configuration, WATCH bookkeeping and pending notifications.
//!
//! One `std::sync::Mutex` guards it all: the fake, like Redis, executes one
//! command at a time, and nothing awaits while the lock is held.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;

use super::blocking::Blocking;
pub(crate) use super::clients::ClientInfo;
use super::clock::Clock;
use super::command::{CommandSpec, CommandTable};
use super::config::Config;
use crate::store::{Db, Entry, Value};

/// Most distinct error codes INFO errorstats keeps (a fuzzer sends endless ones).
const MAX_ERROR_CODES: usize = 128;

/// How many commands a server keeps for [`crate::FakeRedis::commands`]
/// unless [`crate::Builder::record_limit`] says otherwise.
pub const DEFAULT_RECORD_LIMIT: usize = 100_000;

/// A command a connection sent, as recorded for test assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCommand {
    /// The client id (as CLIENT ID reports it) of the connection that sent it.
    pub client_id: u64,
    /// The command and its arguments, as received.
    pub args: Vec<Bytes>,
}

/// The commands a server or proxy recorded for test assertions: the most
/// recent `limit` of them, so that a long test's memory stays bounded.
#[derive(Debug)]
pub(crate) struct CommandLog {
    /// Whether commands are recorded at all.
    pub on: bool,
    entries: VecDeque<RecordedCommand>,
    limit: usize,
    /// Recorded and then dropped, oldest first, to stay within `limit`.
    dropped: u64,
}

impl Default for CommandLog {
    fn default() -> Self {
        CommandLog::new(true, DEFAULT_RECORD_LIMIT)
    }
}

impl CommandLog {
    pub(crate) fn new(on: bool, limit: usize) -> CommandLog {
        CommandLog { on, entries: VecDeque::new(), limit, dropped: 0 }
    }

    /// Records a command (when recording is on), dropping the oldest beyond the limit.
    pub(crate) fn record(&mut self, client_id: u64, args: &[Bytes]) {
        if !self.on {
            return;
        }
        if self.entries.len() >= self.limit {
            self.dropped += 1;
            if self.entries.pop_front().is_none() {
                return; // limit 0: keep nothing
            }
        }
        self.entries.push_back(RecordedCommand { client_id, args: args.to_vec() });
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &RecordedCommand> {
        self.entries.iter()
    }

    pub(crate) fn to_vec(&self) -> Vec<RecordedCommand> {
        self.entries.iter().cloned().collect()
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Forgets what was recorded, and the count of dropped commands.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.dropped = 0;
    }
}

impl RecordedCommand {
    /// The command name, upper-cased.
    pub fn name(&self) -> String {
        self.args.first().map(|a| String::from_utf8_lossy(a).to_ascii_uppercase()).unwrap_or_default()
    }
}

/// A keyspace event waiting to be published (keyspace notifications).
#[derive(Debug, Clone)]
pub(crate) struct KeyEvent {
    pub db: usize,
    /// Event class flag as in `notify-keyspace-events` ('g', '$', 'l', 's', 'h', 'z', 'x', 'e', ...).
    pub class: char,
    pub event: &'static str,
    pub key: Bytes,
}

/// One client WATCHing one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Watcher {
    pub client: u64,
    /// The key was in the db when WATCHed: emptying the db (FLUSHDB,
    /// FLUSHALL, SWAPDB) counts as touching it only then, as in Redis 7.0.
    pub existed: bool,
    /// The key was already logically expired when WATCHed: its deletion
    /// then changes nothing, and its expiry does not fail EXEC.
    pub expired: bool,
}

/// Counters INFO stats reports.
#[derive(Debug, Default, Clone)]
pub(crate) struct Stats {
    pub commands_processed: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub expired_keys: u64,
    /// Keys evicted for `maxmemory` (INFO's `evicted_keys`).
    pub evicted_keys: u64,
    pub rejected_connections: u64,
    pub total_connections: u64,
    /// Error replies by error code (`ERR`, `WRONGTYPE`, ...), for INFO errorstats.
    pub errors: BTreeMap<String, u64>,
}

/// Shared server state; see the module docs for the locking rule.
pub(crate) struct State {
    /// The command table dispatch looks commands up in (the command layer's).
    commands: &'static CommandTable,
    pub dbs: Vec<Db>,
    pub clients: BTreeMap<u64, ClientInfo>,
    pub next_client_id: u64,
    pub config: Config,
    /// (db, key) -> clients WATCHing it.
    pub(super) watchers: HashMap<(usize, Bytes), Vec<Watcher>>,
    /// Pub/sub subscriptions and each connection's push queue.
    pub pubsub: super::pubsub::PubSub,
    /// Clients whose WATCHed keys were touched: their EXEC fails.
    pub(super) dirty_clients: HashSet<u64>,
    /// Keyspace events produced by the current command, delivered after it.
    pub(super) events: Vec<KeyEvent>,
    /// Every event delivery saw, for unit tests of the event names commands raise.
    #[cfg(test)]
    pub event_log: Vec<KeyEvent>,
    /// Keys that became ready for blocked clients (db, key).
    pub(super) ready_keys: Vec<(usize, Bytes)>,
    /// Clients blocked in BLPOP, BZPOPMIN, ... and the per-key FIFO queues.
    pub blocking: Blocking,
    pub stats: Stats,
    pub recorded: CommandLog,
    /// The Lua engine and script cache, created by the first EVAL or SCRIPT LOAD
    /// (start-up never pays for a Lua state).
    #[cfg(feature = "scripting")]
    pub scripts: Option<Box<crate::script::Engine>>,
    /// FUNCTION libraries (their Lua state is created by the first FUNCTION LOAD).
    #[cfg(feature = "scripting")]
    pub functions: crate::script::functions::Functions,
    pub rng: fastrand::Rng,
    pub started: Instant,
    pub seed: u64,
    /// Whether the active expiry cycle runs (`DEBUG SET-ACTIVE-EXPIRE 0|1`);
    /// lazy expiry on access always does.
    pub active_expire: bool,
    /// The eviction pool and cursor `maxmemory` policies keep across commands.
    pub evict: super::evict::Evictor,
    /// Commands (and `CONTAINER SUB` subcommands) answered with an unknown-command
    /// error, upper case, with how often; see `FakeRedis::unsupported_commands`.
    pub unsupported: BTreeMap<String, u64>,
    /// The fault rules and admin switch, shared with [`Shared::faults`]: the
    /// `HARNESS` command runs through dispatch and reaches them here.
    pub faults: Arc<crate::fault::Hub>,
    /// The ACL LOG (refused commands, keys, channels and authentications).
    pub acl_log: super::acl::AclLog,
    /// Client socket traffic, shared with [`Shared::net`].
    pub net: Arc<NetCounters>,
    /// The running script's record, shared with [`Shared::busy`] (see `crate::script::busy`).
    pub busy: Arc<crate::engine::busy::Busy>,
}

/// Bytes read from and written to client sockets, for INFO's
/// `total_net_input_bytes` and `total_net_output_bytes`: relaxed atomics
/// each connection adds to once per read and once per write, without the
/// state lock. Replies a fault rule takes over (`crate::fault`) are not counted.
#[derive(Debug, Default)]
pub(crate) struct NetCounters {
    /// Bytes read from client sockets.
    pub input: std::sync::atomic::AtomicU64,
    /// Bytes written to client sockets.
    pub output: std::sync::atomic::AtomicU64,
}

impl NetCounters {
    /// Counts `n` bytes read.
    pub(crate) fn read(&self, n: usize) {
        self.input.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
    }

    /// Counts `n` bytes written.
    pub(crate) fn wrote(&self, n: usize) {
        self.output.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
    }

    /// The totals so far: (input, output).
    pub(crate) fn totals(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.input.load(Relaxed), self.output.load(Relaxed))
    }

    /// CONFIG RESETSTAT.
    pub(crate) fn reset(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        self.input.store(0, Relaxed);
        self.output.store(0, Relaxed);
    }
}

impl State {
    /// A server's state: `databases` empty databases, `config`, the RNG
    /// seeded with `seed`, commands recorded into `recorded`, dispatching
    /// from `commands`.
    pub(crate) fn new(
        mut config: Config,
        databases: usize,
        seed: u64,
        recorded: CommandLog,
        commands: &'static CommandTable,
    ) -> State {
        config.sync_derived();
        let mut db = Db::default();
        db.limits = config.encoding;
        State {
            commands,
            dbs: vec![db; databases.max(1)],
            clients: BTreeMap::new(),
            next_client_id: 1,
            config,
            watchers: HashMap::new(),
            pubsub: Default::default(),
            dirty_clients: HashSet::new(),
            events: Vec::new(),
            #[cfg(test)]
            event_log: Vec::new(),
            ready_keys: Vec::new(),
            blocking: Blocking::default(),
            stats: Stats::default(),
            unsupported: BTreeMap::new(),
            recorded,
            #[cfg(feature = "scripting")]
            scripts: None,
            #[cfg(feature = "scripting")]
            functions: Default::default(),
            rng: fastrand::Rng::with_seed(seed),
            started: Instant::now(),
            seed,
            active_expire: true,
            evict: Default::default(),
            faults: Arc::new(crate::fault::Hub::new(seed)),
            acl_log: Default::default(),
            net: Default::default(),
            busy: Default::default(),
        }
    }

    /// The HARNESS command's spec when `name` is it and the admin namespace
    /// is on: the one command dispatch finds outside the command table.
    pub(crate) fn admin_command(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        let admin = self.commands.admin();
        (self.faults.admin_enabled() && name.eq_ignore_ascii_case(admin.name.as_bytes())).then_some(admin)
    }

    /// Whether a key client `id` WATCHes was touched (its EXEC will fail).
    pub(crate) fn is_dirty(&self, id: u64) -> bool {
        self.dirty_clients.contains(&id)
    }

    /// Forgets which WATCHing clients were touched (unit tests).
    #[cfg(test)]
    pub(crate) fn clear_dirty(&mut self) {
        self.dirty_clients.clear();
    }

    /// The keys signalled ready since the last call (the blocking registry serves them).
    pub(crate) fn take_ready_keys(&mut self) -> Vec<(usize, Bytes)> {
        std::mem::take(&mut self.ready_keys)
    }

    /// The command table dispatch uses.
    pub(crate) fn commands(&self) -> &'static CommandTable {
        self.commands
    }

    /// Counts an error reply for INFO errorstats (by its first word, as Redis
    /// does), keeping at most [`MAX_ERROR_CODES`] distinct codes.
    pub(crate) fn count_error(&mut self, e: &[u8]) {
        let code = e.split(|&c| c == b' ').next().unwrap_or_default();
        let code = String::from_utf8_lossy(code).into_owned();
        let errors = &mut self.stats.errors;
        if errors.contains_key(&code) || errors.len() < MAX_ERROR_CODES {
            *errors.entry(code).or_default() += 1;
        }
    }

    /// Closes every client `which` selects (CLIENT KILL, HARNESS KILL-ALL,
    /// ACL changes, idle timeouts); returns how many.
    pub(crate) fn kill_clients(&mut self, mut which: impl FnMut(&ClientInfo) -> bool) -> usize {
        let mut n = 0;
        for c in self.clients.values_mut().filter(|c| which(c)) {
            c.kill();
            n += 1;
        }
        n
    }

    /// The error a fault rule aimed at scripts (`FaultRule::in_scripts`)
    /// gives a `redis.call` of client `client`, if one fires.
    pub(crate) fn script_call_fault(&self, client: u64, args: &[Bytes]) -> Option<Bytes> {
        let (name, created) = match self.clients.get(&client) {
            Some(c) => (c.name.clone(), c.created),
            None => (Bytes::new(), Instant::now()),
        };
        self.faults.on_script_call(&crate::fault::ConnInfo { id: client, name: &name, created }, args)
    }

    /// Looks a key up, expiring it first if its time has passed (lazy expiry).
    pub(crate) fn lookup(&mut self, db: usize, key: &[u8], now: u64) -> Option<&mut Entry> {
        self.expire_if_needed(db, key, now);
        let e = self.dbs[db].raw_get_mut(key)?;
        e.last_access = now;
        if self.config.mm.policy.is_lfu() {
            super::evict::touch_lfu(e, &self.config.mm, &mut self.rng, now);
        }
        Some(e)
    }

    /// Like [`State::lookup`] but counts a keyspace hit or miss (read commands).
    pub(crate) fn lookup_read(&mut self, db: usize, key: &[u8], now: u64) -> Option<&mut Entry> {
        // One hash to classify the key (the usual live hit skips expire_if_needed's own lookup).
        let live = match self.dbs[db].raw_get(key) {
            None => false,
            Some(e) if e.expire_at.is_some_and(|at| at <= now) => !self.expire_if_needed(db, key, now),
            Some(_) => true,
        };
        if !live {
            self.stats.keyspace_misses += 1;
            if !self.config.notify_flags.is_empty() {
                self.notify(db, 'm', "keymiss", &Bytes::copy_from_slice(key));
            }
            return None;
        }
        self.stats.keyspace_hits += 1;
        let e = self.dbs[db].raw_get_mut(key)?;
        e.last_access = now;
        if self.config.mm.policy.is_lfu() {
            super::evict::touch_lfu(e, &self.config.mm, &mut self.rng, now);
        }
        Some(e)
    }

    /// Whether a live key exists (expires it lazily if due).
    pub(crate) fn exists(&mut self, db: usize, key: &[u8], now: u64) -> bool {
        self.expire_if_needed(db, key, now);
        self.dbs[db].raw_get(key).is_some()
    }

    /// Deletes `key` if its expiry has passed; returns whether it did.
    pub(crate) fn expire_if_needed(&mut self, db: usize, key: &[u8], now: u64) -> bool {
        let due = matches!(self.dbs[db].raw_get(key), Some(e) if e.expire_at.is_some_and(|at| at <= now));
        if due {
            self.dbs[db].remove(key);
            self.stats.expired_keys += 1;
            let key = Bytes::copy_from_slice(key);
            self.signal_watchers(db, &key);
            self.notify(db, 'x', "expired", &key);
        }
        due
    }

    /// Active expiry: reclaims every due key in every db.
    pub(crate) fn expire_cycle(&mut self, now: u64) {
        if !self.active_expire {
            return;
        }
        for db in 0..self.dbs.len() {
            for key in self.dbs[db].expired_keys(now) {
                self.expire_if_needed(db, &key, now);
            }
        }
    }

    /// Stores `value` under `key` (replacing any value and clearing its TTL),
    /// and signals the write.
    pub(crate) fn set_value(&mut self, db: usize, key: &Bytes, value: Value, now: u64) {
        // Redis's dbAdd signals every new list/zset/stream key (RENAME, MOVE, COPY, ...) as ready.
        let ready = matches!(value, Value::List(_) | Value::ZSet(_) | Value::Stream(_));
        self.dbs[db].insert(key, Entry::new(value, now));
        self.signal_watchers(db, key);
        if ready {
            self.signal_ready(db, key);
        }
    }

    /// Deletes `key`; returns whether it existed. Signals the write.
    pub(crate) fn delete(&mut self, db: usize, key: &[u8], now: u64) -> bool {
        if !self.exists(db, key, now) {
            return false;
        }
        self.dbs[db].remove(key);
        self.signal_watchers(db, &Bytes::copy_from_slice(key));
        true
    }

    /// Redis's `signalModifiedKey`: every write to a key calls this (after
    /// the change), so that clients WATCHing it fail their EXEC. It also
    /// re-measures the key's share of `used_memory` (see `crate::store::mem`),
    /// which is how in-place writes keep the accounting current.
    pub(crate) fn signal_modified(&mut self, db: usize, key: &Bytes) {
        self.dbs[db].reaccount(key);
        self.signal_watchers(db, key);
    }

    /// The WATCH half of [`State::signal_modified`], for callers that kept
    /// the memory accounting themselves (insert, delete, expiry, eviction).
    pub(crate) fn signal_watchers(&mut self, db: usize, key: &Bytes) {
        // XREADGROUP clients answer a deleted or overwritten stream key.
        if self.blocking.wakes_on_delete(db, key) {
            self.signal_ready(db, key);
        }
        if self.watchers.is_empty() {
            return;
        }
        if let Some(ws) = self.watchers.get_mut(&(db, key.clone())) {
            let gone = self.dbs[db].raw_get(key).is_none();
            for w in ws.iter_mut() {
                if w.expired && gone {
                    // A key already expired when WATCHed was reclaimed: no logical change.
                    *w = Watcher { client: w.client, existed: false, expired: false };
                } else {
                    self.dirty_clients.insert(w.client);
                }
            }
        }
    }

    /// FLUSHDB (`Some(db)`) / FLUSHALL (`None`): marks dirty the clients
    /// WATCHing a key that was in an emptied db. Works whether it is called
    /// before or after the db is emptied. SWAPDB uses [`State::signal_swapped`].
    pub(crate) fn signal_flushed(&mut self, db: Option<usize>) {
        let mut dirty = Vec::new();
        for ((d, key), ws) in self.watchers.iter_mut() {
            if db.is_some_and(|db| *d != db) {
                continue;
            }
            let present = self.dbs[*d].raw_get(key).is_some();
            for w in ws.iter_mut() {
                if w.expired {
                    // Emptying a db that held only a stale copy changes nothing.
                    *w = Watcher { client: w.client, existed: false, expired: false };
                } else if w.existed || present {
                    dirty.push(w.client);
                }
            }
        }
        self.dirty_clients.extend(dirty);
    }

    /// SWAPDB a b, called after the swap: a WATCHed key is touched if it was
    /// in its db before or is there now (unless only stale copies are involved).
    pub(crate) fn signal_swapped(&mut self, a: usize, b: usize, now: u64) {
        let mut dirty = Vec::new();
        for ((d, key), ws) in self.watchers.iter_mut() {
            if *d != a && *d != b {
                continue;
            }
            let entry = self.dbs[*d].raw_get(key);
            let present = entry.is_some();
            let stale = entry.is_some_and(|e| e.expire_at.is_some_and(|at| at <= now));
            for w in ws.iter_mut() {
                if w.expired || (!w.existed && stale) {
                    // Stale before and stale (or absent) after: no logical change.
                    *w = Watcher { client: w.client, existed: present, expired: stale };
                    if present && !stale {
                        dirty.push(w.client);
                    }
                } else if w.existed || present {
                    dirty.push(w.client);
                }
            }
        }
        self.dirty_clients.extend(dirty);
    }

    /// WATCH: starts watching `key` in `db` for `client` (no-op if it already does).
    pub(crate) fn watch(&mut self, client: u64, db: usize, key: &Bytes, now: u64) {
        let entry = self.dbs[db].raw_get(key);
        let existed = entry.is_some();
        let expired = entry.is_some_and(|e| e.expire_at.is_some_and(|at| at <= now));
        let ws = self.watchers.entry((db, key.clone())).or_default();
        if !ws.iter().any(|w| w.client == client) {
            ws.push(Watcher { client, existed, expired });
        }
    }

    /// UNWATCH (also EXEC, DISCARD, RESET, disconnect): forgets every key
    /// `client` watches and whether one was touched.
    pub(crate) fn unwatch_all(&mut self, client: u64) {
        self.dirty_clients.remove(&client);
        if self.watchers.is_empty() {
            return;
        }
        self.watchers.retain(|_, ws| {
            ws.retain(|w| w.client != client);
            !ws.is_empty()
        });
    }

    /// Whether EXEC must fail for `client`: a WATCHed key was touched, or
    /// expired since WATCH (even if not reclaimed yet).
    pub(crate) fn watch_failed(&self, client: u64, now: u64) -> bool {
        if self.dirty_clients.contains(&client) {
            return true;
        }
        self.watchers.iter().any(|((db, key), ws)| {
            ws.iter().any(|w| {
                w.client == client
                    && !w.expired
                    && self.dbs[*db].raw_get(key).is_some_and(|e| e.expire_at.is_some_and(|at| at <= now))
            })
        })
    }

    /// Redis's `signalKeyAsReady`: a list/zset key got elements; blocked clients may proceed.
    /// Only keys someone waits on are queued, once each until served, so
    /// pushes with nobody blocked cost nothing and the queue stays bounded.
    pub(crate) fn signal_ready(&mut self, db: usize, key: &Bytes) {
        if !self.blocking.has_waiters(db, key) || self.ready_keys.iter().any(|(d, k)| *d == db && k == key) {
            return;
        }
        self.ready_keys.push((db, key.clone()));
    }

    /// Closes the clients idle for more than `timeout` seconds at `now_ms`
    /// (none when it is 0), as Redis's client cron does: blocked and
    /// subscribed clients are never idle. Returns how many it closed.
    pub(crate) fn close_idle_clients(&mut self, now_ms: u64) -> usize {
        let timeout = self.config.idle_timeout();
        if timeout == 0 {
            return 0;
        }
        let now_s = now_ms / 1000;
        let mut n = 0;
        for c in self.clients.values_mut() {
            let idle = now_s.saturating_sub(c.last_interaction_ms / 1000);
            if idle > timeout && !c.killed && c.sub + c.psub + c.ssub == 0 && !self.blocking.is_blocked(c.id) {
                tracing::debug!(client = c.id, idle, "closing idle client");
                c.kill();
                n += 1;
            }
        }
        n
    }

    /// Queues a keyspace notification if `notify-keyspace-events` enables it.
    pub(crate) fn notify(&mut self, db: usize, class: char, event: &'static str, key: &Bytes) {
        if self.config.notify_flags.is_empty() {
            return;
        }
        self.events.push(KeyEvent { db, class, event, key: key.clone() });
    }
}

/// State plus the signals the connection tasks and the handle wait on.
pub(crate) struct Shared {
    state: Mutex<State>,
    pub clock: Clock,
    /// Open client sockets and the stop signal (`crate::host`).
    pub sockets: crate::host::Sockets,
    /// Fault rules (own lock, never held across an injected delay; see `crate::fault`).
    pub faults: Arc<crate::fault::Hub>,
    /// Client socket traffic (the same counters as [`State::net`]).
    pub net: Arc<NetCounters>,
    /// The running script, read by connections without the lock (the same as [`State::busy`]).
    pub busy: Arc<crate::engine::busy::Busy>,
}

impl Shared {
    pub(crate) fn new(mut state: State, clock: Clock) -> Arc<Shared> {
        state.pubsub.set_clock(clock.clone());
        let faults = state.faults.clone();
        let net = state.net.clone();
        let busy = state.busy.clone();
        let shared = Arc::new(Shared {
            faults,
            net,
            busy,
            state: Mutex::new(state),
            clock,
            sockets: crate::host::Sockets::default(),
        });
        shared.busy.bind(&shared);
        shared
    }

    /// Locks the state. A panic while it was held (a bug in a command) must
    /// not take every later test assertion down with it, so poisoning is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
