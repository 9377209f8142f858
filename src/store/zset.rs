//! Sorted set: members ordered by (score, member), with score lookup by member.
//!
//! Besides the data, the set remembers which encoding Redis would be using
//! for it (listpack or skiplist), because that encoding is visible to
//! clients: ZSCAN returns a listpack in one call, a listpack stores `-0` as
//! `0`, and OBJECT ENCODING reports it.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;

use bytes::Bytes;

/// `zset-max-listpack-entries` default: more members than this means a skiplist.
pub(crate) const LISTPACK_MAX_ENTRIES: usize = 128;
/// `zset-max-listpack-value` default: a longer member means a skiplist.
pub(crate) const LISTPACK_MAX_VALUE: usize = 64;

/// A score with the total order Redis uses (scores are never NaN; `-0` and
/// `0` compare equal, as C's `<` does in Redis's skiplist).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Score(pub f64);

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.partial_cmp(&other.0).unwrap_or(Ordering::Equal)
    }
}

/// Sorted set storage.
#[derive(Debug, Clone)]
pub(crate) struct ZSet {
    pub scores: HashMap<Bytes, f64>,
    pub sorted: BTreeSet<(Score, Bytes)>,
    /// Whether Redis would hold this set as a listpack. Redis converts a
    /// listpack to a skiplist when it grows past the limits and never back
    /// (only freshly built *STORE results start small again).
    listpack: bool,
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::new()
    }
}

impl ZSet {
    /// An empty set, listpack-encoded as Redis creates small sets.
    pub(crate) fn new() -> ZSet {
        ZSet { scores: HashMap::new(), sorted: BTreeSet::new(), listpack: true }
    }

    pub(crate) fn len(&self) -> usize {
        self.scores.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// Whether Redis would encode this set as a listpack (else a skiplist).
    pub(crate) fn is_listpack(&self) -> bool {
        self.listpack
    }

    /// Inserts or updates; returns the previous score.
    pub(crate) fn insert(&mut self, member: Bytes, score: f64) -> Option<f64> {
        if self.listpack
            && (member.len() > LISTPACK_MAX_VALUE
                || (!self.scores.contains_key(&member) && self.len() + 1 > LISTPACK_MAX_ENTRIES))
        {
            self.listpack = false;
        }
        // A listpack stores an integral score as an integer, which loses the sign of zero.
        let score = if self.listpack && score == 0.0 { 0.0 } else { score };
        let old = self.scores.insert(member.clone(), score);
        if let Some(o) = old {
            self.sorted.remove(&(Score(o), member.clone()));
        }
        self.sorted.insert((Score(score), member));
        old
    }

    pub(crate) fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (m, s) = self.scores.remove_entry(member)?;
        self.sorted.remove(&(Score(s), m));
        Some(s)
    }

    pub(crate) fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    /// Members in ascending (score, member) order.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = (&Bytes, f64)> + ExactSizeIterator {
        self.sorted.iter().map(|(s, m)| (m, s.0))
    }

    /// Members in ascending order from the first whose score is at least `min`.
    pub(crate) fn iter_from(&self, min: f64) -> impl Iterator<Item = (&Bytes, f64)> {
        self.sorted.range((Bound::Included((Score(min), Bytes::new())), Bound::Unbounded)).map(|(s, m)| (m, s.0))
    }

    /// 0-based position of `member` in ascending order.
    pub(crate) fn rank(&self, member: &[u8]) -> Option<usize> {
        let (m, s) = self.scores.get_key_value(member)?;
        let key = (Score(*s), m.clone());
        Some(self.sorted.range((Bound::Unbounded, Bound::Excluded(&key))).count())
    }

    /// Removes and returns the lowest (or highest) member.
    pub(crate) fn pop(&mut self, max: bool) -> Option<(Bytes, f64)> {
        let (s, m) = if max { self.sorted.pop_last()? } else { self.sorted.pop_first()? };
        self.scores.remove(&m);
        Some((m, s.0))
    }

    /// A new set built from `items` as a *STORE command builds its
    /// destination: the encoding follows the final size only.
    pub(crate) fn from_items(items: impl IntoIterator<Item = (Bytes, f64)>) -> ZSet {
        let mut z = ZSet::new();
        z.listpack = false;
        for (m, s) in items {
            z.insert(m, s);
        }
        if z.len() <= LISTPACK_MAX_ENTRIES && z.scores.keys().all(|m| m.len() <= LISTPACK_MAX_VALUE) {
            z.listpack = true;
            let zeros: Vec<Bytes> =
                z.scores.iter().filter(|(_, s)| **s == 0.0 && s.is_sign_negative()).map(|(m, _)| m.clone()).collect();
            for m in zeros {
                z.insert(m, 0.0);
            }
        }
        z
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_rank_and_pop() {
        let mut z = ZSet::new();
        z.insert(Bytes::from("b"), 1.0);
        z.insert(Bytes::from("a"), 1.0);
        z.insert(Bytes::from("c"), -1.0);
        let order: Vec<_> = z.iter().map(|(m, _)| m.clone()).collect();
        assert_eq!(order, vec![Bytes::from("c"), Bytes::from("a"), Bytes::from("b")]);
        assert_eq!(z.rank(b"b"), Some(2));
        assert_eq!(z.rank(b"x"), None);
        assert_eq!(z.insert(Bytes::from("c"), 5.0), Some(-1.0));
        assert_eq!(z.rank(b"c"), Some(2));
        assert_eq!(z.pop(true), Some((Bytes::from("c"), 5.0)));
        assert_eq!(z.pop(false), Some((Bytes::from("a"), 1.0)));
        assert_eq!(z.len(), 1);
    }

    #[test]
    fn encoding_follows_redis_limits() {
        let mut z = ZSet::new();
        for i in 0..LISTPACK_MAX_ENTRIES {
            z.insert(Bytes::from(i.to_string()), i as f64);
        }
        assert!(z.is_listpack());
        z.insert(Bytes::from("0"), 3.0);
        assert!(z.is_listpack());
        z.insert(Bytes::from("new"), 3.0);
        assert!(!z.is_listpack());
        z.remove(b"new");
        assert!(!z.is_listpack(), "Redis never converts back");
        let mut long = ZSet::new();
        long.insert(Bytes::from(vec![b'x'; LISTPACK_MAX_VALUE + 1]), -0.0);
        assert!(!long.is_listpack());
        assert!(long.iter().next().unwrap().1.is_sign_negative());
    }

    #[test]
    fn listpack_loses_negative_zero() {
        let mut z = ZSet::new();
        z.insert(Bytes::from("a"), -0.0);
        assert!(z.score(b"a").unwrap().is_sign_positive());
        let stored = ZSet::from_items([(Bytes::from("a"), -0.0)]);
        assert!(stored.is_listpack());
        assert!(stored.score(b"a").unwrap().is_sign_positive());
    }
}
