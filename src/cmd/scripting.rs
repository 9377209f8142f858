//! Scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT LOAD / EXISTS /
//! FLUSH / KILL / HELP, on the Lua engine in `crate::script`.
//!
//! A script runs inside its command's handler, so under the state lock: no
//! other client runs in between, as in Redis. Its `redis.call`s go through
//! [`dispatch`] (ACL, keyspace events, WATCH signals, command stats), after
//! the checks Redis's `scriptCall` makes first (unknown command, arity,
//! `noscript`, writes from a read-only script). Blocking commands answer at
//! once, as inside EXEC. A script whose code can loop runs on a thread of
//! its own so that others can be answered BUSY and SCRIPT KILL it (see
//! `super::busy`). Not here: FUNCTION/FCALL, SCRIPT DEBUG.

use bytes::Bytes;

use super::functions::{prepare_run, script_call};
use super::server::help_reply;
use super::support::script_thread;
use super::util::{eq_ic, parse_i64, unknown_subcommand};
use super::{cmd, container_cmd, CommandSpec, Ctx};
use crate::protocol::Reply;
use crate::script::Engine;

const EVAL_FLAGS: &[&str] = &["noscript", "stale", "skip_monitor", "no_mandatory_keys", "movablekeys"];
const EVAL_RO_FLAGS: &[&str] = &["readonly", "noscript", "stale", "skip_monitor", "no_mandatory_keys", "movablekeys"];
const ACL: &[&str] = &["slow", "scripting"];

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd("eval", -3, EVAL_FLAGS, (0, 0, 0), ACL, eval),
    cmd("evalsha", -3, EVAL_FLAGS, (0, 0, 0), ACL, evalsha),
    cmd("eval_ro", -3, EVAL_RO_FLAGS, (0, 0, 0), ACL, eval_ro),
    cmd("evalsha_ro", -3, EVAL_RO_FLAGS, (0, 0, 0), ACL, evalsha_ro),
    container_cmd(
        "script",
        container,
        &[
            cmd("script|exists", -3, &["noscript"], (0, 0, 0), ACL, exists),
            cmd("script|flush", -2, &["noscript"], (0, 0, 0), ACL, flush),
            cmd("script|help", 2, &["loading", "stale"], (0, 0, 0), ACL, help),
            cmd("script|kill", 2, &["noscript", "allow_busy"], (0, 0, 0), ACL, kill),
            cmd("script|load", 3, &["noscript", "stale"], (0, 0, 0), ACL, load),
        ],
    ),
];

/// Never called: dispatch resolves SCRIPT to a subcommand first.
fn container(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    unknown_subcommand("script", args.get(1).map_or(&b""[..], |a| a.as_ref()))
}

/// The engine, created on first use.
fn engine<'a>(ctx: &'a mut Ctx<'_>) -> Result<&'a mut Engine, Reply> {
    if ctx.st.scripts.is_none() {
        if ctx.st.busy.running() {
            // The engine is out on a script's thread (only the test's handle gets here meanwhile).
            return Err(ctx.st.busy.busy_error());
        }
        let mut engine = Engine::new(ctx.st.rng.u64(..)).map_err(|e| Reply::error(format!("ERR Lua engine: {e}")))?;
        engine.watch(ctx.st.busy.clone());
        ctx.st.scripts = Some(Box::new(engine));
    }
    ctx.st.scripts.as_deref_mut().ok_or_else(|| Reply::error("ERR Lua engine unavailable"))
}

fn eval(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    run(ctx, args, false, false)
}

fn evalsha(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    run(ctx, args, true, false)
}

fn eval_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    run(ctx, args, false, true)
}

fn evalsha_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    run(ctx, args, true, true)
}

/// EVAL and its three siblings (Redis's `evalGenericCommand`).
fn run(ctx: &mut Ctx<'_>, args: &[Bytes], by_sha: bool, read_only: bool) -> Reply {
    // A "slow script" fault fired for this command (src/fault): it runs on its own thread, stalling first.
    let stall = if ctx.st.faults.has_rules() { ctx.st.busy.take_stall(ctx.conn.id) } else { None };
    let Some(numkeys) = parse_i64(&args[2]) else {
        return Reply::error("ERR value is not an integer or out of range");
    };
    if numkeys > (args.len() - 3) as i64 {
        return Reply::error("ERR Number of keys can't be greater than number of args");
    }
    if numkeys < 0 {
        return Reply::error("ERR Number of keys can't be negative");
    }
    let split = 3 + numkeys as usize;
    if ctx.st.scripts.is_none() && ctx.st.busy.running() {
        return ctx.st.busy.busy_error();
    }
    let sha = if by_sha {
        let sha = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
        if ctx.st.scripts.as_ref().is_none_or(|e| !e.exists(sha.as_bytes())) {
            return Reply::error("NOSCRIPT No matching script. Please use EVAL.");
        }
        sha
    } else {
        match engine(ctx).and_then(|e| e.load(&args[1])) {
            Ok(sha) => sha,
            Err(e) => return e,
        }
    };
    if script_thread::can_offload(ctx) && (stall.is_some() || ctx.st.scripts.as_ref().is_some_and(|e| e.may_loop(&sha)))
    {
        // A script that can loop: on its own thread, so that others are answered meanwhile.
        let flags = ctx.st.scripts.as_ref().and_then(|e| e.flags(&sha).flatten());
        let checks = match prepare_run(ctx, flags, read_only) {
            Ok(sr) => sr,
            Err(e) => return e,
        };
        let (keys, argv) = (args[3..split].to_vec(), args[split..].to_vec());
        let what = script_thread::Offload { eval: true, name: sha.clone(), stall, checks };
        let run: script_thread::OffloadRun = Box::new(move |engine, call| engine.run(&sha, &keys, &argv, call));
        match script_thread::offload(ctx, what, run) {
            Ok(reply) => return reply,
            Err(run) => {
                let Some(mut engine) = ctx.st.scripts.take() else {
                    return Reply::error("NOSCRIPT No matching script. Please use EVAL.");
                };
                let reply = inline(ctx, flags, read_only, |call| run(&mut engine, call));
                ctx.st.scripts = Some(engine);
                return match reply {
                    Ok(r) => r.unwrap_or_else(|| Reply::error("NOSCRIPT No matching script. Please use EVAL.")),
                    Err(e) => e,
                };
            }
        }
    }
    let Some(mut engine) = ctx.st.scripts.take() else {
        return Reply::error("NOSCRIPT No matching script. Please use EVAL.");
    };
    let reply = match inline(ctx, engine.flags(&sha).flatten(), read_only, |call| {
        engine.run(&sha, &args[3..split], &args[split..], call)
    }) {
        Ok(r) => r,
        Err(e) => {
            ctx.st.scripts = Some(engine);
            return e;
        }
    };
    ctx.st.scripts = Some(engine);
    reply.unwrap_or_else(|| Reply::error("NOSCRIPT No matching script. Please use EVAL."))
}

/// Runs a script inside its caller's command (under its lock), after the
/// `#!lua flags=...` checks: the script's client is the caller's, speaking
/// RESP2 and never blocking (`Ctx::as_script_client`).
fn inline<R>(
    ctx: &mut Ctx<'_>,
    flags: Option<u8>,
    read_only: bool,
    run: impl FnOnce(&mut dyn FnMut(Vec<Bytes>, u8) -> Reply) -> R,
) -> Result<R, Reply> {
    let mut sr = prepare_run(ctx, flags, read_only)?;
    Ok(ctx.as_script_client(|ctx| {
        let mut call = |cmd: Vec<Bytes>, resp: u8| script_call(ctx, &cmd, resp, &mut sr);
        run(&mut call)
    }))
}

fn load(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match engine(ctx).and_then(|e| e.load(&args[2])) {
        Ok(sha) => Reply::Bulk(Bytes::from(sha)),
        Err(e) => e,
    }
}

fn exists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let engine = ctx.st.scripts.as_deref();
    Reply::Array(args[2..].iter().map(|sha| Reply::Int(engine.is_some_and(|e| e.exists(sha)) as i64)).collect())
}

fn flush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match args.len() {
        2 => {}
        3 if eq_ic(&args[2], "async") || eq_ic(&args[2], "sync") => {}
        _ => return Reply::error("ERR SCRIPT FLUSH only support SYNC|ASYNC option"),
    }
    // As Redis's scriptingReset: a new Lua state (made by the next EVAL or
    // SCRIPT LOAD), so nothing a script changed in this one (cjson's
    // settings, math.randomseed) outlives the flush.
    ctx.st.scripts = None;
    Reply::ok()
}

fn kill(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    crate::engine::busy::kill(&ctx.st.busy, true)
}

fn help(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    help_reply(&[
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    ])
}
