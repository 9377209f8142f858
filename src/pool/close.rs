//! The close protocol: [`Pool::close`] and [`Pool::close_by`], and the
//! [`CloseReport`] they return (tests/pool/close.rs).
//!
//! In order: refuse new checkouts and wake waiters, close idle sockets and
//! cancel dials, stop and await the background tasks, wait for checkouts in
//! progress to let go, drain checked-out connections until the deadline,
//! then close what is still out and fail its commands with
//! [`Error::Aborted`](super::Error::Aborted).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::api::Pool;
use super::config::Sabotage;
use super::inner::{CloseReason, Slot};

/// How long close() waits, after cancelling in-flight commands at the
/// deadline, for their tasks to drop the connections. A task that is not
/// polled cannot respond; it is reported as `unresponsive`.
const ABORT_GRACE: Duration = Duration::from_secs(1);

/// Upper bound on waiting for the background tasks to stop at close.
const TASK_STOP_BOUND: Duration = Duration::from_secs(5);

/// What [`Pool::close`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloseReport {
    /// True when the pool was already closed (or dropped): nothing was done.
    pub already_closed: bool,
    /// Idle connections closed at once.
    pub idle_closed: usize,
    /// Checked-out connections returned (and closed) before the deadline.
    pub drained: u64,
    /// Checked-out connections still out at the deadline, whose sockets were closed.
    pub aborted: usize,
    /// Commands in flight at the deadline that failed with [`Error::Aborted`](super::Error::Aborted).
    pub commands_aborted: u64,
    /// In-flight commands (and checkouts dialling or PINGing at close) whose
    /// task did not drop its connection within a short grace (the future is
    /// not being polled).
    pub unresponsive: usize,
    /// Dials in progress that were cancelled.
    pub dials_cancelled: u64,
    /// How long close took.
    pub took: Duration,
}

impl Pool {
    /// Closes the pool, letting checked-out connections finish until
    /// `now + grace`. See [`Pool::close_by`].
    pub async fn close(&self, grace: Duration) -> CloseReport {
        self.close_by(Instant::now() + grace).await
    }

    /// Closes the pool gracefully:
    /// - later `get()`s fail at once with [`Error::Closed`](super::Error::Closed), waiters are woken with it now;
    /// - idle connections are closed at once, dials in progress cancelled,
    ///   background tasks stopped and awaited;
    /// - checked-out connections may finish until `deadline` and are closed
    ///   when returned; after it, their sockets are closed and their pending
    ///   commands fail with [`Error::Aborted`](super::Error::Aborted).
    ///
    /// When it returns the pool holds no socket and no task. A second call is a no-op.
    pub async fn close_by(&self, deadline: Instant) -> CloseReport {
        let inner = self.inner();
        if inner.close_started.swap(true, Ordering::AcqRel) {
            return CloseReport { already_closed: true, ..CloseReport::default() };
        }
        let started = Instant::now();
        tracing::info!(addr = %inner.addr, "closing the pool");
        let idle_closed = inner.begin_close();
        // The tasks select on the close token at every await, so they end
        // at once; the bound only guards against a bug turning close() into a hang.
        if tokio::time::timeout(TASK_STOP_BOUND, inner.tracker.wait()).await.is_err() {
            tracing::error!(addr = %inner.addr, tasks = inner.tracker.len(), "background tasks did not stop");
        }

        // Checkouts in progress (dialling, PINGing an idle connection) saw
        // `soft`; their sockets are in no list, so wait for them to let go.
        let mut unresponsive = 0;
        let let_go_by = Instant::now() + ABORT_GRACE;
        loop {
            let done = inner.checking_done.notified();
            tokio::pin!(done);
            done.as_mut().enable();
            let n = inner.checking.load(Ordering::Acquire);
            if n == 0 {
                break;
            }
            tokio::select! {
                _ = &mut done => {}
                _ = tokio::time::sleep_until(let_go_by) => {
                    unresponsive += n;
                    break;
                }
            }
        }

        // Drain: wait for checked-out connections to come back.
        loop {
            let returned = inner.returned.notified();
            tokio::pin!(returned);
            returned.as_mut().enable();
            if inner.lock().out.is_empty() {
                break;
            }
            tokio::select! {
                _ = &mut returned => {}
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }

        let remaining: Vec<Arc<Slot>> = inner.lock().out.values().cloned().collect();
        let aborted = remaining.len();
        if aborted > 0 && inner.sabotage != Sabotage::KeepSocketAfterDeadline {
            inner.hard.cancel();
            let sweep = || {
                for slot in &remaining {
                    // Held but idle: close its socket here.
                    if slot.lock().take().is_some() {
                        inner.stats.closed(CloseReason::Close);
                    }
                }
            };
            sweep();
            // Running: the command sees `hard`, fails and drops its socket.
            let grace_end = Instant::now() + ABORT_GRACE;
            loop {
                let done = inner.inflight_done.notified();
                tokio::pin!(done);
                done.as_mut().enable();
                let n = inner.inflight.load(Ordering::Acquire);
                if n == 0 {
                    break;
                }
                tokio::select! {
                    _ = &mut done => {}
                    _ = tokio::time::sleep_until(grace_end) => {
                        unresponsive += n;
                        break;
                    }
                }
            }
            // A command that completed just before it could see `hard` may
            // have put its connection back after the first sweep.
            sweep();
        }
        let s = &inner.stats;
        let report = CloseReport {
            already_closed: false,
            idle_closed,
            drained: s.drained.load(Ordering::Relaxed),
            aborted,
            commands_aborted: s.commands_aborted.load(Ordering::Relaxed),
            unresponsive,
            dials_cancelled: s.dials_cancelled.load(Ordering::Relaxed),
            took: started.elapsed(),
        };
        tracing::info!(addr = %inner.addr, ?report, "pool closed");
        report
    }
}
