//! The invariants, one function each; each returns the violation as a
//! message naming the invariant. `docs/props.md` lists them.

use std::collections::HashMap;
use std::time::Duration;

use redis_harness::pool::{Error, PoolStats, TimeoutKind, Value};
use redis_harness::RecordedCommand;

pub type Verdict = Result<(), String>;

fn fail(name: &str, detail: String) -> Verdict {
    Err(format!("[{name}] {detail}"))
}

/// Pool-side socket and checkout counts never exceed `pool_size` (after every step).
pub fn sockets_within_pool_size(s: &PoolStats, pool_size: usize) -> Verdict {
    if s.total_conns > pool_size || s.in_use > pool_size || s.idle_conns > pool_size {
        return fail(
            "sockets_within_pool_size",
            format!(
                "pool_size {pool_size} but open {} (idle {}, checked out {})",
                s.total_conns, s.idle_conns, s.in_use
            ),
        );
    }
    Ok(())
}

/// The server never sees more of our sockets than `pool_size` once the
/// pool is quiescent (the server notices closes asynchronously, so this is
/// checked at quiescent points, after the counts settled).
pub fn server_sockets_within_pool_size(server_open: usize, pool_size: usize) -> Verdict {
    if server_open > pool_size {
        return fail("server_sockets_within_pool_size", format!("server sees {server_open} > pool_size {pool_size}"));
    }
    Ok(())
}

/// Counters never go down (after every step).
pub fn counters_only_grow(before: &PoolStats, now: &PoolStats) -> Verdict {
    let pairs = [
        ("hits", before.hits, now.hits),
        ("misses", before.misses, now.misses),
        ("timeouts", before.timeouts, now.timeouts),
        ("waits", before.waits, now.waits),
        ("created", before.created, now.created),
        ("dial_errors", before.dial_errors, now.dial_errors),
        ("retries", before.retries, now.retries),
        ("closed_idle_time", before.closed_idle_time, now.closed_idle_time),
        ("closed_lifetime", before.closed_lifetime, now.closed_lifetime),
        ("closed_broken", before.closed_broken, now.closed_broken),
        ("closed_close", before.closed_close, now.closed_close),
        ("closed_excess_idle", before.closed_excess_idle, now.closed_excess_idle),
    ];
    for (name, a, b) in pairs {
        if b < a {
            return fail("counters_only_grow", format!("{name} went from {a} to {b}"));
        }
    }
    if now.wait_duration < before.wait_duration {
        return fail("counters_only_grow", "wait_duration went down".into());
    }
    Ok(())
}

/// Quiescent: pool total = idle + in use, and = the server's open sockets.
/// `settled` says whether the bounded wait for that state succeeded.
pub fn quiescent_accounting(settled: bool, s: &PoolStats, server_open: usize) -> Verdict {
    if !settled {
        return fail(
            "quiescent_accounting",
            format!(
                "never settled: pool total {} idle {} in use {}, server open {server_open}",
                s.total_conns, s.idle_conns, s.in_use
            ),
        );
    }
    Ok(())
}

/// Every reply is the reply to the caller's own command.
pub fn reply_is_own(what: &str, expected: &Value, got: &Value) -> Verdict {
    if expected != got {
        return fail("reply_is_own", format!("{what}: expected {expected:?}, got {got:?}"));
    }
    Ok(())
}

/// Failures that are not a bad connection: a pool-wait timeout, an open breaker.
pub fn benign_in_calm(err: &Error) -> bool {
    matches!(err, Error::Timeout { kind: TimeoutKind::PoolWait { .. }, .. } | Error::CircuitOpen { .. })
}

/// A dead or expired connection is never handed out: in a round with no
/// fault, kill or close, every command succeeds.
pub fn calm_command_succeeds(what: &str, err: &Error) -> Verdict {
    fail("dead_or_expired_never_handed_out", format!("{what} failed in a calm round: {err:?}"))
}

/// In a calm round a `get()` fails only by waiting out `pool_timeout`, or
/// because the breaker is still cooling down from an earlier round's dial
/// failures (neither hands out a connection).
pub fn calm_get_succeeds(err: &Error) -> Verdict {
    if benign_in_calm(err) {
        return Ok(());
    }
    fail("dead_or_expired_never_handed_out", format!("get failed in a calm round: {err:?}"))
}

/// A connection handed out is younger than its lifetime and was idle less
/// than the idle time (ages measured conservatively from the outside).
pub fn not_expired(
    id: u64,
    age: Option<Duration>,
    life: Option<Duration>,
    idle: Option<Duration>,
    max_idle: Option<Duration>,
) -> Verdict {
    if let (Some(a), Some(l)) = (age, life) {
        if a > l {
            return fail(
                "dead_or_expired_never_handed_out",
                format!("connection {id} handed out at age >= {a:?}, lifetime {l:?}"),
            );
        }
    }
    if let (Some(i), Some(m)) = (idle, max_idle) {
        if i > m {
            return fail(
                "dead_or_expired_never_handed_out",
                format!("connection {id} handed out after idling >= {i:?}, max idle {m:?}"),
            );
        }
    }
    Ok(())
}

/// Every wait is bounded: `what` did not finish within `bound`.
pub fn bounded_wait(what: &str, bound: Duration) -> Verdict {
    fail("every_wait_bounded", format!("{what} did not finish within {bound:?}"))
}

/// A cancelled `get()` never leaks capacity: at a quiescent point all
/// `pool_size` turns can be taken at once.
pub fn capacity_restored(err: &Error, taken: usize, pool_size: usize) -> Verdict {
    fail("cancelled_get_never_leaks", format!("could take only {taken} of {pool_size} connections when idle: {err:?}"))
}

/// After dial failures stop, a get succeeds within the breaker/backoff bound.
pub fn recovers_after_dial_failures(err: &Error, bound: Duration) -> Verdict {
    fail("recovers_after_dial_failures", format!("no connection within {bound:?} after faults were removed: {err:?}"))
}

/// A waiter present when close started was woken (with `Closed`) promptly.
pub fn waiter_woken_at_close(late_by: Duration, result: &str) -> Verdict {
    fail(
        "waiter_woken_at_close",
        format!(
            "a get() pending when close started was not woken: it ended {late_by:?} after close woke the waiters, \
             with a timeout that was not yet due then: {result}"
        ),
    )
}

/// When close() returns the pool owns no socket, no idle connection and no task.
pub fn nothing_left_at_close_return(s: &PoolStats, tasks: usize) -> Verdict {
    if s.total_conns != 0 || s.idle_conns != 0 || tasks != 0 {
        return fail(
            "nothing_left_after_close",
            format!(
                "close() returned with {} open sockets ({} idle) and {tasks} background tasks",
                s.total_conns, s.idle_conns
            ),
        );
    }
    Ok(())
}

/// After close the server sees none of our sockets (within a bound).
pub fn server_sees_no_socket_after_close(settled: bool, open: usize) -> Verdict {
    if !settled {
        return fail("nothing_left_after_close", format!("the server still sees {open} sockets after close()"));
    }
    Ok(())
}

/// A get after close fails with `Closed` without dialling.
pub fn get_after_close_is_closed(r: &Result<(), Error>, dialled: u64) -> Verdict {
    if !matches!(r, Err(Error::Closed { .. })) || dialled != 0 {
        return fail("get_after_close_fails_closed", format!("get after close gave {r:?}, {dialled} new connections"));
    }
    Ok(())
}

/// The handshake (HELLO, SELECT, CLIENT SETINFO) precedes any user command
/// on every socket; a socket whose handshake failed carries no user command.
pub fn handshake_first(cmds: &[RecordedCommand], db: i64) -> Verdict {
    let mut by_client: HashMap<u64, Vec<&RecordedCommand>> = HashMap::new();
    for c in cmds {
        by_client.entry(c.client_id).or_default().push(c);
    }
    for (id, list) in by_client {
        let (mut hello, mut select, mut setinfo) = (false, false, false);
        for c in &list {
            let name = c.name();
            let sub = c.args.get(1).map(|a| String::from_utf8_lossy(a).to_ascii_uppercase()).unwrap_or_default();
            match (name.as_str(), sub.as_str()) {
                ("HELLO", _) | ("AUTH", _) => hello = true,
                ("SELECT", _) => select = true,
                ("CLIENT", "SETINFO") => setinfo = true,
                _ => {
                    if !(hello && setinfo && (db == 0 || select)) {
                        let seen: Vec<String> = list.iter().map(|c| c.name()).collect();
                        return fail(
                            "handshake_first",
                            format!("client {id} sent {name} before completing its handshake; its commands: {seen:?}"),
                        );
                    }
                }
            }
        }
    }
    Ok(())
}
