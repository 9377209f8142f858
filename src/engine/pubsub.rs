//! The pub/sub registry (who is subscribed to what) and push delivery.
//!
//! Every connection owns an unbounded tokio channel of pushes; the registry
//! keeps the sending half. Publishing happens with the state lock held, so
//! a push is queued before the publishing command's reply is written, and a
//! connection drains its queue (under the same lock) before and after each
//! command: a client never sees a message published after one of its
//! replies ahead of that reply, exactly as with Redis's single output buffer.
//!
//! Bounded like Redis's output buffer for pub/sub clients: each queue counts
//! the size of its pending pushes, CLIENT LIST reports it as `omem`,
//! and a client over the `pubsub` class of `client-output-buffer-limit`
//! (32mb hard, 8mb for 60 s soft by default) is closed, as Redis closes it:
//! nothing more is queued for it, and its connection is told to go.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use indexmap::{IndexMap, IndexSet};
use tokio::sync::mpsc;

use super::clock::Clock;
use super::config::{ClientClass, ObufLimit};
use super::state::State;
use crate::protocol::Reply;
use crate::store::glob::glob_match;

/// The three kinds of subscription Redis keeps apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SubscriptionKind {
    /// SUBSCRIBE: an exact channel name.
    Channel,
    /// PSUBSCRIBE: a glob pattern over channel names.
    Pattern,
    /// SSUBSCRIBE: a shard channel (SPUBLISH).
    ShardChannel,
}

/// One subscription of one client, as [`FakeRedis::subscriptions`](crate::FakeRedis::subscriptions) reports it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subscription {
    /// The subscribing client's id (as CLIENT ID reports it).
    pub client_id: u64,
    /// Channel, pattern or shard channel.
    pub kind: SubscriptionKind,
    /// The channel name or pattern.
    pub channel: Bytes,
}

/// What a push queue holds, shared by the registry (which queues) and the
/// connection (which takes): Redis's output buffer, for CLIENT LIST.
#[derive(Debug, Default)]
struct Outbox {
    /// The size of the pushes queued and not yet taken by the connection as encoded (an estimate: RESP2's framing).
    bytes: AtomicUsize,
    /// Unix seconds when the queue was first seen at or over the soft
    /// limit, continuously since (0: it is not).
    soft_since: AtomicU64,
    /// Over its limit: nothing more is queued, the connection is closing.
    closed: AtomicBool,
}

impl Outbox {
    fn take(&self, push: &Reply) {
        self.bytes.fetch_sub(push_size(push), Ordering::AcqRel);
    }

    /// Whether `used` bytes break `limit` now (Redis's rule: the hard limit
    /// at once, the soft one once it has held for more than its seconds).
    fn over(&self, used: u64, limit: ObufLimit, now_s: u64) -> bool {
        if limit.hard != 0 && used >= limit.hard {
            return true;
        }
        if limit.soft == 0 || used < limit.soft {
            self.soft_since.store(0, Ordering::Relaxed);
            return false;
        }
        match self.soft_since.load(Ordering::Relaxed) {
            0 => {
                self.soft_since.store(now_s.max(1), Ordering::Relaxed);
                false
            }
            since => now_s.saturating_sub(since) > limit.soft_seconds,
        }
    }
}

/// The size a push takes once encoded, near enough for the output buffer
/// limits: the payloads plus RESP2's framing.
fn push_size(push: &Reply) -> usize {
    match push {
        Reply::Push(items) | Reply::Array(items) => 16 + items.iter().map(push_size).sum::<usize>(),
        Reply::Bulk(b) | Reply::Status(b) | Reply::Error(b) => b.len() + 16,
        _ => 16,
    }
}

/// The receiving half of a connection's push queue.
#[derive(Debug)]
pub(crate) struct PushReceiver {
    rx: mpsc::UnboundedReceiver<Reply>,
    outbox: Arc<Outbox>,
}

impl PushReceiver {
    /// The next push if one is queued, without waiting.
    pub(crate) fn try_recv(&mut self) -> Option<Reply> {
        let p = self.rx.try_recv().ok()?;
        self.outbox.take(&p);
        Some(p)
    }

    /// Waits for the next push. Never resolves once the sender is gone
    /// (the connection is then being torn down anyway), so a select loop
    /// does not spin on a closed channel.
    pub(crate) async fn recv(&mut self) -> Reply {
        match self.rx.recv().await {
            Some(p) => {
                self.outbox.take(&p);
                p
            }
            None => std::future::pending().await,
        }
    }
}

/// Optional receiver: `None` (the handle's socketless client) never yields.
pub(crate) async fn next_push(rx: &mut Option<PushReceiver>) -> Reply {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// One client's side of the registry.
type Index = IndexMap<Bytes, IndexSet<u64>>;

#[derive(Debug, Default)]
struct ClientSubs {
    tx: Option<mpsc::UnboundedSender<Reply>>,
    outbox: Arc<Outbox>,
    /// The connection's kill switch, pulled when it overruns its output buffer limit.
    kill: Option<Arc<tokio::sync::Notify>>,
    channels: IndexSet<Bytes>,
    patterns: IndexSet<Bytes>,
    shard: IndexSet<Bytes>,
}

impl ClientSubs {
    fn set(&mut self, kind: SubscriptionKind) -> &mut IndexSet<Bytes> {
        match kind {
            SubscriptionKind::Channel => &mut self.channels,
            SubscriptionKind::Pattern => &mut self.patterns,
            SubscriptionKind::ShardChannel => &mut self.shard,
        }
    }

    fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.patterns.is_empty() && self.shard.is_empty()
    }
}

/// Channel/pattern -> subscribers (in subscription order), and the reverse.
///
/// Index maps keep delivery to several matching patterns, and PUBSUB
/// CHANNELS, in a reproducible order (Redis's order is its hash table's).
#[derive(Debug, Default)]
pub(crate) struct PubSub {
    channels: Index,
    patterns: Index,
    shard: Index,
    clients: HashMap<u64, ClientSubs>,
    /// The server's clock, for the soft output buffer limit (`None`: the system's).
    clock: Option<Clock>,
}

impl PubSub {
    fn index(&mut self, kind: SubscriptionKind) -> &mut Index {
        match kind {
            SubscriptionKind::Channel => &mut self.channels,
            SubscriptionKind::Pattern => &mut self.patterns,
            SubscriptionKind::ShardChannel => &mut self.shard,
        }
    }

    fn index_ref(&self, kind: SubscriptionKind) -> &Index {
        match kind {
            SubscriptionKind::Channel => &self.channels,
            SubscriptionKind::Pattern => &self.patterns,
            SubscriptionKind::ShardChannel => &self.shard,
        }
    }

    /// Uses the server's clock (a paused one too) for the soft output buffer limit.
    pub(crate) fn set_clock(&mut self, clock: Clock) {
        self.clock = Some(clock);
    }

    fn now_s(&self) -> u64 {
        match &self.clock {
            Some(c) => c.now_ms() / 1000,
            None => Clock::real().now_ms() / 1000,
        }
    }

    /// Creates a connection's push queue; the connection keeps the receiver.
    /// `kill` is notified if the queue overruns its output buffer limit.
    pub(crate) fn attach(&mut self, client: u64, kill: Arc<tokio::sync::Notify>) -> PushReceiver {
        let (tx, rx) = mpsc::unbounded_channel();
        let outbox = Arc::new(Outbox::default());
        let e = self.clients.entry(client).or_default();
        e.tx = Some(tx);
        e.outbox = outbox.clone();
        e.kill = Some(kill);
        PushReceiver { rx, outbox }
    }

    /// The bytes queued for a client and not yet taken by its connection
    /// (CLIENT LIST's `omem`).
    pub(crate) fn output(&self, client: u64) -> usize {
        self.clients.get(&client).map_or(0, |s| s.outbox.bytes.load(Ordering::Acquire))
    }

    /// The largest queued output of any client (INFO's `client_recent_max_output_buffer`).
    pub(crate) fn max_output(&self) -> usize {
        self.clients.values().map(|s| s.outbox.bytes.load(Ordering::Acquire)).max().unwrap_or(0)
    }

    /// Forgets a client entirely (disconnect): every subscription and its queue.
    pub(crate) fn detach(&mut self, client: u64) {
        let Some(subs) = self.clients.remove(&client) else { return };
        for (kind, names) in [
            (SubscriptionKind::Channel, subs.channels),
            (SubscriptionKind::Pattern, subs.patterns),
            (SubscriptionKind::ShardChannel, subs.shard),
        ] {
            let index = self.index(kind);
            for name in names {
                remove_from_index(index, &name, client);
            }
        }
    }

    /// Subscribes; returns whether it is new.
    pub(crate) fn subscribe(&mut self, client: u64, kind: SubscriptionKind, name: &Bytes) -> bool {
        let subs = self.clients.entry(client).or_default();
        if subs.set(kind).contains(name) {
            return false;
        }
        // Held for as long as the subscription: a copy, not a slice of the read buffer.
        let name = crate::store::keep(name);
        subs.set(kind).insert(name.clone());
        self.index(kind).entry(name).or_default().insert(client);
        true
    }

    /// Unsubscribes; returns whether the client was subscribed.
    pub(crate) fn unsubscribe(&mut self, client: u64, kind: SubscriptionKind, name: &[u8]) -> bool {
        let Some(subs) = self.clients.get_mut(&client) else { return false };
        if !subs.set(kind).shift_remove(name) {
            return false;
        }
        let drop_entry = subs.is_empty() && subs.tx.is_none();
        if drop_entry {
            self.clients.remove(&client);
        }
        remove_from_index(self.index(kind), name, client);
        true
    }

    /// A client's subscriptions of one kind, in subscription order.
    pub(crate) fn names(&self, client: u64, kind: SubscriptionKind) -> Vec<Bytes> {
        match self.clients.get(&client) {
            Some(s) => match kind {
                SubscriptionKind::Channel => s.channels.iter().cloned().collect(),
                SubscriptionKind::Pattern => s.patterns.iter().cloned().collect(),
                SubscriptionKind::ShardChannel => s.shard.iter().cloned().collect(),
            },
            None => Vec::new(),
        }
    }

    /// (channels, patterns, shard channels) a client is subscribed to.
    pub(crate) fn counts(&self, client: u64) -> (usize, usize, usize) {
        match self.clients.get(&client) {
            Some(s) => (s.channels.len(), s.patterns.len(), s.shard.len()),
            None => (0, 0, 0),
        }
    }

    /// Queues a push for `client`, then closes the client if its queue now
    /// breaks `limit` (Redis checks its limits as a reply is added, too).
    fn send(&self, client: u64, push: Reply, limit: ObufLimit, now_s: u64) {
        let Some(ClientSubs { tx: Some(tx), outbox, kill, .. }) = self.clients.get(&client) else { return };
        if outbox.closed.load(Ordering::Acquire) {
            return;
        }
        let size = push_size(&push);
        let used = outbox.bytes.fetch_add(size, Ordering::AcqRel) + size;
        if tx.send(push).is_err() {
            outbox.bytes.fetch_sub(size, Ordering::AcqRel);
            return;
        }
        if limit.is_set() && outbox.over(used as u64, limit, now_s) {
            outbox.closed.store(true, Ordering::Release);
            tracing::info!(
                client,
                output_bytes = used,
                "closing a client for overcoming its output buffer limits (pubsub)"
            );
            if let Some(kill) = kill {
                kill.notify_one();
            }
        }
    }

    /// PUBLISH: delivers to channel subscribers, then to matching patterns;
    /// returns the number of deliveries (Redis's receiver count). `limit`
    /// is the pubsub class's output buffer limit.
    pub(crate) fn publish(&self, channel: &Bytes, message: &Bytes, limit: ObufLimit) -> usize {
        let now_s = if limit.soft != 0 { self.now_s() } else { 0 };
        let mut n = 0;
        if let Some(ids) = self.channels.get(channel) {
            for &id in ids {
                self.send(id, message_push("message", channel, message), limit, now_s);
                n += 1;
            }
        }
        for (pattern, ids) in &self.patterns {
            if !glob_match(pattern, channel, false) {
                continue;
            }
            for &id in ids {
                let push = Reply::Push(vec![
                    Reply::from("pmessage"),
                    Reply::Bulk(pattern.clone()),
                    Reply::Bulk(channel.clone()),
                    Reply::Bulk(message.clone()),
                ]);
                self.send(id, push, limit, now_s);
                n += 1;
            }
        }
        n
    }

    /// SPUBLISH: delivers to shard channel subscribers.
    pub(crate) fn spublish(&self, channel: &Bytes, message: &Bytes, limit: ObufLimit) -> usize {
        let now_s = if limit.soft != 0 { self.now_s() } else { 0 };
        let mut n = 0;
        if let Some(ids) = self.shard.get(channel) {
            for &id in ids {
                self.send(id, message_push("smessage", channel, message), limit, now_s);
                n += 1;
            }
        }
        n
    }

    /// Active channels (or shard channels) matching an optional pattern.
    pub(crate) fn active(&self, kind: SubscriptionKind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.index_ref(kind).keys().filter(|c| pattern.is_none_or(|p| glob_match(p, c, false))).cloned().collect()
    }

    /// Number of active channels, patterns or shard channels (INFO stats).
    pub(crate) fn num_active(&self, kind: SubscriptionKind) -> usize {
        self.index_ref(kind).len()
    }

    /// Subscribers of one channel (or shard channel).
    pub(crate) fn numsub(&self, kind: SubscriptionKind, channel: &[u8]) -> usize {
        self.index_ref(kind).get(channel).map_or(0, IndexSet::len)
    }

    /// Number of distinct patterns subscribed to (PUBSUB NUMPAT).
    pub(crate) fn numpat(&self) -> usize {
        self.patterns.len()
    }

    /// Every subscription, ordered by client, kind, then subscription order.
    pub(crate) fn snapshot(&self) -> Vec<Subscription> {
        let mut ids: Vec<u64> = self.clients.keys().copied().collect();
        ids.sort_unstable();
        let mut out = Vec::new();
        for id in ids {
            let s = &self.clients[&id];
            for (kind, set) in [
                (SubscriptionKind::Channel, &s.channels),
                (SubscriptionKind::Pattern, &s.patterns),
                (SubscriptionKind::ShardChannel, &s.shard),
            ] {
                out.extend(set.iter().map(|c| Subscription { client_id: id, kind, channel: c.clone() }));
            }
        }
        out
    }

    /// Whether anyone at all is subscribed (lets notification delivery skip work).
    pub(crate) fn has_subscribers(&self) -> bool {
        !self.channels.is_empty() || !self.patterns.is_empty()
    }
}

fn remove_from_index(index: &mut Index, name: &[u8], client: u64) {
    if let Some(ids) = index.get_mut(name) {
        ids.shift_remove(&client);
        if ids.is_empty() {
            index.swap_remove(name);
        }
    }
}

fn message_push(kind: &'static str, channel: &Bytes, message: &Bytes) -> Reply {
    Reply::Push(vec![Reply::from(kind), Reply::Bulk(channel.clone()), Reply::Bulk(message.clone())])
}

impl State {
    /// Publishes on a channel (PUBLISH, keyspace notifications, the test handle).
    pub(crate) fn publish(&mut self, channel: &Bytes, message: &Bytes) -> usize {
        self.pubsub.publish(channel, message, self.config().obuf_limit(ClientClass::PubSub))
    }

    /// Publishes on a shard channel (SPUBLISH).
    pub(crate) fn spublish(&mut self, channel: &Bytes, message: &Bytes) -> usize {
        self.pubsub.spublish(channel, message, self.config().obuf_limit(ClientClass::PubSub))
    }

    /// Copies a client's subscription counts into its CLIENT LIST entry.
    pub(crate) fn sync_sub_counts(&mut self, client: u64) {
        let (sub, psub, ssub) = self.pubsub.counts(client);
        if let Some(c) = self.client_mut(client) {
            c.sub = sub;
            c.psub = psub;
            c.ssub = ssub;
        }
    }
}

/// Commands a RESP2 connection may send while subscribed.
const ALLOWED_WHILE_SUBSCRIBED: &[&str] =
    &["subscribe", "ssubscribe", "unsubscribe", "sunsubscribe", "psubscribe", "punsubscribe", "ping", "quit", "reset"];

/// Whether the connection has any subscription (Redis's CLIENT_PUBSUB flag).
pub(crate) fn is_subscribed(ctx: &super::command::Ctx<'_>) -> bool {
    let (c, p, s) = ctx.st.pubsub.counts(ctx.conn.id);
    c + p + s > 0
}

/// In RESP2 a subscribed connection can only (un)subscribe, PING, QUIT and
/// RESET; RESP3 lets pushes interleave with ordinary replies instead.
pub(crate) fn check_context(ctx: &super::command::Ctx<'_>, spec: &super::command::CommandSpec) -> Result<(), Reply> {
    if ctx.conn.resp != 2 || ALLOWED_WHILE_SUBSCRIBED.contains(&spec.name) || !is_subscribed(ctx) {
        return Ok(());
    }
    Err(Reply::error(format!(
        "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
        spec.name
    )))
}
