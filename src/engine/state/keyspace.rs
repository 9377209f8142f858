//! The keyspace's operations: every read and write of the databases goes
//! through these, and each write keeps the rules Redis's `dbAdd`,
//! `setKey`, `dbDelete` and `signalModifiedKey` keep, so that no handler
//! can forget one:
//!
//! - **WATCH**: every write, expiry and eviction marks the clients WATCHing
//!   the key dirty (their EXEC fails);
//! - **ready keys**: a new list, sorted set or stream key (and a stream key
//!   deleted under a blocked XREADGROUP) is signalled to the blocking registry;
//! - **memory**: a key's share of `used_memory` is re-measured after it changes;
//! - **events**: expiry (`expired`) and eviction (`evicted`) raise their
//!   keyspace events here; a command's own event (`set`, `lpush`, ...) names
//!   the command, so its handler raises it with [`State::notify`], as each
//!   Redis command calls `notifyKeyspaceEvent` itself.
//!
//! In-place edits of a value ([`State::lookup`], [`State::entry_mut`]) end
//! with [`State::signal_modified`], the one step a handler owes: Redis's
//! commands call `signalModifiedKey` the same way, and only after a change
//! (SADD of a member already there touches nothing).

use bytes::Bytes;

use super::State;
use crate::store::{Db, EncodingHint, Entry, Value};

impl State {
    /// Database `db` (read only; writes go through the operations below).
    pub(crate) fn db(&self, db: usize) -> &Db {
        &self.dbs[db]
    }

    /// How many databases there are (`databases`).
    pub(crate) fn db_count(&self) -> usize {
        self.dbs.len()
    }

    /// Every database, in index order.
    pub(crate) fn dbs(&self) -> impl Iterator<Item = &Db> {
        self.dbs.iter()
    }

    /// The entry under `key` as stored: no lazy expiry, no access time, no
    /// hit or miss counted (TYPE-free peeks such as OBJECT, MEMORY USAGE,
    /// DEBUG and the blocking registry's checks).
    pub(crate) fn peek(&self, db: usize, key: &[u8]) -> Option<&Entry> {
        self.dbs[db].raw_get(key)
    }

    /// The entry under `key` for an in-place edit, as stored (no expiry, no
    /// access time). The caller ends a change with [`State::signal_modified`].
    pub(crate) fn entry_mut(&mut self, db: usize, key: &[u8]) -> Option<&mut Entry> {
        self.dbs[db].raw_get_mut(key)
    }

    /// Sets the encoding a value reports (OBJECT ENCODING) without changing it.
    pub(crate) fn set_encoding(&mut self, db: usize, key: &[u8], enc: EncodingHint) {
        if let Some(e) = self.dbs[db].raw_get_mut(key) {
            e.enc = enc;
        }
    }

    /// Looks a key up, expiring it first if its time has passed (lazy expiry).
    pub(crate) fn lookup(&mut self, db: usize, key: &[u8], now: u64) -> Option<&mut Entry> {
        self.expire_if_needed(db, key, now);
        let e = self.dbs[db].raw_get_mut(key)?;
        e.last_access = now;
        if self.config.mm.policy.is_lfu() {
            super::super::evict::touch_lfu(e, &self.config.mm, &mut self.rng, now);
        }
        Some(e)
    }

    /// Like [`State::lookup`] but counts a keyspace hit or miss (read commands).
    pub(crate) fn lookup_read(&mut self, db: usize, key: &[u8], now: u64) -> Option<&mut Entry> {
        // One hash to classify the key (the usual live hit skips expire_if_needed's own lookup).
        let live = match self.dbs[db].raw_get(key) {
            None => false,
            Some(e) if e.expire_at.is_some_and(|at| at <= now) => !self.expire_if_needed(db, key, now),
            Some(_) => true,
        };
        if !live {
            self.stats.keyspace_misses += 1;
            if !self.config.notify_flags.is_empty() {
                self.notify(db, 'm', "keymiss", &Bytes::copy_from_slice(key));
            }
            return None;
        }
        self.stats.keyspace_hits += 1;
        let e = self.dbs[db].raw_get_mut(key)?;
        e.last_access = now;
        if self.config.mm.policy.is_lfu() {
            super::super::evict::touch_lfu(e, &self.config.mm, &mut self.rng, now);
        }
        Some(e)
    }

    /// Whether a live key exists (expires it lazily if due).
    pub(crate) fn exists(&mut self, db: usize, key: &[u8], now: u64) -> bool {
        self.expire_if_needed(db, key, now);
        self.dbs[db].raw_get(key).is_some()
    }

    /// Deletes `key` if its expiry has passed; returns whether it did.
    pub(crate) fn expire_if_needed(&mut self, db: usize, key: &[u8], now: u64) -> bool {
        let due = matches!(self.dbs[db].raw_get(key), Some(e) if e.expire_at.is_some_and(|at| at <= now));
        if due {
            self.dbs[db].remove(key);
            self.stats.expired_keys += 1;
            let key = Bytes::copy_from_slice(key);
            self.signal_watchers(db, &key);
            self.notify(db, 'x', "expired", &key);
        }
        due
    }

    /// Active expiry: reclaims every due key in every db.
    pub(crate) fn expire_cycle(&mut self, now: u64) {
        if !self.active_expire {
            return;
        }
        for db in 0..self.dbs.len() {
            for key in self.dbs[db].expired_keys(now) {
                self.expire_if_needed(db, &key, now);
            }
        }
    }

    /// Stores `value` under `key` (replacing any value and clearing its TTL),
    /// and signals the write.
    #[inline]
    pub(crate) fn set_value(&mut self, db: usize, key: &Bytes, value: Value, now: u64) {
        self.store_entry(db, key, Entry::new(value, now));
    }

    /// Deletes `key`; returns whether it existed. Signals the write.
    pub(crate) fn delete(&mut self, db: usize, key: &[u8], now: u64) -> bool {
        if !self.exists(db, key, now) {
            return false;
        }
        self.dbs[db].remove(key);
        self.signal_watchers(db, &Bytes::copy_from_slice(key));
        true
    }

    /// Redis's `signalModifiedKey`: every write to a key calls this (after
    /// the change), so that clients WATCHing it fail their EXEC. It also
    /// re-measures the key's share of `used_memory` (see `crate::store::mem`),
    /// which is how in-place writes keep the accounting current.
    pub(crate) fn signal_modified(&mut self, db: usize, key: &Bytes) {
        self.dbs[db].reaccount(key);
        self.signal_watchers(db, key);
    }

    /// Redis's `setKey` with a TTL: stores `value` under `key` with expiry
    /// `expire_at` (unix ms; `None` for none), and signals the write.
    pub(crate) fn set_value_expiring(
        &mut self,
        db: usize,
        key: &Bytes,
        value: Value,
        expire_at: Option<u64>,
        now: u64,
    ) {
        self.set_value(db, key, value, now);
        if expire_at.is_some() {
            self.dbs[db].set_expire(key, expire_at);
        }
    }

    /// Stores a prepared entry (RESTORE, COPY, MOVE, RENAME; a new empty
    /// aggregate its command fills next), replacing any value, and signals
    /// the write as [`State::set_value`] does.
    #[inline]
    pub(crate) fn store_entry(&mut self, db: usize, key: &Bytes, entry: Entry) {
        // Redis's dbAdd signals every new list/zset/stream key (RENAME, MOVE, COPY, ...) as ready.
        let ready = matches!(entry.value, Value::List(_) | Value::ZSet(_) | Value::Stream(_));
        self.dbs[db].insert(key, entry);
        self.signal_watchers(db, key);
        if ready {
            self.signal_ready(db, key);
        }
    }

    /// Removes `key` as stored (no lazy expiry first) and signals the
    /// deletion; returns the entry (RENAME and MOVE store it elsewhere).
    pub(crate) fn remove_entry(&mut self, db: usize, key: &[u8]) -> Option<Entry> {
        let e = self.dbs[db].remove(key)?;
        self.signal_watchers(db, &Bytes::copy_from_slice(key));
        Some(e)
    }

    /// Sets or clears `key`'s TTL (EXPIRE, PERSIST, GETEX, ...) and signals
    /// the write. Returns whether the key exists.
    pub(crate) fn set_expire(&mut self, db: usize, key: &Bytes, at: Option<u64>) -> bool {
        if !self.dbs[db].set_expire(key, at) {
            return false;
        }
        self.signal_watchers(db, key);
        true
    }

    /// Re-measures `key`'s share of `used_memory` after an edit that, as in
    /// Redis, signals no write (PFCOUNT caching its cardinality, a string
    /// grown by SETRANGE's zero padding before a refused write).
    pub(crate) fn remeasure(&mut self, db: usize, key: &[u8]) {
        self.dbs[db].reaccount(key);
    }

    /// Deletes `key` if it holds an emptied list, set, hash, sorted set
    /// (Redis deletes a key whose last element went); returns whether it did.
    pub(crate) fn remove_if_empty(&mut self, db: usize, key: &Bytes) -> bool {
        let empty = self.dbs[db].raw_get(key).is_some_and(|e| e.value.is_empty_aggregate());
        if empty {
            self.dbs[db].remove(key);
            self.signal_watchers(db, key);
        }
        empty
    }

    /// FLUSHDB: empties `db`, failing the EXEC of clients WATCHing a key it held.
    pub(crate) fn flush_db(&mut self, db: usize) {
        self.dbs[db].clear();
        self.signal_flushed(Some(db));
    }

    /// FLUSHALL: empties every db, failing the EXEC of clients WATCHing a key they held.
    pub(crate) fn flush_all(&mut self) {
        for db in &mut self.dbs {
            db.clear();
        }
        self.signal_flushed(None);
    }

    /// SWAPDB: exchanges two dbs' contents; WATCHed keys in either see
    /// different data, and clients blocked on keys that now exist may proceed.
    pub(crate) fn swap_dbs(&mut self, a: usize, b: usize, now: u64) {
        if a == b {
            return;
        }
        self.dbs.swap(a, b);
        self.signal_swapped(a, b, now);
        for db in [a, b] {
            super::super::blocking::signal_waited_keys(self, db, now);
        }
    }

    /// Eviction's delete: removes `key`, counts it, signals WATCH and raises `evicted`.
    pub(crate) fn evict_key(&mut self, db: usize, key: &Bytes) {
        self.dbs[db].remove(key);
        self.stats.evicted_keys += 1;
        self.signal_watchers(db, key);
        self.notify(db, 'e', "evicted", key);
    }

    /// Applies the encoding thresholds of the current config to every db
    /// (after CONFIG SET).
    pub(super) fn sync_encoding_limits(&mut self) {
        let limits = self.config.encoding;
        for db in &mut self.dbs {
            db.limits = limits;
        }
    }
}
