//! `maxmemory` and the eviction policies, after Redis 7.0's `evict.c`.
//!
//! Memory is the fake's own accounting (`crate::store::mem`), not an
//! allocator's. When `maxmemory` is set, every command first runs
//! [`State::perform_evictions`] (as Redis's `processCommand` calls
//! `performEvictions`): while used memory is over the limit it evicts keys
//! chosen by `maxmemory-policy`, each eviction deleting the key, counting
//! in INFO's `evicted_keys`, touching it for WATCH and raising the
//! `evicted` keyspace event (class `e`). If it cannot get under the limit
//! (`noeviction`, or nothing left to evict), commands flagged `denyoom` —
//! and, inside MULTI, every command but EXEC, DISCARD, QUIT and RESET — are
//! refused with [`OOM_ERROR`] (see `super::exec::dispatch`).
//!
//! The LRU, LFU and TTL policies are approximations, as Redis's are: each
//! round samples `maxmemory-samples` keys from every database (the keys
//! that follow a random point in the keyspace, only keys with a TTL for
//! `volatile-*`), merges them into a pool of the 16 best candidates kept
//! across rounds, and evicts the best candidate that still exists: the one
//! idle longest (LRU), with the lowest decayed access counter (LFU), or
//! expiring soonest (TTL). The random policies take a random key of the next
//! non-empty database in turn. All randomness comes from the server's seeded
//! RNG, so a run is reproducible; with no more keys than samples the choice
//! is exact.
//!
//! Unlike Redis, eviction is not cut short by a time budget
//! (`maxmemory-eviction-tenacity`): it runs until memory is under the limit
//! or nothing is left to evict.

use bytes::Bytes;

use super::config::Config;
use super::state::State;
use crate::store::{lfu_minutes, Entry};

/// Redis's `shared.oomerr` (without the leading `-`).
pub(crate) const OOM_ERROR: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// Size of the eviction pool (Redis's `EVPOOL_SIZE`).
const POOL_SIZE: usize = 16;

/// `maxmemory-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Policy {
    /// Evict nothing; refuse `denyoom` commands when over the limit.
    #[default]
    NoEviction,
    /// Least recently used among all keys.
    AllkeysLru,
    /// Least recently used among keys with a TTL.
    VolatileLru,
    /// Least frequently used among all keys.
    AllkeysLfu,
    /// Least frequently used among keys with a TTL.
    VolatileLfu,
    /// Any key.
    AllkeysRandom,
    /// Any key with a TTL.
    VolatileRandom,
    /// The key with the nearest expiry.
    VolatileTtl,
}

impl Policy {
    /// Parses a `maxmemory-policy` value (as CONFIG SET has normalized it).
    fn parse(v: &str) -> Policy {
        match v {
            "allkeys-lru" => Policy::AllkeysLru,
            "volatile-lru" => Policy::VolatileLru,
            "allkeys-lfu" => Policy::AllkeysLfu,
            "volatile-lfu" => Policy::VolatileLfu,
            "allkeys-random" => Policy::AllkeysRandom,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => Policy::NoEviction,
        }
    }

    /// Whether the policy only evicts keys with a TTL.
    fn volatile_only(self) -> bool {
        matches!(self, Policy::VolatileLru | Policy::VolatileLfu | Policy::VolatileRandom | Policy::VolatileTtl)
    }

    /// Whether the policy tracks access frequency (Redis's `MAXMEMORY_FLAG_LFU`).
    pub(crate) fn is_lfu(self) -> bool {
        matches!(self, Policy::AllkeysLfu | Policy::VolatileLfu)
    }
}

/// The `maxmemory*` and `lfu-*` parameters, parsed once per CONFIG SET
/// (commands read them on every call).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct MaxMemory {
    /// `maxmemory` in bytes; 0 is no limit.
    pub limit: u64,
    /// `maxmemory-policy`.
    pub policy: Policy,
    /// `maxmemory-samples`.
    pub samples: usize,
    /// `lfu-log-factor`.
    pub lfu_log_factor: u64,
    /// `lfu-decay-time`, in minutes.
    pub lfu_decay_time: u64,
}

impl MaxMemory {
    /// Reads the parameters from `config`.
    pub(crate) fn from_config(config: &Config) -> MaxMemory {
        let num = |name: &str, default: u64| config.get(name).and_then(|v| v.parse().ok()).unwrap_or(default);
        MaxMemory {
            limit: num("maxmemory", 0),
            policy: Policy::parse(config.get("maxmemory-policy").unwrap_or("noeviction")),
            samples: num("maxmemory-samples", 5).max(1) as usize,
            lfu_log_factor: num("lfu-log-factor", 10),
            lfu_decay_time: num("lfu-decay-time", 1),
        }
    }

    /// Whether a CONFIG SET of `name` changes these values.
    pub(crate) fn depends_on(name: &str) -> bool {
        name.starts_with("maxmemory") || name.starts_with("lfu-")
    }
}

/// Redis's `LFUTimeElapsed`: minutes since `then`, on the 16-bit clock.
fn lfu_elapsed(then: u16, now_ms: u64) -> u64 {
    let now = lfu_minutes(now_ms);
    if now >= then {
        u64::from(now - then)
    } else {
        65_535 - u64::from(then) + u64::from(now)
    }
}

/// Redis's `LFUDecrAndReturn`: the counter after one decrement per
/// `lfu-decay-time` minutes elapsed since it was last updated.
pub(crate) fn lfu_decayed(e: &Entry, mm: &MaxMemory, now_ms: u64) -> u8 {
    let periods = lfu_elapsed(e.lfu_time, now_ms).checked_div(mm.lfu_decay_time).unwrap_or(0);
    u64::from(e.lfu).saturating_sub(periods) as u8
}

/// Redis's `LFULogIncr`: increments with probability
/// 1 / ((counter - LFU_INIT_VAL) * lfu-log-factor + 1), saturating at 255.
fn lfu_log_incr(counter: u8, factor: u64, rng: &mut fastrand::Rng) -> u8 {
    if counter == u8::MAX {
        return counter;
    }
    let base = u64::from(counter.saturating_sub(crate::store::LFU_INIT_VAL));
    let p = 1.0 / (base as f64 * factor as f64 + 1.0);
    if rng.f64() < p {
        counter + 1
    } else {
        counter
    }
}

/// Redis's `updateLFU`, run when a command accesses a key under an LFU
/// policy: decay, then a logarithmic increment from the server's RNG.
pub(crate) fn touch_lfu(e: &mut Entry, mm: &MaxMemory, rng: &mut fastrand::Rng, now_ms: u64) {
    let counter = lfu_decayed(e, mm, now_ms);
    e.lfu = lfu_log_incr(counter, mm.lfu_log_factor, rng);
    e.lfu_time = lfu_minutes(now_ms);
}

/// One eviction candidate.
#[derive(Debug, Clone)]
struct Candidate {
    /// Higher is evicted first.
    score: u64,
    db: usize,
    key: Bytes,
}

/// Eviction state kept across commands.
#[derive(Debug, Default)]
pub(crate) struct Evictor {
    /// Best candidates so far, ascending by score (Redis's `EvictionPoolLRU`).
    pool: Vec<Candidate>,
    /// The random policies' round-robin database cursor (Redis's `next_db`).
    next_db: usize,
    /// The highest `used_memory` an eviction round started from; INFO's
    /// `used_memory_peak` is the larger of it and the current value (the
    /// fake does not sample memory after every write).
    pub peak: u64,
}

impl Evictor {
    /// Redis's pool insertion: a candidate worse than every entry of a full
    /// pool is dropped; otherwise it goes in order, pushing out the worst.
    fn offer(&mut self, c: Candidate) {
        if let Some(i) = self.pool.iter().position(|p| p.db == c.db && p.key == c.key) {
            self.pool.remove(i);
        }
        let k = self.pool.iter().position(|p| p.score >= c.score).unwrap_or(self.pool.len());
        if self.pool.len() < POOL_SIZE {
            self.pool.insert(k, c);
        } else if k > 0 {
            self.pool.remove(0);
            self.pool.insert(k - 1, c);
        }
    }
}

impl State {
    /// `used_memory` as INFO reports it and `maxmemory` is compared against
    /// (see `crate::store::mem`).
    pub(crate) fn used_memory(&self) -> u64 {
        crate::store::mem::STARTUP + self.dbs().map(|d| d.used_memory() as u64).sum::<u64>()
    }

    /// Redis's `performEvictions`: evicts keys by `maxmemory-policy` while
    /// used memory is over `maxmemory`. Returns whether memory is still over
    /// the limit (the caller then refuses `denyoom` commands). Callers only
    /// come here with `maxmemory` set.
    pub(crate) fn perform_evictions(&mut self, now: u64) -> bool {
        let mm = self.config().mm;
        let mut used = self.used_memory();
        self.evict.peak = self.evict.peak.max(used);
        while mm.limit != 0 && used > mm.limit {
            if mm.policy == Policy::NoEviction {
                return true;
            }
            let Some((db, key)) = self.pick_victim(&mm, now) else { return true };
            self.evict_key(db, &key);
            used = self.used_memory();
        }
        false
    }

    /// The next key to evict, or None if the policy finds none.
    fn pick_victim(&mut self, mm: &MaxMemory, now: u64) -> Option<(usize, Bytes)> {
        let volatile = mm.policy.volatile_only();
        let candidates = |db: &crate::store::Db| if volatile { db.volatile_len() } else { db.len() };
        if matches!(mm.policy, Policy::AllkeysRandom | Policy::VolatileRandom) {
            let n = self.db_count();
            for _ in 0..n {
                self.evict.next_db = (self.evict.next_db + 1) % n;
                let from = self.rng.u64(..);
                let db = self.db(self.evict.next_db);
                if candidates(db) == 0 {
                    continue;
                }
                let key = db.walk_from(from).find(|(_, e)| !volatile || e.expire_at.is_some()).map(|(k, _)| k.clone());
                if let Some(key) = key {
                    return Some((self.evict.next_db, key));
                }
            }
            return None;
        }
        loop {
            let mut total = 0;
            for i in 0..self.db_count() {
                let from = self.rng.u64(..);
                let db = self.db(i);
                let keys = candidates(db);
                if keys == 0 {
                    continue;
                }
                total += keys;
                let sampled: Vec<Candidate> = db
                    .walk_from(from)
                    .filter(|(_, e)| !volatile || e.expire_at.is_some())
                    .take(mm.samples)
                    .map(|(k, e)| Candidate { score: score(mm, e, now), db: i, key: k.clone() })
                    .collect();
                for c in sampled {
                    self.evict.offer(c);
                }
            }
            if total == 0 {
                return None;
            }
            while let Some(c) = self.evict.pool.pop() {
                let live = self.peek(c.db, &c.key).is_some_and(|e| !volatile || e.expire_at.is_some());
                if live {
                    return Some((c.db, c.key));
                }
            }
        }
    }
}

/// How strongly a policy wants `e` gone (Redis's pool `idle` value).
fn score(mm: &MaxMemory, e: &Entry, now: u64) -> u64 {
    match mm.policy {
        Policy::AllkeysLfu | Policy::VolatileLfu => 255 - u64::from(lfu_decayed(e, mm, now)),
        Policy::VolatileTtl => u64::MAX - e.expire_at.unwrap_or(u64::MAX),
        _ => now.saturating_sub(e.last_access),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Value, LFU_INIT_VAL};

    fn mm(policy: Policy) -> MaxMemory {
        MaxMemory { limit: 1, policy, samples: 5, lfu_log_factor: 10, lfu_decay_time: 1 }
    }

    #[test]
    fn policies_parse_from_the_config() {
        let mut c = Config::default();
        assert_eq!(
            MaxMemory::from_config(&c),
            MaxMemory { limit: 0, samples: 5, lfu_log_factor: 10, lfu_decay_time: 1, policy: Policy::NoEviction }
        );
        c.params.insert("maxmemory-policy", "volatile-ttl".into());
        c.params.insert("maxmemory", "1048576".into());
        let m = MaxMemory::from_config(&c);
        assert_eq!((m.policy, m.limit), (Policy::VolatileTtl, 1 << 20));
    }

    #[test]
    fn lfu_counter_grows_logarithmically_and_decays_per_period() {
        let mut rng = fastrand::Rng::with_seed(7);
        let now = 1_700_000_000_000;
        let mut e = Entry::new(Value::Str(Bytes::from_static(b"v")), now);
        assert_eq!(e.lfu, LFU_INIT_VAL);
        touch_lfu(&mut e, &mm(Policy::AllkeysLfu), &mut rng, now);
        assert_eq!(e.lfu, LFU_INIT_VAL + 1, "at the initial value the increment is certain");
        for _ in 0..1000 {
            touch_lfu(&mut e, &mm(Policy::AllkeysLfu), &mut rng, now);
        }
        // p = 1/((c-5)*10+1): a thousand hits reach roughly sqrt(2*1000/10) above 5.
        assert!((15..=30).contains(&e.lfu), "{}", e.lfu);
        let c = e.lfu;
        assert_eq!(lfu_decayed(&e, &mm(Policy::AllkeysLfu), now + 3 * 60_000), c - 3);
        let slow = MaxMemory { lfu_decay_time: 2, ..mm(Policy::AllkeysLfu) };
        assert_eq!(lfu_decayed(&e, &slow, now + 3 * 60_000), c - 1);
        let never = MaxMemory { lfu_decay_time: 0, ..mm(Policy::AllkeysLfu) };
        assert_eq!(lfu_decayed(&e, &never, now + 300 * 60_000), c);
        // Factor 0: every access counts.
        let eager = MaxMemory { lfu_log_factor: 0, ..mm(Policy::AllkeysLfu) };
        touch_lfu(&mut e, &eager, &mut rng, now);
        assert_eq!(e.lfu, c + 1);
    }

    #[test]
    fn the_pool_keeps_the_best_candidates_in_order() {
        let mut ev = Evictor::default();
        let c = |score, key: &str| Candidate { score, db: 0, key: Bytes::copy_from_slice(key.as_bytes()) };
        for i in 0..20u64 {
            ev.offer(c(i * 10, &format!("k{i}")));
        }
        assert_eq!(ev.pool.len(), POOL_SIZE);
        assert_eq!(ev.pool.first().map(|c| c.score), Some(40));
        ev.offer(c(5, "worse"));
        assert!(ev.pool.iter().all(|c| c.key != "worse"));
        ev.offer(c(1000, "k4"));
        assert_eq!(ev.pool.last().map(|c| (&c.key[..], c.score)), Some((&b"k4"[..], 1000)));
        assert_eq!(ev.pool.iter().filter(|c| c.key == "k4").count(), 1);
    }
}
