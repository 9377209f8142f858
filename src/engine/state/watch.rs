//! WATCH bookkeeping: who watches which key, and which clients' EXEC must
//! fail because a key they watch was touched, flushed, swapped or expired.

use bytes::Bytes;

use super::{State, Watcher};

impl State {
    /// The WATCH half of [`State::signal_modified`], for callers that kept
    /// the memory accounting themselves (insert, delete, expiry, eviction).
    pub(crate) fn signal_watchers(&mut self, db: usize, key: &Bytes) {
        // XREADGROUP clients answer a deleted or overwritten stream key.
        if self.blocking.wakes_on_delete(db, key) {
            self.signal_ready(db, key);
        }
        if self.watchers.is_empty() {
            return;
        }
        if let Some(ws) = self.watchers.get_mut(&(db, key.clone())) {
            let gone = self.dbs[db].raw_get(key).is_none();
            for w in ws.iter_mut() {
                if w.expired && gone {
                    // A key already expired when WATCHed was reclaimed: no logical change.
                    *w = Watcher { client: w.client, existed: false, expired: false };
                } else {
                    self.dirty_clients.insert(w.client);
                }
            }
        }
    }

    /// FLUSHDB (`Some(db)`) / FLUSHALL (`None`): marks dirty the clients
    /// WATCHing a key that was in an emptied db. Works whether it is called
    /// before or after the db is emptied. SWAPDB uses [`State::signal_swapped`].
    pub(crate) fn signal_flushed(&mut self, db: Option<usize>) {
        let mut dirty = Vec::new();
        for ((d, key), ws) in self.watchers.iter_mut() {
            if db.is_some_and(|db| *d != db) {
                continue;
            }
            let present = self.dbs[*d].raw_get(key).is_some();
            for w in ws.iter_mut() {
                if w.expired {
                    // Emptying a db that held only a stale copy changes nothing.
                    *w = Watcher { client: w.client, existed: false, expired: false };
                } else if w.existed || present {
                    dirty.push(w.client);
                }
            }
        }
        self.dirty_clients.extend(dirty);
    }

    /// SWAPDB a b, called after the swap: a WATCHed key is touched if it was
    /// in its db before or is there now (unless only stale copies are involved).
    pub(crate) fn signal_swapped(&mut self, a: usize, b: usize, now: u64) {
        let mut dirty = Vec::new();
        for ((d, key), ws) in self.watchers.iter_mut() {
            if *d != a && *d != b {
                continue;
            }
            let entry = self.dbs[*d].raw_get(key);
            let present = entry.is_some();
            let stale = entry.is_some_and(|e| e.expire_at.is_some_and(|at| at <= now));
            for w in ws.iter_mut() {
                if w.expired || (!w.existed && stale) {
                    // Stale before and stale (or absent) after: no logical change.
                    *w = Watcher { client: w.client, existed: present, expired: stale };
                    if present && !stale {
                        dirty.push(w.client);
                    }
                } else if w.existed || present {
                    dirty.push(w.client);
                }
            }
        }
        self.dirty_clients.extend(dirty);
    }

    /// WATCH: starts watching `key` in `db` for `client` (no-op if it already does).
    pub(crate) fn watch(&mut self, client: u64, db: usize, key: &Bytes, now: u64) {
        let entry = self.dbs[db].raw_get(key);
        let existed = entry.is_some();
        let expired = entry.is_some_and(|e| e.expire_at.is_some_and(|at| at <= now));
        let ws = self.watchers.entry((db, key.clone())).or_default();
        if !ws.iter().any(|w| w.client == client) {
            ws.push(Watcher { client, existed, expired });
        }
    }

    /// UNWATCH (also EXEC, DISCARD, RESET, disconnect): forgets every key
    /// `client` watches and whether one was touched.
    pub(crate) fn unwatch_all(&mut self, client: u64) {
        self.dirty_clients.remove(&client);
        if self.watchers.is_empty() {
            return;
        }
        self.watchers.retain(|_, ws| {
            ws.retain(|w| w.client != client);
            !ws.is_empty()
        });
    }

    /// Whether EXEC must fail for `client`: a WATCHed key was touched, or
    /// expired since WATCH (even if not reclaimed yet).
    pub(crate) fn watch_failed(&self, client: u64, now: u64) -> bool {
        if self.dirty_clients.contains(&client) {
            return true;
        }
        self.watchers.iter().any(|((db, key), ws)| {
            ws.iter().any(|w| {
                w.client == client
                    && !w.expired
                    && self.dbs[*db].raw_get(key).is_some_and(|e| e.expire_at.is_some_and(|at| at <= now))
            })
        })
    }

    /// Whether a key client `id` WATCHes was touched (its EXEC will fail).
    pub(crate) fn is_dirty(&self, id: u64) -> bool {
        self.dirty_clients.contains(&id)
    }

    /// Forgets which WATCHing clients were touched (unit tests).
    #[cfg(test)]
    pub(crate) fn clear_dirty(&mut self) {
        self.dirty_clients.clear();
    }
}
