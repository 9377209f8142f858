//! The keyspace: databases, values and expiry. Pure data, no I/O.

pub(crate) mod geohash;
pub(crate) mod glob;
pub(crate) mod hll;
pub(crate) mod mem;
pub(crate) mod rdb;
pub(crate) mod stream;
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
    /// A stream (boxed: it is larger than the other variants).
    Stream(Box<stream::Stream>),
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
            Value::Stream(_) => "stream",
        }
    }

    /// The encoding OBJECT ENCODING reports for a value built from scratch
    /// with Redis 7.0's default thresholds (see [`Value::encoding_with`]).
    #[cfg(test)]
    pub(crate) fn encoding(&self) -> &'static str {
        self.encoding_with(&EncodingLimits::default())
    }

    /// The encoding Redis 7.0 gives this content: what `tryObjectEncoding`
    /// picks for a string, and the compact form for an aggregate while it is
    /// within `limits`. Lists are always quicklists in 7.0 (listpack lists
    /// came with 7.2), and sets have no listpack form before 7.2 either.
    pub(crate) fn encoding_with(&self, limits: &EncodingLimits) -> &'static str {
        match self {
            Value::Str(s) => string_encoding(s),
            Value::List(_) => "quicklist",
            Value::Stream(_) => "stream",
            Value::Hash(_) | Value::Set(_) | Value::ZSet(_) => {
                if self.fits_compact(limits) {
                    self.compact_name()
                } else {
                    self.big_name()
                }
            }
        }
    }

    /// Whether an aggregate still qualifies for its compact encoding.
    /// Redis converts when a count goes over the limit or an element is longer
    /// than the value limit; a set leaves intset for any non-integer member.
    fn fits_compact(&self, l: &EncodingLimits) -> bool {
        match self {
            Value::Hash(h) => {
                h.len() <= l.hash_entries && h.iter().all(|(f, v)| f.len() <= l.hash_value && v.len() <= l.hash_value)
            }
            Value::Set(s) => s.len() <= l.set_intset_entries && s.iter().all(|m| parse_ll(m).is_some()),
            Value::ZSet(z) => z.len() <= l.zset_entries && z.scores.keys().all(|m| m.len() <= l.zset_value),
            Value::Str(_) | Value::List(_) | Value::Stream(_) => true,
        }
    }

    fn compact_name(&self) -> &'static str {
        match self {
            Value::Set(_) => "intset",
            Value::List(_) => "quicklist",
            Value::Str(_) => "embstr",
            Value::Stream(_) => "stream",
            Value::Hash(_) | Value::ZSet(_) => "listpack",
        }
    }

    fn big_name(&self) -> &'static str {
        match self {
            Value::ZSet(_) => "skiplist",
            Value::List(_) => "quicklist",
            Value::Str(_) => "raw",
            Value::Stream(_) => "stream",
            Value::Hash(_) | Value::Set(_) => "hashtable",
        }
    }

    /// Whether an aggregate became empty (Redis deletes empty aggregates;
    /// an empty stream stays, with its IDs and groups).
    pub(crate) fn is_empty_aggregate(&self) -> bool {
        match self {
            Value::Str(_) | Value::Stream(_) => false,
            Value::List(l) => l.is_empty(),
            Value::Hash(h) => h.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::ZSet(z) => z.is_empty(),
        }
    }
}

/// Redis's longest embedded string (`OBJ_ENCODING_EMBSTR_SIZE_LIMIT`).
const EMBSTR_MAX: usize = 44;

/// Redis's shared integer objects are 0..10000 (`OBJ_SHARED_INTEGERS`).
const SHARED_INTEGERS: i64 = 10_000;

/// Redis reports a shared object's refcount as `INT_MAX`.
const SHARED_REFCOUNT: i64 = i32::MAX as i64;

/// Parses like Redis's `string2ll` (what decides int encodings and intsets).
fn parse_ll(b: &[u8]) -> Option<i64> {
    crate::num::parse_i64(b)
}

/// What `tryObjectEncoding` makes of a string argument.
fn string_encoding(s: &[u8]) -> &'static str {
    if s.len() <= 20 && parse_ll(s).is_some() {
        "int"
    } else if s.len() <= EMBSTR_MAX {
        "embstr"
    } else {
        "raw"
    }
}

/// The thresholds behind Redis's compact encodings (`hash-max-listpack-*`,
/// `set-max-intset-entries`, `zset-max-listpack-*`); defaults are the ones
/// redis-server 7.0 is compiled with (note `hash-max-listpack-entries` is
/// 512 there, not the 128 some documentation gives).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EncodingLimits {
    pub hash_entries: usize,
    pub hash_value: usize,
    pub set_intset_entries: usize,
    pub zset_entries: usize,
    pub zset_value: usize,
}

impl Default for EncodingLimits {
    fn default() -> Self {
        EncodingLimits { hash_entries: 512, hash_value: 64, set_intset_entries: 512, zset_entries: 128, zset_value: 64 }
    }
}

/// How a value's encoding differs from what its content alone implies.
///
/// Redis keeps an object's encoding until the object is replaced, so the
/// history matters: an aggregate that outgrew its compact form never goes
/// back, APPEND leaves a raw string even if it is short, and so on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum EncodingHint {
    /// As Redis encodes this content when it builds the value from scratch.
    #[default]
    Natural,
    /// A string turned raw by an in-place edit (APPEND, SETRANGE).
    Raw,
    /// A string Redis built from a formatted buffer (INCRBYFLOAT): embstr
    /// or raw by length, never int.
    NoInt,
    /// An int-encoded string duplicated by COPY: a private object, not one
    /// of the shared integers (its refcount is 1).
    Unshared,
    /// An aggregate already converted to its big encoding.
    Converted,
}

/// One key's value with its metadata.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub value: Value,
    /// Absolute expiry in unix milliseconds.
    pub expire_at: Option<u64>,
    /// Last access, unix milliseconds (OBJECT IDLETIME).
    pub last_access: u64,
    /// Encoding history (OBJECT ENCODING / REFCOUNT); `Natural` for new values.
    pub enc: EncodingHint,
    /// The LFU access counter (OBJECT FREQ, LFU eviction): logarithmic,
    /// starting at [`LFU_INIT_VAL`], kept up by the engine's eviction code (its `evict` module).
    pub lfu: u8,
    /// When `lfu` was last decremented or incremented, in minutes
    /// (Redis's 16-bit `LFUGetTimeInMinutes`).
    pub lfu_time: u16,
    /// This entry's share of `used_memory` (see [`mem`]); kept by [`Db`].
    mem: mem::Mem,
}

/// The LFU counter a new key starts with (Redis's `LFU_INIT_VAL`), so that
/// a new key is not the first one evicted.
pub(crate) const LFU_INIT_VAL: u8 = 5;

/// Redis's `LFUGetTimeInMinutes`: unix minutes, modulo 2^16.
pub(crate) fn lfu_minutes(now_ms: u64) -> u16 {
    ((now_ms / 60_000) & 0xffff) as u16
}

impl Entry {
    /// A new value, accessed `now` (unix ms), with a fresh LFU counter.
    pub(crate) fn new(value: Value, now: u64) -> Entry {
        Entry {
            value,
            expire_at: None,
            last_access: now,
            enc: EncodingHint::Natural,
            lfu: LFU_INIT_VAL,
            lfu_time: lfu_minutes(now),
            mem: mem::Mem::default(),
        }
    }

    /// OBJECT ENCODING: the content's encoding, corrected by its history.
    pub(crate) fn encoding_with(&self, limits: &EncodingLimits) -> &'static str {
        match (&self.value, self.enc) {
            (Value::Str(_), EncodingHint::Raw) => "raw",
            (Value::Str(s), EncodingHint::NoInt) => {
                if s.len() <= EMBSTR_MAX {
                    "embstr"
                } else {
                    "raw"
                }
            }
            (Value::Hash(_) | Value::Set(_) | Value::ZSet(_), EncodingHint::Converted) => self.value.big_name(),
            (v, _) => v.encoding_with(limits),
        }
    }

    /// OBJECT ENCODING with the default thresholds.
    pub(crate) fn encoding(&self) -> &'static str {
        self.encoding_with(&EncodingLimits::default())
    }

    /// OBJECT REFCOUNT: small integers set from a client argument or an
    /// INCR are Redis's shared objects unless `shared_ints` is false (a
    /// maxmemory LRU/LFU policy disables sharing); everything else is 1.
    pub(crate) fn refcount(&self, shared_ints: bool) -> i64 {
        match (&self.value, self.enc) {
            (Value::Str(s), EncodingHint::Natural) if shared_ints && s.len() <= 20 => match parse_ll(s) {
                Some(n) if (0..SHARED_INTEGERS).contains(&n) => SHARED_REFCOUNT,
                _ => 1,
            },
            _ => 1,
        }
    }

    /// Records that an aggregate has reached its big encoding, which Redis
    /// keeps even after elements are removed again. Called on each write
    /// access, before the command changes the value, with the limits then
    /// configured (the ones the value's last write was checked against).
    fn note_encoding(&mut self, limits: &EncodingLimits) {
        if self.enc == EncodingHint::Natural
            && matches!(self.value, Value::Hash(_) | Value::Set(_) | Value::ZSet(_))
            && !self.value.fits_compact(limits)
        {
            self.enc = EncodingHint::Converted;
        }
    }
}

/// The copy of a command argument that the keyspace keeps (a key, a string
/// value, an element).
///
/// Arguments are slices of the connection's read buffer, and a slice keeps
/// the whole buffer allocation alive: one three-byte value stored out of a
/// read that held a 1 MiB request would pin that mebibyte for as long as the
/// key lives (300 such keys held 600 MB). Redis likewise copies arguments
/// into objects of their own size. Costs one allocation, as a reference
/// count would cost one atomic operation.
pub(crate) fn keep(arg: &[u8]) -> Bytes {
    Bytes::copy_from_slice(arg)
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

/// A hash map with a fast hasher (foldhash) for the server's hot paths:
/// every command hashes its key, and SipHash was the largest userspace cost
/// per request. The seed is still random per map.
pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// One of the 16 (by default) databases.
#[derive(Debug, Default, Clone)]
pub(crate) struct Db {
    map: FastMap<Bytes, Entry>,
    /// SCAN order index: (scan_hash(key), key).
    order: BTreeSet<(u64, Bytes)>,
    /// Number of keys with an expiry set.
    volatile: usize,
    /// The sum of every entry's share of `used_memory` (see [`mem`]).
    used: usize,
    /// The configured compact-encoding limits (CONFIG SET keeps every db's
    /// copy current), against which write accesses note conversions.
    pub(crate) limits: EncodingLimits,
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

    /// Mutable raw access. Every command that may change a value comes
    /// through here first, so this is where an aggregate that outgrew its
    /// compact encoding is remembered as converted (see [`EncodingHint`]).
    pub(crate) fn raw_get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let e = self.map.get_mut(key)?;
        e.note_encoding(&self.limits);
        Some(e)
    }

    /// Inserts or replaces `key`, keeping the expiry and memory bookkeeping
    /// right. A new key is stored as its own copy ([`keep`]); an overwrite
    /// keeps the stored key and, as Redis's `dbOverwrite`, the old value's
    /// LFU counter.
    pub(crate) fn insert(&mut self, key: &Bytes, mut entry: Entry) -> Option<Entry> {
        if entry.expire_at.is_some() {
            self.volatile += 1;
        }
        self.used += entry.account(key.len());
        if let Some(slot) = self.map.get_mut(key) {
            entry.lfu = slot.lfu;
            entry.lfu_time = slot.lfu_time;
            let old = std::mem::replace(slot, entry);
            if old.expire_at.is_some() {
                self.volatile -= 1;
            }
            self.used -= old.mem();
            return Some(old);
        }
        let key = keep(key);
        self.order.insert((scan_hash(&key), key.clone()));
        self.map.insert(key, entry);
        None
    }

    pub(crate) fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let (k, e) = self.map.remove_entry(key)?;
        if e.expire_at.is_some() {
            self.volatile -= 1;
        }
        self.used -= e.mem();
        self.order.remove(&(scan_hash(&k), k));
        Some(e)
    }

    /// Re-measures `key`'s share of `used_memory` after a command changed
    /// its value in place (`State::signal_modified` calls it); O(1) for a
    /// string and amortized O(1) per element for an aggregate (see [`mem`]).
    pub(crate) fn reaccount(&mut self, key: &[u8]) {
        if let Some(e) = self.map.get_mut(key) {
            let before = e.mem();
            self.used = self.used - before + e.account(key.len());
        }
    }

    /// This database's share of `used_memory`, in bytes.
    pub(crate) fn used_memory(&self) -> usize {
        self.used
    }

    /// Every key's share measured from scratch, summed (tests check the
    /// incrementally kept [`Db::used_memory`] against it).
    #[cfg(test)]
    pub(crate) fn measured_memory(&self) -> usize {
        self.map.iter().map(|(k, e)| e.measured(k.len())).sum()
    }

    /// Sets or clears the expiry of an existing key.
    pub(crate) fn set_expire(&mut self, key: &[u8], at: Option<u64>) -> bool {
        let Some(e) = self.map.get_mut(key) else { return false };
        match (e.expire_at.is_some(), at.is_some()) {
            (false, true) => {
                self.volatile += 1;
                self.used += mem::EXPIRE_OVERHEAD;
                e.mem.total += mem::EXPIRE_OVERHEAD;
            }
            (true, false) => {
                self.volatile -= 1;
                self.used -= mem::EXPIRE_OVERHEAD;
                e.mem.total -= mem::EXPIRE_OVERHEAD;
            }
            _ => {}
        }
        e.expire_at = at;
        true
    }

    pub(crate) fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
        self.volatile = 0;
        self.used = 0;
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Bytes, &Entry)> {
        self.map.iter()
    }

    /// Keys in SCAN order starting at hash `from`; the caller stops when it has enough.
    pub(crate) fn scan_from(&self, from: u64) -> impl Iterator<Item = &(u64, Bytes)> {
        self.order.range((from, Bytes::new())..)
    }

    /// Every key once, in SCAN order starting at hash `from` and wrapping
    /// around: eviction samples the keys that follow a random point, as
    /// Redis's `dictGetSomeKeys` walks the buckets after a random one.
    pub(crate) fn walk_from(&self, from: u64) -> impl Iterator<Item = (&Bytes, &Entry)> {
        let start = (from, Bytes::new());
        self.order
            .range(start.clone()..)
            .chain(self.order.range(..start))
            .filter_map(|(_, k)| self.map.get_key_value(k))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn hash(n: usize, value: &str) -> Value {
        Value::Hash((0..n).map(|i| (b(&format!("f{i}")), b(value))).collect())
    }

    fn zset(members: &[String]) -> Value {
        let mut z = ZSet::default();
        for (i, m) in members.iter().enumerate() {
            z.insert(b(m), i as f64);
        }
        Value::ZSet(z)
    }

    #[test]
    fn string_encodings() {
        let enc = |s: &str| Value::Str(b(s)).encoding();
        assert_eq!(enc("123"), "int");
        assert_eq!(enc("-9223372036854775808"), "int");
        assert_eq!(enc("9223372036854775808"), "embstr");
        assert_eq!(enc("01"), "embstr");
        assert_eq!(enc("-0"), "embstr");
        assert_eq!(enc(""), "embstr");
        assert_eq!(enc(&"a".repeat(44)), "embstr");
        assert_eq!(enc(&"a".repeat(45)), "raw");
    }

    #[test]
    fn aggregate_encodings_follow_the_default_thresholds() {
        assert_eq!(Value::List(VecDeque::new()).encoding(), "quicklist");
        assert_eq!(hash(512, "v").encoding(), "listpack");
        assert_eq!(hash(513, "v").encoding(), "hashtable");
        assert_eq!(hash(1, &"v".repeat(64)).encoding(), "listpack");
        assert_eq!(hash(1, &"v".repeat(65)).encoding(), "hashtable");
        let ints: IndexSet<Bytes> = (0..512).map(|i| b(&i.to_string())).collect();
        assert_eq!(Value::Set(ints.clone()).encoding(), "intset");
        let mut more = ints;
        more.insert(b("512"));
        assert_eq!(Value::Set(more).encoding(), "hashtable");
        assert_eq!(Value::Set([b("1"), b("x")].into_iter().collect()).encoding(), "hashtable");
        assert_eq!(Value::Set([b(" 1")].into_iter().collect()).encoding(), "hashtable");
        let names: Vec<String> = (0..128).map(|i| format!("m{i}")).collect();
        assert_eq!(zset(&names).encoding(), "listpack");
        let mut more = names;
        more.push("m128".into());
        assert_eq!(zset(&more).encoding(), "skiplist");
        assert_eq!(zset(&["a".repeat(64)]).encoding(), "listpack");
        assert_eq!(zset(&["a".repeat(65)]).encoding(), "skiplist");
    }

    #[test]
    fn a_converted_aggregate_never_returns_to_its_compact_encoding() {
        let mut db = Db::default();
        let key = b("h");
        db.insert(&key, Entry::new(hash(1, &"v".repeat(65)), 0));
        // A write command looks the key up before changing it.
        let e = db.raw_get_mut(&key).unwrap();
        e.value = hash(1, "v");
        assert_eq!(db.raw_get(&key).unwrap().encoding(), "hashtable");
        // A new value under the key starts over.
        db.insert(&key, Entry::new(hash(1, "v"), 0));
        assert_eq!(db.raw_get(&key).unwrap().encoding(), "listpack");
    }

    #[test]
    fn string_history_and_refcounts() {
        let mut e = Entry::new(Value::Str(b("5")), 0);
        assert_eq!((e.encoding(), e.refcount(true)), ("int", i32::MAX as i64));
        assert_eq!(e.refcount(false), 1);
        e.enc = EncodingHint::Unshared;
        assert_eq!((e.encoding(), e.refcount(true)), ("int", 1));
        e.enc = EncodingHint::Raw;
        assert_eq!((e.encoding(), e.refcount(true)), ("raw", 1));
        e.enc = EncodingHint::NoInt;
        assert_eq!(e.encoding(), "embstr");
        let big = Entry::new(Value::Str(b("10000")), 0);
        assert_eq!(big.refcount(true), 1);
    }
}
