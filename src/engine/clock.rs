//! The server's notion of "now" for expiry: the system clock, or a clock the
//! test pauses and advances.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A clock for key expiry, shared by the server and its handle.
///
/// Real by default: keys expire as Redis's do. A paused clock stands still
/// until the test calls [`Clock::advance`], which makes TTL tests exact.
#[derive(Debug, Clone)]
pub struct Clock {
    inner: Arc<ClockInner>,
}

#[derive(Debug)]
struct ClockInner {
    /// u64::MAX while the clock is real; otherwise the paused time in unix ms.
    paused_ms: AtomicU64,
}

const REAL: u64 = u64::MAX;

impl Clock {
    pub(crate) fn real() -> Clock {
        Clock { inner: Arc::new(ClockInner { paused_ms: AtomicU64::new(REAL) }) }
    }

    pub(crate) fn paused_at(unix_ms: u64) -> Clock {
        Clock { inner: Arc::new(ClockInner { paused_ms: AtomicU64::new(unix_ms) }) }
    }

    /// Current time in unix milliseconds.
    pub fn now_ms(&self) -> u64 {
        match self.inner.paused_ms.load(Ordering::Acquire) {
            REAL => system_ms(),
            t => t,
        }
    }

    /// Current time in unix microseconds (TIME uses it).
    pub fn now_us(&self) -> u64 {
        match self.inner.paused_ms.load(Ordering::Acquire) {
            REAL => SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0),
            t => t * 1000,
        }
    }

    /// Whether the clock is paused.
    pub fn is_paused(&self) -> bool {
        self.inner.paused_ms.load(Ordering::Acquire) != REAL
    }

    /// Stops the clock at the current time (no effect if already paused).
    pub fn pause(&self) {
        let now = system_ms();
        let _ = self.inner.paused_ms.compare_exchange(REAL, now, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Moves a paused clock forward. On a real clock this pauses it first at
    /// the current time, then advances, so the result is always exact.
    pub fn advance(&self, by: Duration) {
        self.pause();
        self.inner.paused_ms.fetch_add(by.as_millis() as u64, Ordering::AcqRel);
    }
}

fn system_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}
