//! Sorted set: members ordered by (score, member), with score lookup by member.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;

/// A score with the total order Redis uses (scores are never NaN).
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
#[derive(Debug, Clone, Default)]
pub(crate) struct ZSet {
    pub scores: HashMap<Bytes, f64>,
    pub sorted: BTreeSet<(Score, Bytes)>,
}

impl ZSet {
    pub(crate) fn len(&self) -> usize {
        self.scores.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// Inserts or updates; returns the previous score.
    pub(crate) fn insert(&mut self, member: Bytes, score: f64) -> Option<f64> {
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
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = (&Bytes, f64)> {
        self.sorted.iter().map(|(s, m)| (m, s.0))
    }
}
