//! The fake's own memory accounting: what INFO memory reports as
//! `used_memory` and what `maxmemory` is compared against.
//!
//! This is an estimate of what the keyspace would occupy, not an
//! allocator's number (Redis reports jemalloc's count of allocated bytes,
//! which no fake can reproduce byte for byte). It is deterministic: the same
//! commands always give the same number, whatever the platform, so a test
//! can compute a `maxmemory` that the next write crosses.
//!
//! `used_memory` = [`STARTUP`] + the sum over every key of
//! - [`KEY_OVERHEAD`] + the key's length (the dict entry and the key string),
//! - [`EXPIRE_OVERHEAD`] if the key has a TTL (its entry in the expires dict),
//! - for a string, [`STRING_OVERHEAD`] + the string's length,
//! - for a list, set, hash or sorted set, [`AGGREGATE_OVERHEAD`] + for each
//!   element a per-element overhead ([`LIST_ELEMENT`], [`SET_ELEMENT`],
//!   [`HASH_ELEMENT`], [`ZSET_ELEMENT`]) + its bytes (a hash field's and
//!   value's together),
//! - for a stream, [`AGGREGATE_OVERHEAD`] + per entry [`STREAM_ENTRY`] + its
//!   fields' and values' bytes, + per group, consumer and pending entry
//!   [`STREAM_PENDING`] + the group's and consumers' names (its element
//!   count, for the scaling below, is its number of entries).
//!
//! Connections, buffers and the server's own structures are not counted
//! beyond the fixed [`STARTUP`] figure, so opening a connection never
//! changes `used_memory`.
//!
//! Each entry remembers its share, and the database keeps the sum, updated
//! on every write (insert, overwrite, delete, expiry change, and the
//! `signal_modified` every in-place write makes): no command scans the
//! keyspace. A string's share is exact in O(1). An aggregate of at most
//! [`EXACT_ELEMENTS`] elements is measured exactly on each write; a larger
//! one is measured exactly only when its element count has halved or
//! doubled since the last measurement, and in between its share scales that
//! measurement by the element count (amortized O(1) per element written;
//! replacing a large aggregate's element by a longer one is seen at the next
//! measurement).

use super::{Entry, Value};

/// What an empty server reports (redis-server 7.0's `used_memory_startup`
/// on a 64-bit Linux build).
pub(crate) const STARTUP: u64 = 876_424;

/// Per key: its dict entry, object header and the key string's header.
pub(crate) const KEY_OVERHEAD: usize = 48;

/// Per key with a TTL: its entry in the expires dict.
pub(crate) const EXPIRE_OVERHEAD: usize = 24;

/// Per string value: object header and string header.
pub(crate) const STRING_OVERHEAD: usize = 16;

/// Per list, set, hash or sorted set: the container itself.
pub(crate) const AGGREGATE_OVERHEAD: usize = 64;

/// Per list element.
pub(crate) const LIST_ELEMENT: usize = 16;

/// Per set member.
pub(crate) const SET_ELEMENT: usize = 24;

/// Per hash field (field and value together).
pub(crate) const HASH_ELEMENT: usize = 32;

/// Per sorted-set member (its score and skiplist node included).
pub(crate) const ZSET_ELEMENT: usize = 48;

/// Per stream entry (its share of a listpack node: flags, ID deltas, counts).
pub(crate) const STREAM_ENTRY: usize = 24;

/// Per consumer group, consumer and pending entry of a stream.
pub(crate) const STREAM_PENDING: usize = 48;

/// Aggregates up to this many elements are measured exactly on every write.
pub(crate) const EXACT_ELEMENTS: usize = 64;

/// An entry's accounted size and, for an aggregate, the measurement it is
/// scaled from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Mem {
    /// What this entry adds to `used_memory` (key, TTL and value).
    pub(crate) total: usize,
    /// Element count at the last exact measurement (0: none yet).
    len: usize,
    /// Element overheads plus element bytes at that measurement.
    payload: usize,
}

impl Value {
    /// The number of elements of an aggregate (1 for a string).
    fn elements(&self) -> usize {
        match self {
            Value::Str(_) => 1,
            Value::List(l) => l.len(),
            Value::Hash(h) => h.len(),
            Value::Set(s) => s.len(),
            Value::ZSet(z) => z.len(),
            Value::Stream(s) => s.len(),
        }
    }

    /// Element overheads plus element bytes, by walking the elements.
    fn payload(&self) -> usize {
        match self {
            Value::Str(s) => s.len(),
            Value::List(l) => l.iter().map(|e| LIST_ELEMENT + e.len()).sum(),
            Value::Hash(h) => h.iter().map(|(f, v)| HASH_ELEMENT + f.len() + v.len()).sum(),
            Value::Set(s) => s.iter().map(|m| SET_ELEMENT + m.len()).sum(),
            Value::ZSet(z) => z.scores.keys().map(|m| ZSET_ELEMENT + m.len()).sum(),
            Value::Stream(s) => s.payload(STREAM_ENTRY, STREAM_PENDING),
        }
    }
}

impl Entry {
    /// Recomputes this entry's share for a key of `key_len` bytes (see the
    /// module docs for when an aggregate is walked) and returns it.
    pub(crate) fn account(&mut self, key_len: usize) -> usize {
        let ttl = if self.expire_at.is_some() { EXPIRE_OVERHEAD } else { 0 };
        let value = match &self.value {
            Value::Str(s) => STRING_OVERHEAD + s.len(),
            v => {
                let n = v.elements();
                let m = &mut self.mem;
                if n <= EXACT_ELEMENTS || m.len == 0 || n > m.len * 2 || n * 2 < m.len {
                    m.len = n;
                    m.payload = v.payload();
                }
                let scaled =
                    if m.len == n { m.payload } else { (m.payload as u128 * n as u128 / m.len as u128) as usize };
                AGGREGATE_OVERHEAD + scaled
            }
        };
        self.mem.total = KEY_OVERHEAD + key_len + ttl + value;
        self.mem.total
    }

    /// What this entry adds to `used_memory`, as last accounted.
    pub(crate) fn mem(&self) -> usize {
        self.mem.total
    }

    /// The share this entry would have if measured from scratch (tests
    /// compare it with the incrementally kept one).
    #[cfg(test)]
    pub(crate) fn measured(&self, key_len: usize) -> usize {
        let mut fresh = self.clone();
        fresh.mem = Mem::default();
        fresh.account(key_len)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use bytes::Bytes;

    use super::*;
    use crate::store::Db;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn a_string_key_costs_its_overheads_and_bytes() {
        let mut db = Db::default();
        db.insert(&b("key"), Entry::new(Value::Str(b("value")), 0));
        assert_eq!(db.used_memory(), KEY_OVERHEAD + 3 + STRING_OVERHEAD + 5);
        db.set_expire(b"key", Some(10));
        assert_eq!(db.used_memory(), KEY_OVERHEAD + 3 + EXPIRE_OVERHEAD + STRING_OVERHEAD + 5);
        db.insert(&b("key"), Entry::new(Value::Str(b("v")), 0));
        assert_eq!(db.used_memory(), KEY_OVERHEAD + 3 + STRING_OVERHEAD + 1, "an overwrite drops the TTL");
        db.remove(b"key");
        assert_eq!(db.used_memory(), 0);
    }

    #[test]
    fn small_aggregates_are_exact_after_every_write() {
        let mut db = Db::default();
        let key = b("l");
        db.insert(&key, Entry::new(Value::List(VecDeque::new()), 0));
        for i in 0..EXACT_ELEMENTS {
            let Some(Entry { value: Value::List(l), .. }) = db.raw_get_mut(&key) else { panic!() };
            l.push_back(b(&"x".repeat(i)));
            db.reaccount(&key);
            let e = db.raw_get(&key).unwrap();
            assert_eq!(e.mem(), e.measured(1));
        }
        assert_eq!(db.used_memory(), db.raw_get(&key).unwrap().mem());
    }

    #[test]
    fn large_aggregates_scale_between_measurements() {
        let mut db = Db::default();
        let key = b("s");
        let set = (0..100).map(|i| b(&format!("{i:04}"))).collect();
        db.insert(&key, Entry::new(Value::Set(set), 0));
        let exact = |db: &Db| db.raw_get(b"s").unwrap().measured(1);
        assert_eq!(db.used_memory(), exact(&db));
        // Same-sized members: scaling by the count stays exact.
        for i in 100..250 {
            let Some(Entry { value: Value::Set(s), .. }) = db.raw_get_mut(&key) else { panic!() };
            s.insert(b(&format!("{i:04}")));
            db.reaccount(&key);
            assert_eq!(db.used_memory(), exact(&db), "at {i}");
        }
    }
}
