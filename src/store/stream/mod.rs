//! The stream value: entries ordered by ID, consumer groups with their
//! pending-entries lists, and the bookkeeping Redis 7.0 keeps for lag.
//!
//! Entries live in one `BTreeMap` keyed by [`StreamId`] (ms, then seq).
//! Redis stores them in a radix tree of listpack "nodes"; which entries
//! share a node decides what approximate (`~`) trimming removes, how many
//! radix-tree keys and nodes XINFO reports, and when an XDEL'd entry's
//! space is given back. So the nodes are modelled too ([`Node`]): each
//! covers the IDs from its master ID up to the next node's, knows how many
//! live and deleted entries it holds and its listpack size in bytes, and a
//! new node starts exactly when Redis's `streamAppendItem` starts one
//! (`stream-node-max-bytes`, `stream-node-max-entries`).
//!
//! Deleted entries are gone from `entries` at once (nothing reads them);
//! the node keeps their count and bytes until the whole node goes, as the
//! listpack keeps their tombstones.
//!
//! Consumer groups ([`Group`]) hold the last delivered ID, the logical
//! `entries-read` counter, the group PEL (ID → [`Nack`]) and the consumers,
//! each with its own PEL (a set of IDs; the NACK itself lives in the group
//! PEL, as in Redis where both trees point at one NACK).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use bytes::Bytes;

/// `SCG_INVALID_ENTRIES_READ`: a group's read counter that is not known.
pub(crate) const INVALID_ENTRIES_READ: i64 = -1;

/// A stream entry ID: milliseconds and sequence number, compared in that order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub(crate) struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl StreamId {
    /// `0-0`.
    pub(crate) const ZERO: StreamId = StreamId { ms: 0, seq: 0 };
    /// `18446744073709551615-18446744073709551615`.
    pub(crate) const MAX: StreamId = StreamId { ms: u64::MAX, seq: u64::MAX };

    /// Builds an ID.
    pub(crate) const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// Whether this is `0-0`.
    pub(crate) fn is_zero(self) -> bool {
        self == StreamId::ZERO
    }

    /// The next ID (`streamIncrID`); `None` past the maximum.
    pub(crate) fn incr(self) -> Option<StreamId> {
        if self.seq == u64::MAX {
            if self.ms == u64::MAX {
                return None;
            }
            return Some(StreamId::new(self.ms + 1, 0));
        }
        Some(StreamId::new(self.ms, self.seq + 1))
    }

    /// The previous ID (`streamDecrID`); `None` before `0-0`.
    pub(crate) fn decr(self) -> Option<StreamId> {
        if self.seq == 0 {
            if self.ms == 0 {
                return None;
            }
            return Some(StreamId::new(self.ms - 1, u64::MAX));
        }
        Some(StreamId::new(self.ms, self.seq - 1))
    }

    /// `ms-seq` as a bulk string.
    pub(crate) fn to_bytes(self) -> Bytes {
        Bytes::from(self.to_string())
    }

    /// The 16-byte big-endian key Redis's radix tree sorts by.
    fn rax_key(self) -> [u8; 16] {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&self.ms.to_be_bytes());
        k[8..].copy_from_slice(&self.seq.to_be_bytes());
        k
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// What an ID argument parsed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ParsedId {
    /// The ID (its seq is 0 when `seq_auto`).
    pub id: StreamId,
    /// `ms-*`: the sequence is to be generated (XADD only).
    pub seq_auto: bool,
}

/// Redis's `string2ull`: `string2ll` first (a negative number fails), then
/// `strtoull` rules (leading spaces, a sign, digits to the end, no overflow;
/// a `-` wraps as C does).
fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = crate::num::parse_i64(s) {
        return u64::try_from(v).ok();
    }
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    if i >= s.len() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in &s[i..] {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Redis's `streamGenericParseIDOrReply`: `ms[-seq]`, a missing seq being
/// `missing_seq`; unless `strict`, `-` and `+` stand for the smallest and
/// greatest IDs; `ms-*` only when `allow_auto_seq` (XADD). `None` is the
/// "Invalid stream ID" error.
pub(crate) fn parse_id(arg: &[u8], missing_seq: u64, strict: bool, allow_auto_seq: bool) -> Option<ParsedId> {
    if arg.len() > 127 {
        return None;
    }
    // Redis copies the argument into a C string: a NUL ends it.
    let arg = arg.iter().position(|&c| c == 0).map_or(arg, |n| &arg[..n]);
    if !strict && arg == b"-" {
        return Some(ParsedId { id: StreamId::ZERO, seq_auto: false });
    }
    if !strict && arg == b"+" {
        return Some(ParsedId { id: StreamId::MAX, seq_auto: false });
    }
    match arg.iter().position(|&c| c == b'-') {
        None => Some(ParsedId { id: StreamId::new(string2ull(arg)?, missing_seq), seq_auto: false }),
        Some(dash) => {
            let ms = string2ull(&arg[..dash])?;
            let seq = &arg[dash + 1..];
            if allow_auto_seq && seq == b"*" {
                return Some(ParsedId { id: StreamId::new(ms, 0), seq_auto: true });
            }
            Some(ParsedId { id: StreamId::new(ms, string2ull(seq)?), seq_auto: false })
        }
    }
}

/// The node limits `streamAppendItem` reads (`stream-node-max-bytes`,
/// `stream-node-max-entries`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NodeLimits {
    /// Bytes a node's listpack may reach (0: the 1 GiB listpack limit).
    pub max_bytes: u64,
    /// Entries (live and deleted) per node (0: unlimited).
    pub max_entries: u64,
}

impl Default for NodeLimits {
    fn default() -> Self {
        NodeLimits { max_bytes: 4096, max_entries: 100 }
    }
}

/// Redis's `STREAM_LISTPACK_MAX_SIZE`.
const LISTPACK_MAX_SIZE: u64 = 1 << 30;

/// How a trim decides what goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TrimStrategy {
    /// Keep at most this many entries.
    MaxLen(u64),
    /// Remove the entries with IDs below this one.
    MinId(StreamId),
}

/// A parsed MAXLEN / MINID clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Trim {
    /// What to keep.
    pub strategy: TrimStrategy,
    /// `~`: remove whole nodes only.
    pub approx: bool,
    /// Most entries to remove (0: no limit); only with `~`.
    pub limit: u64,
}

/// One listpack node of Redis's radix tree, as far as its shape matters.
#[derive(Debug, Clone)]
struct Node {
    /// The fields of the node's first entry (its "master entry").
    master_fields: Vec<Bytes>,
    /// Entries not deleted.
    live: u64,
    /// Entries marked deleted (still in the listpack).
    deleted: u64,
    /// The ID of the node's last entry, deleted or not.
    last: StreamId,
    /// Bytes of the entries after the master entry, deleted ones included.
    body: u64,
}

impl Node {
    /// The node's listpack size (`lpBytes`): header, master entry, entries, end.
    fn bytes(&self) -> u64 {
        let mut n = 6 + 1; // header and terminator
        n += lp_int(self.live as i64) + lp_int(self.deleted as i64) + lp_int(self.master_fields.len() as i64);
        n += self.master_fields.iter().map(|f| lp_str(f)).sum::<u64>();
        n += lp_int(0);
        n + self.body
    }
}

/// Bytes a listpack element takes for this integer (encoding and back-length).
fn lp_int(v: i64) -> u64 {
    let enc = if (0..=127).contains(&v) {
        1
    } else if (-4096..=4095).contains(&v) {
        2
    } else if (i16::MIN as i64..=i16::MAX as i64).contains(&v) {
        3
    } else if (-8_388_608..=8_388_607).contains(&v) {
        4
    } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
        5
    } else {
        9
    };
    enc + 1
}

/// Bytes a listpack element takes for this string (stored as an integer
/// when it reads as one, as `lpStringToInt64` decides).
fn lp_str(s: &[u8]) -> u64 {
    if s.len() <= 20 {
        if let Some(v) = crate::num::parse_i64(s) {
            return lp_int(v);
        }
    }
    let len = s.len() as u64;
    let enc = if len < 64 {
        1 + len
    } else if len < 4096 {
        2 + len
    } else {
        5 + len
    };
    let back = if enc <= 127 {
        1
    } else if enc < 16383 {
        2
    } else if enc < 2_097_151 {
        3
    } else if enc < 268_435_455 {
        4
    } else {
        5
    };
    enc + back
}

/// One pending entry of a group: who has it, since when, how many deliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Nack {
    /// Last delivery, unix ms.
    pub delivery_time: u64,
    /// Number of deliveries.
    pub delivery_count: u64,
    /// The consumer that owns it.
    pub consumer: Bytes,
}

/// A consumer of a group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Consumer {
    /// Last time it was seen (read, claimed or created), unix ms.
    pub seen_time: u64,
    /// IDs it owns in the group PEL.
    pub pel: BTreeSet<StreamId>,
}

/// A consumer group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Group {
    /// Last delivered ID.
    pub last_id: StreamId,
    /// Logical count of entries read, or [`INVALID_ENTRIES_READ`].
    pub entries_read: i64,
    /// Pending entries of every consumer.
    pub pel: BTreeMap<StreamId, Nack>,
    /// Consumers by name (Redis's rax order: bytewise).
    pub consumers: BTreeMap<Bytes, Consumer>,
}

impl Group {
    /// A group starting after `last_id`.
    pub(crate) fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group { last_id, entries_read, pel: BTreeMap::new(), consumers: BTreeMap::new() }
    }

    /// Creates `name` if it does not exist, seen `now`; returns whether it
    /// was created (the caller raises `xgroup-createconsumer`).
    pub(crate) fn create_consumer(&mut self, name: &[u8], now: u64) -> bool {
        if self.consumers.contains_key(name) {
            return false;
        }
        self.consumers.insert(crate::store::keep(name), Consumer { seen_time: now, pel: BTreeSet::new() });
        true
    }

    /// Removes a consumer and its pending entries; returns how many it had.
    pub(crate) fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        for id in &c.pel {
            self.pel.remove(id);
        }
        Some(c.pel.len())
    }

    /// Acknowledges `id`; returns whether it was pending.
    pub(crate) fn ack(&mut self, id: StreamId) -> bool {
        let Some(nack) = self.pel.remove(&id) else { return false };
        if let Some(c) = self.consumers.get_mut(&nack.consumer) {
            c.pel.remove(&id);
        }
        true
    }

    /// Gives pending entry `id` to `consumer` (which must exist), moving it
    /// out of its previous owner's PEL, or creates it as `streamCreateNACK`
    /// does (delivered now, once); returns the NACK.
    pub(crate) fn assign(&mut self, id: StreamId, consumer: &Bytes, now: u64) -> &mut Nack {
        let prev = self.pel.get(&id).map(|n| n.consumer.clone());
        match prev {
            Some(owner) if owner != *consumer => {
                if let Some(c) = self.consumers.get_mut(&owner) {
                    c.pel.remove(&id);
                }
            }
            Some(_) => {}
            None => {
                self.pel.insert(id, Nack { delivery_time: now, delivery_count: 1, consumer: consumer.clone() });
            }
        }
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
        let nack = self.pel.get_mut(&id).expect("inserted above");
        nack.consumer = consumer.clone();
        nack
    }
}

/// A stream value.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stream {
    /// Live entries: ID → flat field/value list.
    entries: BTreeMap<StreamId, Box<[Bytes]>>,
    /// Redis's listpack nodes by master ID.
    nodes: BTreeMap<StreamId, Node>,
    /// The last ID ever generated or set (XSETID).
    pub last_id: StreamId,
    /// The greatest ID XDEL removed (`max-deleted-entry-id`).
    pub max_deleted: StreamId,
    /// Entries ever added (`entries-added`).
    pub entries_added: u64,
    /// Consumer groups by name.
    pub groups: BTreeMap<Bytes, Group>,
    /// Bytes of the entries' fields and values, for memory accounting.
    payload: usize,
}

impl PartialEq for Stream {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
            && self.last_id == other.last_id
            && self.max_deleted == other.max_deleted
            && self.entries_added == other.entries_added
            && self.groups == other.groups
    }
}

impl Stream {
    /// An empty stream.
    pub(crate) fn new() -> Stream {
        Stream::default()
    }

    /// Number of entries (XLEN).
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries (a stream is never deleted for that).
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first entry's ID, or `0-0` (`recorded-first-entry-id`).
    pub(crate) fn first_id(&self) -> StreamId {
        self.entries.keys().next().copied().unwrap_or_default()
    }

    /// The last live entry's ID, or `0-0` (`streamLastValidID`).
    pub(crate) fn last_valid_id(&self) -> StreamId {
        self.entries.keys().next_back().copied().unwrap_or_default()
    }

    /// Whether `id` is a live entry.
    pub(crate) fn contains(&self, id: StreamId) -> bool {
        self.entries.contains_key(&id)
    }

    /// One entry's fields and values.
    pub(crate) fn get(&self, id: StreamId) -> Option<&[Bytes]> {
        self.entries.get(&id).map(|f| &f[..])
    }

    /// Entries with `start <= id <= end`, ascending or (`rev`) descending.
    pub(crate) fn range(
        &self,
        start: StreamId,
        end: StreamId,
        rev: bool,
    ) -> Box<dyn Iterator<Item = (StreamId, &[Bytes])> + '_> {
        if start > end {
            return Box::new(std::iter::empty());
        }
        let it = self.entries.range(start..=end).map(|(id, f)| (*id, &f[..]));
        if rev {
            Box::new(it.rev())
        } else {
            Box::new(it)
        }
    }

    /// Appends an entry with `fields` (a flat field/value list, non-empty and
    /// even) under `id`, which the caller checked is greater than
    /// `last_id`; opens a new node as `streamAppendItem` would.
    pub(crate) fn append(&mut self, id: StreamId, fields: &[Bytes], limits: NodeLimits) {
        let names: Vec<&Bytes> = fields.iter().step_by(2).collect();
        let total: u64 = fields.iter().map(|f| f.len() as u64).sum();
        let max_bytes = if limits.max_bytes == 0 || limits.max_bytes > LISTPACK_MAX_SIZE {
            LISTPACK_MAX_SIZE
        } else {
            limits.max_bytes
        };
        let open_new = match self.nodes.iter().next_back() {
            None => true,
            Some((_, n)) => {
                n.bytes() + total >= max_bytes || (limits.max_entries != 0 && n.live + n.deleted >= limits.max_entries)
            }
        };
        if open_new {
            self.nodes.insert(
                id,
                Node {
                    master_fields: names.iter().map(|b| (*b).clone()).collect(),
                    live: 0,
                    deleted: 0,
                    last: id,
                    body: 0,
                },
            );
        }
        let (master, node) = self.nodes.iter_mut().next_back().expect("a tail node exists");
        let same =
            node.master_fields.len() == names.len() && node.master_fields.iter().zip(&names).all(|(a, b)| a == *b);
        let mut bytes = lp_int(if same { 2 } else { 0 });
        bytes += lp_int(id.ms.wrapping_sub(master.ms) as i64) + lp_int(id.seq.wrapping_sub(master.seq) as i64);
        let lp_count = if same {
            bytes += fields.iter().skip(1).step_by(2).map(|v| lp_str(v)).sum::<u64>();
            names.len() as i64 + 3
        } else {
            bytes += lp_int(names.len() as i64) + fields.iter().map(|f| lp_str(f)).sum::<u64>();
            2 * names.len() as i64 + 4
        };
        bytes += lp_int(lp_count);
        node.body += bytes;
        node.live += 1;
        node.last = id;
        let kept: Box<[Bytes]> = fields.iter().map(|f| crate::store::keep(f)).collect();
        self.payload += kept.iter().map(|f| f.len()).sum::<usize>();
        self.entries.insert(id, kept);
        self.last_id = id;
        self.entries_added += 1;
    }

    /// The master ID of the node holding `id`.
    fn node_of(&self, id: StreamId) -> Option<StreamId> {
        self.nodes.range(..=id).next_back().map(|(k, _)| *k)
    }

    /// Removes a live entry, leaving a tombstone in its node; returns
    /// whether it existed. XDEL drops a node with its last live entry
    /// (`drop_empty`), trimming inside a node never does (Redis only marks
    /// the entries there). XDEL also moves `max_deleted` ([`Stream::delete`]).
    fn remove_entry(&mut self, id: StreamId, drop_empty: bool) -> bool {
        let Some(f) = self.entries.remove(&id) else { return false };
        self.payload -= f.iter().map(|b| b.len()).sum::<usize>();
        if let Some(master) = self.node_of(id) {
            let node = self.nodes.get_mut(&master).expect("found above");
            node.live -= 1;
            node.deleted += 1;
            if node.live == 0 && drop_empty {
                self.nodes.remove(&master);
            }
        }
        true
    }

    /// XDEL of one ID: removes it and records it as the greatest deleted ID
    /// if it is; returns whether it existed.
    pub(crate) fn delete(&mut self, id: StreamId) -> bool {
        if !self.remove_entry(id, true) {
            return false;
        }
        if id > self.max_deleted {
            self.max_deleted = id;
        }
        true
    }

    /// Redis's `streamTrim`: removes whole nodes from the front while the
    /// strategy allows, then (unless `approx`) entries inside the next node;
    /// stops before going over `limit` (0: none). Returns how many went.
    pub(crate) fn trim(&mut self, trim: &Trim) -> u64 {
        let mut deleted: u64 = 0;
        while let Some((&master, node)) = self.nodes.iter().next() {
            let len = self.entries.len() as u64;
            if let TrimStrategy::MaxLen(max) = trim.strategy {
                if len <= max {
                    break;
                }
            }
            let entries = node.live;
            if trim.limit != 0 && deleted + entries > trim.limit {
                break;
            }
            let whole = match trim.strategy {
                TrimStrategy::MaxLen(max) => len - entries >= max,
                TrimStrategy::MinId(min) => node.last < min,
            };
            let next = self.nodes.range((Bound::Excluded(master), Bound::Unbounded)).next().map(|(k, _)| *k);
            if whole {
                self.nodes.remove(&master);
                let ids: Vec<StreamId> = match next {
                    Some(n) => self.entries.range(master..n).map(|(k, _)| *k).collect(),
                    None => self.entries.range(master..).map(|(k, _)| *k).collect(),
                };
                for id in ids {
                    if let Some(f) = self.entries.remove(&id) {
                        self.payload -= f.iter().map(|b| b.len()).sum::<usize>();
                    }
                }
                deleted += entries;
                continue;
            }
            if trim.approx {
                break;
            }
            // Mark entries inside this node as deleted, front to back.
            let ids: Vec<StreamId> = match next {
                Some(n) => self.entries.range(master..n).map(|(k, _)| *k).collect(),
                None => self.entries.range(master..).map(|(k, _)| *k).collect(),
            };
            for id in ids {
                let stop = match trim.strategy {
                    TrimStrategy::MaxLen(max) => self.entries.len() as u64 <= max,
                    TrimStrategy::MinId(min) => id >= min,
                };
                if stop {
                    break;
                }
                self.remove_entry(id, false);
                deleted += 1;
            }
            break;
        }
        deleted
    }

    /// `streamRangeHasTombstones`: whether the greatest deleted ID lies in
    /// `start..=end` (open ends when `None`) and after the first entry.
    pub(crate) fn range_has_tombstones(&self, start: Option<StreamId>, end: Option<StreamId>) -> bool {
        if self.entries.is_empty() || self.max_deleted.is_zero() {
            return false;
        }
        if self.first_id() > self.max_deleted {
            return false;
        }
        let start = start.unwrap_or(StreamId::ZERO);
        let end = end.unwrap_or(StreamId::MAX);
        start <= self.max_deleted && self.max_deleted <= end
    }

    /// `streamEstimateDistanceFromFirstEverEntry`: the logical read counter
    /// of `id`, or [`INVALID_ENTRIES_READ`] when it cannot be known.
    pub(crate) fn estimate_distance(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        let added = self.entries_added as i64;
        if self.entries.is_empty() && id <= self.last_id {
            return added;
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return added,
            std::cmp::Ordering::Greater => return INVALID_ENTRIES_READ,
            std::cmp::Ordering::Less => {}
        }
        let first = self.first_id();
        if self.max_deleted.is_zero() || self.max_deleted < first {
            let len = self.entries.len() as i64;
            match id.cmp(&first) {
                std::cmp::Ordering::Less => return added - len,
                std::cmp::Ordering::Equal => return added - len + 1,
                std::cmp::Ordering::Greater => {}
            }
        }
        INVALID_ENTRIES_READ
    }

    /// A group's lag as XINFO reports it (`None`: unknown, a null reply).
    pub(crate) fn lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        let added = self.entries_added as i64;
        if g.entries_read != INVALID_ENTRIES_READ && !self.range_has_tombstones(Some(g.last_id), None) {
            return Some(added - g.entries_read);
        }
        let read = self.estimate_distance(g.last_id);
        (read != INVALID_ENTRIES_READ).then(|| added - read)
    }

    /// Moves `g`'s read position to `id` as delivering it does
    /// (`streamReplyWithRange` with a group), keeping `entries-read` valid
    /// when it can.
    pub(crate) fn advance_group(&self, g: &mut Group, id: StreamId) {
        if id <= g.last_id {
            return;
        }
        if g.entries_read != INVALID_ENTRIES_READ && !self.range_has_tombstones(Some(id), None) {
            g.entries_read += 1;
        } else if self.entries_added != 0 {
            g.entries_read = self.estimate_distance(id);
        }
        g.last_id = id;
    }

    /// `radix-tree-keys`: the number of listpack nodes.
    pub(crate) fn radix_tree_keys(&self) -> usize {
        self.nodes.len()
    }

    /// `radix-tree-nodes`: the nodes of a compressed radix tree holding the
    /// 16-byte master IDs (one node for an empty tree).
    pub(crate) fn radix_tree_nodes(&self) -> usize {
        let keys: Vec<[u8; 16]> = self.nodes.keys().map(|k| k.rax_key()).collect();
        if keys.is_empty() {
            return 1;
        }
        rax_nodes(&keys, 0)
    }

    /// Bytes of the entries' fields and values plus the groups' bookkeeping,
    /// for the memory accounting (`store::mem`).
    pub(crate) fn payload(&self, entry_overhead: usize, pending_overhead: usize) -> usize {
        let groups: usize = self
            .groups
            .iter()
            .map(|(name, g)| {
                name.len()
                    + pending_overhead * (1 + g.pel.len())
                    + g.consumers.iter().map(|(c, cs)| c.len() + pending_overhead * (1 + cs.pel.len())).sum::<usize>()
            })
            .sum();
        self.payload + entry_overhead * self.entries.len() + groups
    }
}

/// Nodes of the compressed radix subtree holding `keys` (sorted, distinct,
/// equal length) from byte `depth` on: a chain of single-child positions is
/// one compressed node, a branching position one node, each key end a leaf.
fn rax_nodes(keys: &[[u8; 16]], depth: usize) -> usize {
    if depth == 16 {
        return 1;
    }
    // Common prefix of the remaining bytes (keys are sorted: first vs last).
    let (a, b) = (&keys[0], &keys[keys.len() - 1]);
    let mut d = depth;
    while d < 16 && a[d] == b[d] {
        d += 1;
    }
    if d > depth {
        return 1 + rax_nodes(keys, d);
    }
    let mut n = 1;
    let mut i = 0;
    while i < keys.len() {
        let c = keys[i][depth];
        let mut j = i;
        while j < keys.len() && keys[j][depth] == c {
            j += 1;
        }
        n += rax_nodes(&keys[i..j], depth + 1);
        i = j;
    }
    n
}

#[cfg(test)]
mod tests;
