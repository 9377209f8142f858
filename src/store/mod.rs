//! The keyspace: databases, values and expiry. Pure data, no I/O.

pub(crate) mod glob;
pub(crate) mod zset;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::hash::{Hash, Hasher};

use bytes::Bytes;
use indexmap::{IndexMap, IndexSet};

pub(crate) use zset::ZSet;

/// A value stored under a key.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Str(Bytes),
    List(VecDeque<Bytes>),
    /// Insertion order, like Redis's listpack encoding for small hashes.
    Hash(IndexMap<Bytes, Bytes>),
    Set(IndexSet<Bytes>),
    ZSet(ZSet),
}

impl Value {
    /// The name TYPE reports.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    /// Whether an aggregate became empty (Redis deletes empty aggregates).
    pub(crate) fn is_empty_aggregate(&self) -> bool {
        match self {
            Value::Str(_) => false,
            Value::List(l) => l.is_empty(),
            Value::Hash(h) => h.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::ZSet(z) => z.is_empty(),
        }
    }
}

/// One key's value with its metadata.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub value: Value,
    /// Absolute expiry in unix milliseconds.
    pub expire_at: Option<u64>,
    /// Last access, unix milliseconds (OBJECT IDLETIME).
    pub last_access: u64,
}

impl Entry {
    pub(crate) fn new(value: Value, now: u64) -> Entry {
        Entry { value, expire_at: None, last_access: now }
    }
}

/// The stable order SCAN walks: a fixed hash of each key, so a cursor is just
/// the next hash to visit and keys present throughout an iteration are
/// returned exactly once, whatever is added or deleted meanwhile.
pub(crate) fn scan_hash(key: &[u8]) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    key.hash(&mut h);
    // 0 is the "iteration finished" cursor; keep it out of the key space.
    h.finish().max(1)
}

/// One of the 16 (by default) databases.
#[derive(Debug, Default, Clone)]
pub(crate) struct Db {
    map: HashMap<Bytes, Entry>,
    /// SCAN order index: (scan_hash(key), key).
    order: BTreeSet<(u64, Bytes)>,
    /// Number of keys with an expiry set.
    volatile: usize,
}

impl Db {
    /// Number of keys, including logically expired ones not yet reclaimed.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn volatile_len(&self) -> usize {
        self.volatile
    }

    /// Raw access that ignores expiry; callers go through `State` helpers
    /// that expire lazily first.
    pub(crate) fn raw_get(&self, key: &[u8]) -> Option<&Entry> {
        self.map.get(key)
    }

    pub(crate) fn raw_get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.map.get_mut(key)
    }

    /// Inserts or replaces `key`, keeping the expiry bookkeeping right.
    pub(crate) fn insert(&mut self, key: Bytes, entry: Entry) -> Option<Entry> {
        if entry.expire_at.is_some() {
            self.volatile += 1;
        }
        let old = self.map.insert(key.clone(), entry);
        match &old {
            Some(o) => {
                if o.expire_at.is_some() {
                    self.volatile -= 1;
                }
            }
            None => {
                self.order.insert((scan_hash(&key), key));
            }
        }
        old
    }

    pub(crate) fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let (k, e) = self.map.remove_entry(key)?;
        if e.expire_at.is_some() {
            self.volatile -= 1;
        }
        self.order.remove(&(scan_hash(&k), k));
        Some(e)
    }

    /// Sets or clears the expiry of an existing key.
    pub(crate) fn set_expire(&mut self, key: &[u8], at: Option<u64>) -> bool {
        let Some(e) = self.map.get_mut(key) else { return false };
        match (e.expire_at.is_some(), at.is_some()) {
            (false, true) => self.volatile += 1,
            (true, false) => self.volatile -= 1,
            _ => {}
        }
        e.expire_at = at;
        true
    }

    pub(crate) fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
        self.volatile = 0;
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &Bytes> {
        self.map.keys()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Bytes, &Entry)> {
        self.map.iter()
    }

    /// Keys in SCAN order starting at hash `from`; the caller stops when it has enough.
    pub(crate) fn scan_from(&self, from: u64) -> impl Iterator<Item = &(u64, Bytes)> {
        self.order.range((from, Bytes::new())..)
    }

    /// The n-th key in SCAN order (RANDOMKEY picks n at random).
    pub(crate) fn nth_key(&self, n: usize) -> Option<&Bytes> {
        self.order.iter().nth(n).map(|(_, k)| k)
    }

    /// Keys whose expiry is at or before `now`.
    pub(crate) fn expired_keys(&self, now: u64) -> Vec<Bytes> {
        if self.volatile == 0 {
            return Vec::new();
        }
        self.map.iter().filter(|(_, e)| e.expire_at.is_some_and(|at| at <= now)).map(|(k, _)| k.clone()).collect()
    }
}
