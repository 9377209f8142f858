//! The client table's records: what other connections (CLIENT LIST, INFO,
//! the ACL LOG, CLIENT KILL) read of a client, and its CLIENT LIST line.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::Notify;

use super::state::State;

/// A connection's entry in the client table: the one record of what other
/// connections (CLIENT LIST / INFO / KILL, the ACL LOG) read of a client.
///
/// Its db, protocol and user change only through the engine's operations
/// that also update the executing connection's copy
/// ([`Ctx::select_db`](super::command::Ctx::select_db),
/// [`Ctx::set_protocol`](super::command::Ctx::set_protocol),
/// [`Ctx::set_user`](super::command::Ctx::set_user)), and `killed` only
/// through [`ClientInfo::kill`]: those fields are private to the engine.
#[derive(Debug)]
pub(crate) struct ClientInfo {
    pub id: u64,
    pub peer: String,
    pub local: String,
    pub name: Bytes,
    pub lib_name: Bytes,
    pub lib_ver: Bytes,
    pub(super) db: usize,
    pub(super) resp: u8,
    pub(super) user: Bytes,
    pub created: Instant,
    pub last_interaction: Instant,
    /// `last_interaction` on the server's clock (unix ms), for `timeout`:
    /// a paused clock lets a test age idle clients without sleeping.
    pub last_interaction_ms: u64,
    pub last_cmd: &'static str,
    pub no_evict: bool,
    pub no_touch: bool,
    /// Set by [`ClientInfo::kill`]: the connection is closing (it no longer
    /// counts as idle, and CLIENT KILL does not kill it twice).
    killed: bool,
    pub kill: Arc<Notify>,
    /// Subscription counts for CLIENT LIST (kept by the pub/sub code).
    pub sub: usize,
    pub psub: usize,
    pub ssub: usize,
    pub multi: i64,
    /// Whether the connection is a unix socket.
    pub unix: bool,
    /// The socket's file descriptor, as Redis reports it in CLIENT LIST.
    pub fd: i64,
}

impl ClientInfo {
    /// The record of a new connection `id` from `peer` to `local` (db 0,
    /// RESP2, user `default`, no name), created at `now` (`now_ms` on the
    /// server's clock), closed when `kill` is notified.
    pub(crate) fn new(
        id: u64,
        peer: String,
        local: String,
        kill: Arc<Notify>,
        now: Instant,
        now_ms: u64,
    ) -> ClientInfo {
        ClientInfo {
            id,
            peer,
            local,
            name: Bytes::new(),
            lib_name: Bytes::new(),
            lib_ver: Bytes::new(),
            db: 0,
            resp: 2,
            user: Bytes::from_static(b"default"),
            created: now,
            last_interaction: now,
            last_interaction_ms: now_ms,
            last_cmd: "NULL",
            no_evict: false,
            no_touch: false,
            killed: false,
            kill,
            sub: 0,
            psub: 0,
            ssub: 0,
            multi: -1,
            unix: false,
            fd: -1,
        }
    }

    /// The database the client has selected.
    pub(crate) fn db(&self) -> usize {
        self.db
    }

    /// The protocol the client speaks (2 or 3).
    pub(crate) fn resp(&self) -> u8 {
        self.resp
    }

    /// The user the client is authenticated as.
    pub(crate) fn user(&self) -> &Bytes {
        &self.user
    }

    /// Whether [`ClientInfo::kill`] was called: the connection is closing.
    pub(crate) fn is_killed(&self) -> bool {
        self.killed
    }

    /// Makes the connection close itself: at once if it is waiting, after
    /// the command it runs otherwise (the notification stores a permit).
    pub(crate) fn kill(&mut self) {
        self.killed = true;
        self.kill.notify_one();
    }
}

/// Redis's reply blocks hold 16 KiB (PROTO_REPLY_CHUNK_BYTES): `oll` counts them.
const REPLY_BLOCK: usize = 16 * 1024;
/// What CLIENT LIST reports as `tot-mem` for a client with nothing queued.
const BASE_TOT_MEM: usize = 22272;

/// One CLIENT LIST / CLIENT INFO line, with Redis 7.0's fields in its order.
/// `omem` and `oll` describe the client's queued pushes (its replies are
/// written as soon as they are made), and `tot-mem` includes them.
pub(crate) fn line(c: &ClientInfo, now: Instant, blocked: bool, omem: usize) -> String {
    let oll = omem.div_ceil(REPLY_BLOCK);
    let mut flags = String::new();
    if blocked {
        flags.push('b');
    }
    if c.sub + c.psub + c.ssub > 0 {
        flags.push('P');
    }
    if c.multi >= 0 {
        flags.push('x');
    }
    if c.unix {
        flags.push('U');
    }
    if c.no_evict {
        flags.push('e');
    }
    if c.no_touch {
        flags.push('T');
    }
    if flags.is_empty() {
        flags.push('N');
    }
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} \
         qbuf=0 qbuf-free=20474 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll={} omem={} tot-mem={} \
         events=r cmd={} user={} redir=-1 resp={}\n",
        c.id,
        c.peer,
        c.local,
        c.fd,
        String::from_utf8_lossy(&c.name),
        now.duration_since(c.created).as_secs(),
        now.duration_since(c.last_interaction).as_secs(),
        flags,
        c.db,
        c.sub,
        c.psub,
        c.ssub,
        c.multi,
        oll,
        omem,
        BASE_TOT_MEM + omem,
        c.last_cmd,
        String::from_utf8_lossy(&c.user),
        c.resp
    )
}

/// What CLIENT INFO says of client `id` (newline included; empty when it is gone).
pub(crate) fn info_line(st: &State, id: u64) -> String {
    st.client(id)
        .map(|c| line(c, Instant::now(), st.blocking.is_blocked(c.id), st.pubsub.output(c.id)))
        .unwrap_or_default()
}
