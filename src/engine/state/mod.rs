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
use crate::store::Db;

mod keyspace;
mod settings;
mod watch;

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
    /// The databases: read through [`State::db`], written only through the
    /// keyspace operations (`keyspace.rs`), which keep WATCH, ready keys and
    /// memory accounting.
    dbs: Vec<Db>,
    /// The client table, one record per connection ([`ClientInfo`]): what
    /// other connections read of a client. Changed through the client
    /// operations below and [`super::command::Ctx`]'s.
    clients: BTreeMap<u64, ClientInfo>,
    next_client_id: u64,
    /// Read through [`State::config`]; changed by CONFIG SET, the ACL
    /// commands and requirepass through the operations in `settings.rs`.
    config: Config,
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

    /// Whether a key was signalled ready since [`State::take_ready_keys`] last ran.
    #[inline]
    pub(crate) fn has_ready_keys(&self) -> bool {
        !self.ready_keys.is_empty()
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

    /// Admits a new connection: `None` when the server already has
    /// `maxclients` clients (counted in `rejected_connections`), else the
    /// id it gets, with its record `make` builds for that id entered in the
    /// client table (counted in `total_connections`).
    pub(crate) fn admit_client(&mut self, make: impl FnOnce(u64) -> ClientInfo) -> Option<u64> {
        if self.clients.len() as u64 >= self.config.maxclients() {
            self.stats.rejected_connections += 1;
            return None;
        }
        let id = self.next_client_id;
        self.next_client_id += 1;
        self.stats.total_connections += 1;
        self.clients.insert(id, make(id));
        Some(id)
    }

    /// Forgets everything the server keeps of client `id` once its
    /// connection is gone: its record, blocked-client queues, WATCHed keys
    /// and subscriptions.
    pub(crate) fn forget_client(&mut self, id: u64) {
        self.clients.remove(&id);
        super::blocking::remove_client(self, id);
        self.unwatch_all(id);
        self.pubsub.detach(id);
    }

    /// Client `id`'s record, if it is connected.
    pub(crate) fn client(&self, id: u64) -> Option<&ClientInfo> {
        self.clients.get(&id)
    }

    /// Client `id`'s record for CLIENT SETNAME, SETINFO, NO-EVICT, ... (the
    /// fields other operations keep, such as its db and user, are not
    /// writable through it: see [`ClientInfo`]).
    pub(crate) fn client_mut(&mut self, id: u64) -> Option<&mut ClientInfo> {
        self.clients.get_mut(&id)
    }

    /// Every connected client, by id.
    pub(crate) fn clients(&self) -> impl Iterator<Item = &ClientInfo> {
        self.clients.values()
    }

    /// How many clients are connected (INFO's `connected_clients`).
    pub(crate) fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// Closes every client `which` selects (CLIENT KILL, HARNESS KILL-ALL,
    /// ACL changes, idle timeouts) that is not closing already; returns how many.
    pub(crate) fn kill_clients(&mut self, mut which: impl FnMut(&ClientInfo) -> bool) -> usize {
        let mut n = 0;
        for c in self.clients.values_mut().filter(|c| !c.is_killed() && which(c)) {
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
            if idle > timeout && !c.is_killed() && c.sub + c.psub + c.ssub == 0 && !self.blocking.is_blocked(c.id) {
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
