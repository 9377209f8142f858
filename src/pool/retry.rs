//! The retry rules (tests/pool/retry.rs): what [`Pool::query`] and
//! [`Pool::pipeline`] retry, and how long they wait between attempts.
//! See the `pool` module docs, "When a command is retried".

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::api::Pool;
use super::error::{Error, Failure, TimeoutKind};
use super::value::{Cmd, Value};

impl Pool {
    /// Runs `cmds` on a pooled connection, retrying as the rules below allow.
    pub(super) async fn run(&self, cmds: &[Cmd], retry_safe: bool) -> Result<Vec<Value>, Error> {
        let inner = self.inner();
        let mut attempt: u32 = 0;
        loop {
            let failure = match self.once(cmds).await {
                Ok(v) => match refused(&inner.addr, cmds, &v) {
                    // The server refused to run it: safe to retry whatever it was.
                    Some(err) => Failure::unsent(err),
                    None => return Ok(v),
                },
                Err(f) => f,
            };
            if !may_retry(&failure, retry_safe) || attempt >= inner.opts.max_retries || inner.soft.is_cancelled() {
                return Err(failure.err);
            }
            let backoff = backoff(attempt, inner.opts.min_retry_backoff, inner.opts.max_retry_backoff);
            attempt += 1;
            inner.stats.retries.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(addr = %inner.addr, attempt, ?backoff, error = %failure.err, "retrying");
            tokio::select! {
                _ = inner.soft.cancelled() => return Err(failure.err),
                _ = tokio::time::sleep(backoff) => {}
            }
        }
    }

    async fn once(&self, cmds: &[Cmd]) -> Result<Vec<Value>, Failure> {
        let mut conn = self.get().await.map_err(Failure::unsent)?;
        conn.exec(cmds).await
    }
}

/// A single command's error reply that means it was not run (LOADING...).
fn refused(addr: &Arc<str>, cmds: &[Cmd], v: &[Value]) -> Option<Error> {
    match v {
        [Value::Error { code, msg }] if cmds.len() == 1 && not_executed(code) => {
            Some(Error::from_reply(addr, code, msg))
        }
        _ => None,
    }
}

/// Error replies that mean the server did not run the command.
fn not_executed(code: &str) -> bool {
    matches!(code, "LOADING" | "TRYAGAIN" | "MASTERDOWN")
}

/// The retry rule: a transient failure is retried if the command never
/// reached the server, or if running it twice is harmless.
pub(crate) fn may_retry(f: &Failure, retry_safe: bool) -> bool {
    transient(&f.err) && (!f.maybe_sent || retry_safe)
}

/// Errors worth another attempt on a fresh connection.
fn transient(e: &Error) -> bool {
    matches!(
        e,
        Error::ConnectionRefused { .. }
            | Error::Reset { .. }
            | Error::Io { .. }
            | Error::Timeout { kind: TimeoutKind::Dial | TimeoutKind::Read | TimeoutKind::Write, .. }
    ) || matches!(e, Error::Redis { code, .. } if not_executed(code))
}

/// Exponential backoff with full jitter: uniform in
/// `[min, min(max, min × 2^attempt)]`.
pub(crate) fn backoff(attempt: u32, min: Duration, max: Duration) -> Duration {
    let cap = min.saturating_mul(1u32 << attempt.min(20)).min(max);
    if cap <= min {
        return min;
    }
    let span = (cap - min).as_nanos() as u64;
    min + Duration::from_nanos(fastrand::u64(0..=span))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded_and_grows() {
        let (min, max) = (Duration::from_millis(8), Duration::from_millis(512));
        for attempt in 0..40 {
            let b = backoff(attempt, min, max);
            assert!(b >= min && b <= max, "attempt {attempt}: {b:?}");
            let cap = min.saturating_mul(1u32 << attempt.min(20)).min(max);
            assert!(b <= cap);
        }
        assert_eq!(backoff(0, min, max), min);
    }

    #[test]
    fn retry_rule() {
        let addr: Arc<str> = Arc::from("h:1");
        let reset = || Error::Reset { addr: addr.clone() };
        let read_timeout = || Error::Timeout { kind: TimeoutKind::Read, addr: addr.clone(), after: None };
        assert!(may_retry(&Failure::unsent(reset()), false), "never sent: always safe");
        assert!(!may_retry(&Failure::sent(reset()), false), "maybe ran: only if safe");
        assert!(may_retry(&Failure::sent(reset()), true));
        assert!(!may_retry(&Failure::sent(read_timeout()), false), "a write after a timeout post-write");
        assert!(may_retry(&Failure::sent(read_timeout()), true));
        let pool_wait =
            Error::Timeout { kind: TimeoutKind::PoolWait { pool_size: 1 }, addr: addr.clone(), after: None };
        assert!(!may_retry(&Failure::unsent(pool_wait), true));
        assert!(!may_retry(&Failure::unsent(Error::Closed { addr: addr.clone() }), true));
        assert!(!may_retry(&Failure::sent(Error::Aborted { addr: addr.clone() }), true));
    }
}
