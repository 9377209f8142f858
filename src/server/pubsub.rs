//! The pub/sub registry (who is subscribed to what) and push delivery.
//!
//! Every connection owns an unbounded tokio channel of pushes; the registry
//! keeps the sending half. Publishing happens with the state lock held, so
//! a push is queued before the publishing command's reply is written, and a
//! connection drains its queue (under the same lock) before and after each
//! command: a client never sees a message published after one of its
//! replies ahead of that reply, exactly as with Redis's single output buffer.
//!
//! Unbounded like Redis's output buffer for pub/sub clients (whose default
//! limit is generous), but accounted: each queue counts its pending pushes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use indexmap::{IndexMap, IndexSet};
use tokio::sync::mpsc;

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

/// One subscription of one client, as [`FakeRedis::subscriptions`](super::FakeRedis::subscriptions) reports it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subscription {
    /// The subscribing client's id (as CLIENT ID reports it).
    pub client_id: u64,
    /// Channel, pattern or shard channel.
    pub kind: SubscriptionKind,
    /// The channel name or pattern.
    pub channel: Bytes,
}

/// The receiving half of a connection's push queue.
#[derive(Debug)]
pub(crate) struct PushReceiver {
    rx: mpsc::UnboundedReceiver<Reply>,
    pending: Arc<AtomicUsize>,
}

impl PushReceiver {
    /// The next push if one is queued, without waiting.
    pub(crate) fn try_recv(&mut self) -> Option<Reply> {
        let p = self.rx.try_recv().ok()?;
        self.pending.fetch_sub(1, Ordering::AcqRel);
        Some(p)
    }

    /// Waits for the next push. Never resolves once the sender is gone
    /// (the connection is then being torn down anyway), so a select loop
    /// does not spin on a closed channel.
    pub(crate) async fn recv(&mut self) -> Reply {
        match self.rx.recv().await {
            Some(p) => {
                self.pending.fetch_sub(1, Ordering::AcqRel);
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
    pending: Arc<AtomicUsize>,
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

    /// Creates a connection's push queue; the connection keeps the receiver.
    pub(crate) fn attach(&mut self, client: u64) -> PushReceiver {
        let (tx, rx) = mpsc::unbounded_channel();
        let pending = Arc::new(AtomicUsize::new(0));
        let e = self.clients.entry(client).or_default();
        e.tx = Some(tx);
        e.pending = pending.clone();
        PushReceiver { rx, pending }
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

    fn send(&self, client: u64, push: Reply) {
        if let Some(ClientSubs { tx: Some(tx), pending, .. }) = self.clients.get(&client) {
            pending.fetch_add(1, Ordering::AcqRel);
            if tx.send(push).is_err() {
                pending.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    /// PUBLISH: delivers to channel subscribers, then to matching patterns;
    /// returns the number of deliveries (Redis's receiver count).
    pub(crate) fn publish(&self, channel: &Bytes, message: &Bytes) -> usize {
        let mut n = 0;
        if let Some(ids) = self.channels.get(channel) {
            for &id in ids {
                self.send(id, message_push("message", channel, message));
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
                self.send(id, push);
                n += 1;
            }
        }
        n
    }

    /// SPUBLISH: delivers to shard channel subscribers.
    pub(crate) fn spublish(&self, channel: &Bytes, message: &Bytes) -> usize {
        let mut n = 0;
        if let Some(ids) = self.shard.get(channel) {
            for &id in ids {
                self.send(id, message_push("smessage", channel, message));
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
        self.pubsub.publish(channel, message)
    }

    /// Copies a client's subscription counts into its CLIENT LIST entry.
    pub(crate) fn sync_sub_counts(&mut self, client: u64) {
        let (sub, psub, ssub) = self.pubsub.counts(client);
        if let Some(c) = self.clients.get_mut(&client) {
            c.sub = sub;
            c.psub = psub;
            c.ssub = ssub;
        }
    }
}
