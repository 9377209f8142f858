//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Queueing itself happens in the engine (`crate::engine::multi`: every
//! command but the few it names replies `+QUEUED` inside MULTI); a command
//! rejected while queueing (unknown, wrong arity, ...) marks the transaction
//! aborted.

use bytes::Bytes;

use super::{cmd, CommandSpec, Ctx};
use crate::engine::exec::run_checked;
use crate::engine::multi::{reset, set_multi_count, Multi};
use crate::protocol::Reply;

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd(
        "multi",
        1,
        &["noscript", "loading", "stale", "fast", "allow_busy"],
        (0, 0, 0),
        &["fast", "transaction"],
        multi,
    ),
    cmd("exec", 1, &["noscript", "loading", "stale", "skip_slowlog"], (0, 0, 0), &["slow", "transaction"], exec),
    cmd(
        "discard",
        1,
        &["noscript", "loading", "stale", "fast", "allow_busy"],
        (0, 0, 0),
        &["fast", "transaction"],
        discard,
    ),
    cmd(
        "watch",
        -2,
        &["noscript", "loading", "stale", "fast", "allow_busy"],
        (1, -1, 1),
        &["fast", "transaction"],
        watch,
    ),
    cmd(
        "unwatch",
        1,
        &["noscript", "loading", "stale", "fast", "allow_busy"],
        (0, 0, 0),
        &["fast", "transaction"],
        unwatch,
    ),
];

fn multi(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    if ctx.conn.multi.is_some() {
        return Reply::error("ERR MULTI calls can not be nested");
    }
    ctx.conn.multi = Some(Multi::default());
    set_multi_count(ctx, 0);
    Reply::ok()
}

fn discard(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    if ctx.conn.multi.is_none() {
        return Reply::error("ERR DISCARD without MULTI");
    }
    reset(ctx);
    Reply::ok()
}

fn exec(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    let Some(m) = ctx.conn.multi.take() else {
        return Reply::error("ERR EXEC without MULTI");
    };
    set_multi_count(ctx, -1);
    let id = ctx.conn.id;
    if m.aborted {
        ctx.st.unwatch_all(id);
        return Reply::error("EXECABORT Transaction discarded because of previous errors.");
    }
    let failed = ctx.st.watch_failed(id, ctx.now);
    ctx.st.unwatch_all(id);
    if failed {
        return Reply::NilArray;
    }
    ctx.conn.in_exec = true;
    let mut replies = Vec::with_capacity(m.queued.len());
    for (spec, args) in &m.queued {
        let reply = run_checked(ctx, spec, args);
        // Pushes for this very client (a PUBLISH to itself, a keyspace
        // notification) land inside the EXEC array, before the reply of the
        // command that caused them, as Redis 7.0 writes them; they do not
        // count as elements.
        let mut pushes = Vec::new();
        if let Some(rx) = ctx.conn.pushes.as_mut() {
            while let Some(p) = rx.try_recv() {
                pushes.push(p);
            }
        }
        if pushes.is_empty() {
            replies.push(reply);
        } else {
            pushes.push(reply);
            replies.push(Reply::Multi(pushes));
        }
    }
    ctx.conn.in_exec = false;
    Reply::Array(replies)
}

fn watch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if ctx.conn.multi.is_some() {
        return Reply::error("ERR WATCH inside MULTI is not allowed");
    }
    let (id, db) = (ctx.conn.id, ctx.db());
    // Once a watched key was touched EXEC fails anyway; more keys change nothing.
    if !ctx.st.is_dirty(id) {
        for key in &args[1..] {
            ctx.st.watch(id, db, key, ctx.now);
        }
    }
    Reply::ok()
}

fn unwatch(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    ctx.st.unwatch_all(ctx.conn.id);
    Reply::ok()
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use crate::cmd::{dispatch, ConnState, Ctx};
    use crate::engine::clock::Clock;
    use crate::engine::config::Config;
    use crate::engine::state::State;
    use crate::protocol::Reply;
    use crate::store::{Entry, Value};

    /// Two connections (ids 1 and 2) on one state, with a hand-driven clock.
    struct Fixture {
        st: State,
        conns: [ConnState; 2],
        clock: Clock,
        now: u64,
    }

    impl Fixture {
        fn new() -> Fixture {
            Fixture {
                st: State::new(
                    Config::default(),
                    16,
                    1,
                    crate::engine::state::CommandLog::new(false, 0),
                    crate::cmd::table(),
                ),
                conns: [ConnState::new(1, true), ConnState::new(2, true)],
                clock: Clock::paused_at(1_000_000),
                now: 1_000_000,
            }
        }

        fn run(&mut self, conn: usize, args: &[&str]) -> Reply {
            let args: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())).collect();
            let mut ctx = Ctx { st: &mut self.st, conn: &mut self.conns[conn], now: self.now, clock: &self.clock };
            dispatch(&mut ctx, &args)
        }

        /// A key whose expiry has passed but that nothing has reclaimed yet.
        fn put_stale(&mut self, db: usize, key: &str) {
            let mut e = Entry::new(Value::Str(Bytes::from_static(b"old")), self.now);
            e.expire_at = Some(self.now - 1);
            self.st.store_entry(db, &Bytes::copy_from_slice(key.as_bytes()), e);
        }

        /// Runs MULTI PING EXEC on connection 0; true if EXEC ran.
        fn exec_runs(&mut self) -> bool {
            assert_eq!(self.run(0, &["MULTI"]), Reply::ok());
            match self.run(0, &["EXEC"]) {
                Reply::Array(_) => true,
                Reply::NilArray => false,
                other => panic!("unexpected EXEC reply {other:?}"),
            }
        }
    }

    #[test]
    fn stale_watched_keys_do_not_fail_exec_when_reclaimed_or_flushed() {
        let mut f = Fixture::new();
        f.put_stale(0, "k");
        f.run(0, &["WATCH", "k"]);
        assert_eq!(f.run(1, &["GET", "k"]), Reply::Nil);
        assert!(f.exec_runs(), "lazy reclaim of an already stale key changes nothing");

        f.put_stale(0, "k");
        f.run(0, &["WATCH", "k"]);
        f.run(1, &["FLUSHDB"]);
        assert!(f.exec_runs(), "flushing a stale key changes nothing");

        f.put_stale(0, "k");
        f.run(0, &["WATCH", "k"]);
        assert_eq!(f.run(1, &["DEL", "k"]), Reply::Int(0));
        assert!(f.exec_runs());

        f.put_stale(0, "k");
        f.run(0, &["WATCH", "k"]);
        f.run(1, &["SET", "k", "new"]);
        assert!(!f.exec_runs(), "writing the key is a change");
    }

    #[test]
    fn a_watched_key_expiring_fails_exec_even_before_reclaim() {
        let mut f = Fixture::new();
        f.run(1, &["SET", "k", "v", "PX", "100"]);
        f.run(0, &["WATCH", "k"]);
        f.now += 200;
        assert!(!f.exec_runs());
    }

    #[test]
    fn flushes_touch_only_keys_that_exist() {
        let mut f = Fixture::new();
        f.run(0, &["WATCH", "nokey"]);
        f.run(1, &["FLUSHDB"]);
        assert!(f.exec_runs());

        f.run(1, &["SET", "k", "v"]);
        f.run(0, &["WATCH", "nokey", "k"]);
        f.run(1, &["FLUSHDB"]);
        assert!(!f.exec_runs());

        f.run(1, &["SET", "k", "v"]);
        f.run(0, &["WATCH", "k"]);
        f.run(1, &["SELECT", "2"]);
        f.run(1, &["FLUSHALL"]);
        assert!(!f.exec_runs());
    }

    #[test]
    fn swapdb_touches_keys_present_on_either_side() {
        let swap = |f: &mut Fixture| {
            let now = f.now;
            f.st.swap_dbs(0, 1, now);
        };
        let mut f = Fixture::new();
        f.run(0, &["WATCH", "a"]);
        swap(&mut f);
        assert!(f.exec_runs(), "absent on both sides");

        f.run(1, &["SELECT", "1"]);
        f.run(1, &["SET", "a", "1"]);
        f.run(0, &["WATCH", "a"]);
        swap(&mut f);
        assert!(!f.exec_runs(), "replaced by an existing key");

        f.run(1, &["FLUSHALL"]);
        f.put_stale(1, "a");
        f.run(0, &["WATCH", "a"]);
        swap(&mut f);
        assert!(f.exec_runs(), "replaced by a stale key");

        f.run(1, &["FLUSHALL"]);
        f.run(1, &["SELECT", "0"]);
        f.run(1, &["SET", "a", "1"]);
        f.run(0, &["WATCH", "a"]);
        swap(&mut f);
        assert!(!f.exec_runs(), "swapped away");
    }

    #[test]
    fn rejected_exec_discards_and_unwatches() {
        let mut f = Fixture::new();
        f.run(0, &["WATCH", "k"]);
        assert_eq!(
            f.run(0, &["EXEC", "x"]),
            Reply::error("EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command")
        );
        f.run(1, &["SET", "k", "v"]);
        assert!(f.exec_runs(), "the rejected EXEC dropped the watch");

        f.run(0, &["MULTI"]);
        f.run(0, &["SET", "k", "1"]);
        assert_eq!(
            f.run(0, &["EXEC", "x"]),
            Reply::error("EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command")
        );
        assert_eq!(f.run(0, &["EXEC"]), Reply::error("ERR EXEC without MULTI"));
        assert_eq!(f.run(0, &["GET", "k"]), Reply::bulk("v"));
    }

    #[test]
    fn exec_reports_runtime_errors_inside_the_array() {
        let mut f = Fixture::new();
        f.run(0, &["MULTI"]);
        assert_eq!(f.run(0, &["SET", "k", "v", "EX", "0"]), Reply::status("QUEUED"));
        assert_eq!(f.run(0, &["SET", "k", "v"]), Reply::status("QUEUED"));
        assert_eq!(f.conns[0].multi.as_ref().map(|m| m.queued.len()), Some(2));
        assert_eq!(
            f.run(0, &["EXEC"]),
            Reply::Array(vec![Reply::error("ERR invalid expire time in 'set' command"), Reply::ok()])
        );
        assert!(!f.conns[0].in_exec);
        assert!(f.conns[0].multi.is_none());
    }
}
