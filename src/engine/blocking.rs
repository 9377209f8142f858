//! Blocking commands (BLPOP, BLMOVE, BZPOPMIN, ...): who waits on which key,
//! in which order, and how a waiting client is served, timed out or unblocked.
//!
//! A handler that finds nothing to pop sets `ctx.conn.effects.block` and
//! returns `Reply::None`; the connection then registers itself here with
//! [`block`] and awaits the [`Waiter`] it gets back. Writes signal keys as
//! ready (`State::signal_ready`); right after each command, still under the
//! state lock, [`serve_ready`] re-runs the blocked commands of the clients
//! waiting on those keys, oldest first, and hands each reply to the waiting
//! connection through a oneshot channel. Serving inside the lock of the
//! command that pushed is what makes it atomic, as in Redis: no other
//! client's command can take the element between the push and the serve.
//!
//! Whatever ends a block (served, timeout, CLIENT UNBLOCK, disconnect, kill,
//! shutdown) goes through [`Blocking::remove`], which clears the client from
//! every queue it was in.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{oneshot, watch};

use super::clock::Clock;
use super::command::{BlockSpec, CommandSpec, ConnState, Ctx};
use super::state::State;
use crate::protocol::Reply;

/// One blocked client.
struct Blocked {
    db: usize,
    /// Distinct keys it waits on (one queue entry each).
    keys: Vec<Bytes>,
    /// The command to re-run when a key is ready.
    args: Arc<[Bytes]>,
    command: &'static CommandSpec,
    resp: u8,
    user: Bytes,
    on_timeout: Reply,
    /// Re-run when a waited key is deleted or overwritten (XREADGROUP).
    on_delete: bool,
    wake: oneshot::Sender<Reply>,
}

/// The blocked clients and, per (db, key), the FIFO of clients waiting on it.
pub(crate) struct Blocking {
    queues: HashMap<(usize, Bytes), VecDeque<u64>>,
    clients: HashMap<u64, Blocked>,
    /// Number of blocked clients, for waits that must not poll.
    count: watch::Sender<usize>,
    /// Number of blocked clients that want to hear of deletions (`on_delete`).
    on_delete: usize,
}

impl Default for Blocking {
    fn default() -> Self {
        Blocking { queues: HashMap::new(), clients: HashMap::new(), count: watch::channel(0).0, on_delete: 0 }
    }
}

impl Blocking {
    /// Number of blocked clients (INFO's `blocked_clients`).
    pub(crate) fn len(&self) -> usize {
        self.clients.len()
    }

    /// Number of keys at least one client waits on (Redis 7.2's `total_blocking_keys`).
    pub(crate) fn keys_len(&self) -> usize {
        self.queues.len()
    }

    /// Whether client `id` is blocked (CLIENT LIST flag `b`).
    /// The id of some blocked client (unit tests).
    #[cfg(test)]
    pub(crate) fn any_blocked(&self) -> Option<u64> {
        self.clients.keys().next().copied()
    }

    pub(crate) fn is_blocked(&self, id: u64) -> bool {
        self.clients.contains_key(&id)
    }

    /// Whether some client waits on `key` (signalling it ready is then useful).
    pub(crate) fn has_waiters(&self, db: usize, key: &Bytes) -> bool {
        !self.queues.is_empty() && self.queues.contains_key(&(db, key.clone()))
    }

    /// Whether a client blocked on `key` must be re-run when the key is
    /// deleted or overwritten (XREADGROUP answers with an error then).
    #[inline]
    pub(crate) fn wakes_on_delete(&self, db: usize, key: &Bytes) -> bool {
        self.on_delete != 0
            && self
                .queues
                .get(&(db, key.clone()))
                .is_some_and(|q| q.iter().any(|id| self.clients.get(id).is_some_and(|b| b.on_delete)))
    }

    /// Follows the number of blocked clients.
    pub(crate) fn subscribe(&self) -> watch::Receiver<usize> {
        self.count.subscribe()
    }

    fn publish(&self) {
        let n = self.clients.len();
        self.count.send_if_modified(|c| std::mem::replace(c, n) != n);
    }

    /// Unregisters a client from every queue; returns its entry if it was blocked.
    fn remove(&mut self, id: u64) -> Option<Blocked> {
        let b = self.clients.remove(&id)?;
        if b.on_delete {
            self.on_delete -= 1;
        }
        for k in &b.keys {
            let qk = (b.db, k.clone());
            if let Some(q) = self.queues.get_mut(&qk) {
                q.retain(|c| *c != id);
                if q.is_empty() {
                    self.queues.remove(&qk);
                }
            }
        }
        self.publish();
        Some(b)
    }
}

/// What a blocked connection awaits.
#[derive(Debug)]
pub(crate) struct Waiter {
    /// Receives the reply once the client is served or unblocked.
    pub rx: oneshot::Receiver<Reply>,
    /// When the timeout reply is due; `None` waits forever.
    pub deadline: Option<tokio::time::Instant>,
}

/// Registers the connection as blocked on `spec.keys`, behind every client
/// already waiting on them. Call it under the same lock as the command that
/// blocked, so that no push can slip in between.
///
/// Only a top-level command can be re-run; anything else gets its timeout
/// reply at once (`Err`) rather than leaving the client without a reply.
pub(crate) fn block(st: &mut State, conn: &ConnState, args: &[Bytes], spec: BlockSpec) -> Result<Waiter, Reply> {
    let Some(command) = spec.command else { return Err(spec.on_timeout) };
    let args: Arc<[Bytes]> = match spec.rerun {
        Some(rerun) => rerun.into(),
        None => args.into(),
    };
    st.blocking.remove(conn.id);
    if spec.on_delete {
        st.blocking.on_delete += 1;
    }
    let mut seen = HashSet::new();
    let keys: Vec<Bytes> = spec.keys.into_iter().filter(|k| seen.insert(k.clone())).collect();
    for k in &keys {
        st.blocking.queues.entry((spec.db, k.clone())).or_default().push_back(conn.id);
    }
    let (wake, rx) = oneshot::channel();
    st.blocking.clients.insert(
        conn.id,
        Blocked {
            db: spec.db,
            keys,
            args,
            command,
            resp: conn.resp,
            user: conn.user.clone(),
            on_timeout: spec.on_timeout,
            on_delete: spec.on_delete,
            wake,
        },
    );
    st.blocking.publish();
    let deadline = spec.timeout.and_then(|d| tokio::time::Instant::now().checked_add(d));
    Ok(Waiter { rx, deadline })
}

/// Serves the clients blocked on every key signalled ready, until no key is
/// left (serving BLMOVE pushes to its destination, which may serve others).
///
/// It ends: a key is only queued while someone waits on it, and a round
/// that queues new keys has unblocked at least one client.
pub(crate) fn serve_ready(st: &mut State, clock: &Clock) {
    if !st.has_ready_keys() {
        return; // the usual case: nobody blocked on what the command touched
    }
    loop {
        let batch = st.take_ready_keys();
        if batch.is_empty() {
            break;
        }
        for (db, key) in batch {
            serve_key(st, clock, db, key);
        }
    }
}

fn serve_key(st: &mut State, clock: &Clock, db: usize, key: Bytes) {
    let ids: Vec<u64> = match st.blocking.queues.get(&(db, key.clone())) {
        Some(q) => q.iter().copied().collect(),
        None => return,
    };
    for id in ids {
        let now = clock.now_ms();
        let exists = st.exists(db, &key, now);
        let Some(b) = st.blocking.clients.get(&id) else { continue };
        // A deleted key serves nobody (they keep their places), but a
        // client waiting to hear of the deletion is re-run to answer it.
        if !exists && !b.on_delete {
            continue;
        }
        let (args, command) = (b.args.clone(), b.command);
        let mut conn = ConnState::rerun(id, db, b.resp, b.user.clone());
        conn.serving_key = Some(key.clone());
        let reply = super::exec::run_checked(&mut Ctx { st, conn: &mut conn, now, clock }, command, &args);
        if conn.effects.block.is_some() || matches!(reply, Reply::None) {
            // Nothing for it after all: it stays blocked, in its place.
            continue;
        }
        if let Some(b) = st.blocking.remove(id) {
            let _ = b.wake.send(reply);
        }
    }
}

/// Signals every key of `db` that blocked clients wait on and that now
/// exists: for commands that change many keys at once (SWAPDB, whose
/// blocked clients stay with their database index as in Redis).
pub(crate) fn signal_waited_keys(st: &mut State, db: usize, now: u64) {
    let keys: Vec<Bytes> = st.blocking.queues.keys().filter(|(d, _)| *d == db).map(|(_, k)| k.clone()).collect();
    for k in keys {
        if st.exists(db, &k, now) {
            st.signal_ready(db, &k);
        }
    }
}

/// The timeout reply for client `id` if it is still blocked (and unblocks
/// it); `None` if a reply was already sent through its waiter.
pub(crate) fn timed_out(st: &mut State, id: u64) -> Option<Reply> {
    st.blocking.remove(id).map(|b| b.on_timeout)
}

/// Unblocks `id` when its connection goes away (disconnect, kill, shutdown).
pub(crate) fn remove_client(st: &mut State, id: u64) {
    st.blocking.remove(id);
}

/// Unblocks `id` with its timeout reply, or with the UNBLOCKED error;
/// returns whether it was blocked (CLIENT UNBLOCK).
pub(crate) fn unblock(st: &mut State, id: u64, error: bool) -> bool {
    let Some(b) = st.blocking.remove(id) else { return false };
    let reply = if error { Reply::error("UNBLOCKED client unblocked via CLIENT UNBLOCK") } else { b.on_timeout };
    let _ = b.wake.send(reply);
    true
}

/// Answers `id`, waiting without keys (a script running on its own
/// thread, see the command layer's `busy` module), with `reply`; false if it no longer waits.
pub(crate) fn answer(st: &mut State, id: u64, reply: Reply) -> bool {
    let Some(b) = st.blocking.remove(id) else { return false };
    b.wake.send(reply).is_ok()
}

/// The keys a blocking command may take from now: all of them on its first
/// run, only the ready key when it is re-run to be served (Redis 7.0 serves
/// a blocked client from the key that became ready).
pub(crate) fn candidate_keys(conn: &ConnState, keys: &[Bytes]) -> Vec<Bytes> {
    match &conn.serving_key {
        Some(k) => vec![k.clone()],
        None => keys.to_vec(),
    }
}

/// Ends a blocking command that found nothing: inside EXEC it replies
/// `in_exec` at once (Redis never blocks a transaction); otherwise it blocks
/// the connection on `keys`.
pub(crate) fn block_on(
    ctx: &mut Ctx<'_>,
    keys: Vec<Bytes>,
    timeout: Option<Duration>,
    on_timeout: Reply,
    in_exec: Reply,
) -> Reply {
    if ctx.conn.in_exec {
        return in_exec;
    }
    ctx.conn.effects.block =
        Some(BlockSpec { db: ctx.db(), keys, timeout, on_timeout, rerun: None, on_delete: false, command: None });
    Reply::None
}
