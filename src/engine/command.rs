//! What a command is to the engine: its static description ([`CommandSpec`]),
//! the table the engine dispatches from ([`CommandTable`]), the context a
//! handler runs in ([`Ctx`]: the locked [`State`] and this client's
//! [`ConnState`]) and the effects it asks of its connection ([`Effects`]).

use std::time::Duration;

use bytes::Bytes;

use super::state::State;
use crate::protocol::Reply;

/// A command handler.
pub(crate) type Handler = fn(&mut Ctx<'_>, &[Bytes]) -> Reply;

/// A command's static description: what COMMAND INFO reports, and its handler.
#[derive(Debug)]
pub(crate) struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: `n` exactly n arguments (name included), `-n` at least n.
    pub arity: i32,
    /// Redis command flags (`write`, `readonly`, `fast`, `noscript`, ...).
    pub flags: &'static [&'static str],
    /// First key position, last key position (-1 = last arg), step.
    pub keys: (i32, i32, i32),
    /// ACL categories without the `@` (`string`, `keyspace`, `slow`, ...).
    pub acl: &'static [&'static str],
    pub handler: Handler,
    /// Subcommands (CLIENT, CONFIG, ...); the handler of a container is not called.
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    /// Whether the command has flag `f`.
    pub(crate) fn has_flag(&self, f: &str) -> bool {
        self.flags.contains(&f)
    }

    pub(crate) fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity;
        (a > 0 && argc as i32 == a) || (a < 0 && argc as i32 >= -a)
    }
}

/// The command table the engine dispatches from: the command layer builds it
/// (its `table`) and hands it to [`State::new`], so the engine never
/// imports a handler.
pub(crate) struct CommandTable {
    by_name: crate::store::FastMap<&'static str, &'static CommandSpec>,
    /// HARNESS, dispatched only while the admin namespace is on.
    admin: &'static CommandSpec,
}

impl std::fmt::Debug for CommandTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandTable").field("commands", &self.by_name.len()).finish()
    }
}

impl CommandTable {
    /// A table of every command in `groups`, plus the admin command.
    pub(crate) fn new<'g>(
        groups: impl IntoIterator<Item = &'g &'static [CommandSpec]>,
        admin: &'static CommandSpec,
    ) -> CommandTable {
        let by_name = groups.into_iter().flat_map(|g| g.iter()).map(|c| (c.name, c)).collect();
        CommandTable { by_name, admin }
    }

    /// Looks a top-level command up by name, case-insensitively.
    pub(crate) fn lookup(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        let mut buf = [0u8; 32];
        if name.len() > buf.len() {
            return None;
        }
        let lower = &mut buf[..name.len()];
        lower.copy_from_slice(name);
        lower.make_ascii_lowercase();
        let s = std::str::from_utf8(lower).ok()?;
        self.by_name.get(s).copied()
    }

    /// The command `args` names, subcommand resolved (None if either is unknown).
    pub(crate) fn resolve(&self, args: &[Bytes]) -> Option<&'static CommandSpec> {
        let spec = self.lookup(args.first()?)?;
        match (spec.subcommands.is_empty(), args.get(1)) {
            (false, Some(sub)) => lookup_sub(spec, sub),
            _ => Some(spec),
        }
    }

    /// Every top-level command (in no particular order).
    pub(crate) fn values(&self) -> impl Iterator<Item = &'static CommandSpec> + '_ {
        self.by_name.values().copied()
    }

    /// The HARNESS admin command's spec.
    pub(crate) fn admin(&self) -> &'static CommandSpec {
        self.admin
    }
}

/// Finds the subcommand spec of a container command.
pub(crate) fn lookup_sub(spec: &'static CommandSpec, name: &[u8]) -> Option<&'static CommandSpec> {
    let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
    spec.subcommands.iter().find(|s| s.name.rsplit('|').next() == Some(lower.as_str()))
}

/// Side effects a handler asks of the connection, applied after it returns.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    /// Close the connection after writing the reply (QUIT, protocol errors).
    pub close: bool,
    /// Wait this long before writing the reply (DEBUG SLEEP; blocks this connection only).
    pub sleep: Option<Duration>,
    /// Block this connection until one of the keys is ready (BLPOP, BZPOPMIN, ...).
    /// The handler returns `Reply::None`; the connection re-runs the same
    /// command when a key it waits on is signalled ready (`State::signal_ready`),
    /// clients being served in the order they blocked, and writes
    /// `on_timeout` if the timeout passes first.
    pub block: Option<BlockSpec>,
}

/// What a blocking command waits for.
#[derive(Debug, Clone)]
pub(crate) struct BlockSpec {
    /// Database of the keys.
    pub db: usize,
    /// Keys to wait on.
    pub keys: Vec<Bytes>,
    /// `None` blocks forever (a timeout of 0).
    pub timeout: Option<Duration>,
    /// Reply sent when the timeout passes (a null array for BLPOP, for example).
    pub on_timeout: Reply,
    /// The arguments to re-run when a key is ready, if not the ones received
    /// (XREAD replaces `$` by the ID it stood for when the client blocked).
    pub rerun: Option<Vec<Bytes>>,
    /// Re-run also when a waited key is deleted or overwritten, so the
    /// command can answer with an error (XREADGROUP, as Redis 7.0 does).
    pub on_delete: bool,
    /// The command to re-run when a key is ready; the engine fills it in
    /// ([`crate::engine::exec::run_checked`]), so handlers leave it `None`.
    pub command: Option<&'static CommandSpec>,
}

/// A client executing commands: the connection's own state, or that of a
/// client the server runs commands for (a script's client, a blocked
/// command's re-run, the test handle), as Redis has a `client` for each.
///
/// Only the connection's own state is *published*: its db, protocol and
/// user are what the client table's record
/// ([`ClientInfo`](super::clients::ClientInfo)) says of it, and both change
/// together, through [`Ctx::select_db`], [`Ctx::set_protocol`] and
/// [`Ctx::set_user`] (the fields are private to the engine). A script's
/// client starts from its caller's db and user, but a SELECT inside the
/// script changes neither the caller's db nor its record, as in Redis 7.0.
#[derive(Debug)]
pub(crate) struct ConnState {
    pub id: u64,
    /// The protocol replies are encoded in: 2 or 3.
    pub(super) resp: u8,
    pub(super) db: usize,
    pub authenticated: bool,
    pub(super) user: Bytes,
    /// Whether the client table's record publishes this state (see above).
    published: bool,
    pub effects: Effects,
    /// True while EXEC runs this connection's queued commands: blocking
    /// commands must then reply at once instead of blocking, as in Redis.
    pub in_exec: bool,
    /// CLIENT REPLY state ([`REPLY_ON`], ...; see [`filter_reply`]).
    pub reply_mode: u8,
    /// Set while a blocked command is re-run because this key became ready.
    /// Redis 7.0 serves a blocked client from the ready key only (not from
    /// its first non-empty key), and leaves it blocked if that key holds
    /// another type; handlers consult it through `blocking::candidate_keys`.
    pub serving_key: Option<Bytes>,
    /// True while a script's `redis.call` runs (XREAD refuses BLOCK there).
    pub in_script: bool,
    /// Whether the client can wait for a blocking command's reply (a socket
    /// can; [`crate::FakeRedis::run`]'s client cannot and gets the timeout
    /// reply at once).
    pub can_wait: bool,
    /// The open transaction (between MULTI and EXEC/DISCARD), if any.
    pub multi: Option<super::multi::Multi>,
    /// Pub/sub messages and keyspace notifications for this connection
    /// (`None` for the test handle's socketless client).
    pub pushes: Option<super::pubsub::PushReceiver>,
}

impl ConnState {
    pub(crate) fn new(id: u64, authenticated: bool) -> ConnState {
        ConnState {
            id,
            resp: 2,
            db: 0,
            authenticated,
            user: Bytes::from_static(b"default"),
            published: true,
            effects: Effects::default(),
            in_exec: false,
            reply_mode: REPLY_ON,
            serving_key: None,
            can_wait: false,
            in_script: false,
            multi: None,
            pushes: None,
        }
    }

    /// The client a script runs its `redis.call`s as (Redis's script
    /// client): the caller's id, db and user, RESP2 (each call then in the
    /// protocol `redis.setresp` chose), never blocking, and unpublished.
    pub(crate) fn script_client(caller: &ConnState) -> ConnState {
        let mut c = ConnState::new(caller.id, caller.authenticated);
        c.db = caller.db;
        c.user = caller.user.clone();
        c.in_exec = true;
        c.in_script = true;
        c.published = false;
        c
    }

    /// The client a blocked command of client `id` is re-run as when a key
    /// it waits on is ready: the db, protocol and user it blocked with.
    pub(crate) fn rerun(id: u64, db: usize, resp: u8, user: Bytes) -> ConnState {
        let mut c = ConnState::new(id, true);
        c.db = db;
        c.resp = resp;
        c.user = user;
        c.published = false;
        c
    }

    /// The test handle's socketless client (`FakeRedis::run`): id 0, which
    /// no socket gets, RESP3, database `db`.
    pub(crate) fn handle(db: usize) -> ConnState {
        let mut c = ConnState::new(0, true);
        c.db = db;
        c.resp = 3;
        c.published = false;
        c
    }

    /// The protocol replies are encoded in (2 or 3).
    pub(crate) fn resp(&self) -> u8 {
        self.resp
    }

    /// The user commands run as.
    pub(crate) fn user(&self) -> &Bytes {
        &self.user
    }
}

/// What a handler works with.
pub(crate) struct Ctx<'a> {
    pub st: &'a mut State,
    pub conn: &'a mut ConnState,
    /// Time of this command in unix ms (Redis caches it per command too).
    pub now: u64,
    /// The server's clock (TIME, and the clock the handle can pause).
    pub clock: &'a super::clock::Clock,
}

impl Ctx<'_> {
    /// The selected database index.
    pub(crate) fn db(&self) -> usize {
        self.conn.db
    }

    /// The protocol this command's reply is encoded in (2 or 3).
    pub(crate) fn resp(&self) -> u8 {
        self.conn.resp
    }

    /// The client-table record this client's state is published in, if it is.
    fn record(&mut self) -> Option<&mut super::clients::ClientInfo> {
        if self.conn.published {
            self.st.client_mut(self.conn.id)
        } else {
            None
        }
    }

    /// SELECT: this client's database, here and in its client-table record.
    pub(crate) fn select_db(&mut self, db: usize) {
        self.conn.db = db;
        if let Some(c) = self.record() {
            c.db = db;
        }
    }

    /// HELLO / RESET: this client's protocol (2 or 3), here and in its record.
    pub(crate) fn set_protocol(&mut self, resp: u8) {
        self.conn.resp = resp;
        if let Some(c) = self.record() {
            c.resp = resp;
        }
    }

    /// AUTH / HELLO AUTH / RESET: the user this client runs as, here and in its record.
    pub(crate) fn set_user(&mut self, user: Bytes) {
        if let Some(c) = self.record() {
            c.user = user.clone();
        }
        self.conn.user = user;
    }

    /// Runs `body` with replies in protocol `resp`, the record untouched: a
    /// script's `redis.call` answers in the protocol `redis.setresp` chose.
    pub(crate) fn with_protocol<R>(&mut self, resp: u8, body: impl FnOnce(&mut Ctx<'_>) -> R) -> R {
        let saved = std::mem::replace(&mut self.conn.resp, resp);
        let out = body(self);
        self.conn.resp = saved;
        out
    }

    /// Runs `body` as a script's client ([`ConnState::script_client`] of
    /// this one), which is dropped after: nothing the script's commands do
    /// to their client (SELECT, say) reaches the caller.
    pub(crate) fn as_script_client<R>(&mut self, body: impl FnOnce(&mut Ctx<'_>) -> R) -> R {
        let mut client = ConnState::script_client(self.conn);
        body(&mut Ctx { st: &mut *self.st, conn: &mut client, now: self.now, clock: self.clock })
    }

    /// Closes client `id`: this connection after its reply (CLIENT KILL of
    /// itself), any other at once.
    pub(crate) fn kill_client(&mut self, id: u64) {
        if id == self.conn.id {
            self.conn.effects.close = true;
        } else if let Some(c) = self.st.client_mut(id) {
            c.kill();
        }
    }
}

/// CLIENT REPLY ON (the default).
pub(crate) const REPLY_ON: u8 = 0;
/// CLIENT REPLY OFF.
pub(crate) const REPLY_OFF: u8 = 1;
/// Set by CLIENT REPLY SKIP; becomes [`REPLY_SKIP`] once SKIP itself is done.
pub(crate) const REPLY_SKIP_NEXT: u8 = 2;
/// The next command's reply is skipped.
pub(crate) const REPLY_SKIP: u8 = 3;

/// Applies CLIENT REPLY to a command's reply (the engine does, after every command).
pub(crate) fn filter_reply(conn: &mut ConnState, reply: Reply) -> Reply {
    match conn.reply_mode {
        REPLY_OFF => Reply::None,
        REPLY_SKIP_NEXT => {
            conn.reply_mode = REPLY_SKIP;
            Reply::None
        }
        REPLY_SKIP => {
            conn.reply_mode = REPLY_ON;
            Reply::None
        }
        _ => reply,
    }
}

/// Builds a [`CommandSpec`] without subcommands (keeps the tables short).
pub(crate) const fn cmd(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    keys: (i32, i32, i32),
    acl: &'static [&'static str],
    handler: Handler,
) -> CommandSpec {
    CommandSpec { name, arity, flags, keys, acl, handler, subcommands: &[] }
}

/// A container command (MEMORY, SCRIPT, ...) as Redis declares one: arity
/// -2, no flags or keys, `@slow`; `handler` answers a missing or unknown
/// subcommand.
pub(crate) const fn container_cmd(
    name: &'static str,
    handler: Handler,
    subcommands: &'static [CommandSpec],
) -> CommandSpec {
    CommandSpec { name, arity: -2, flags: &[], keys: (0, 0, 0), acl: &["slow"], handler, subcommands }
}
