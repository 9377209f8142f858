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

use super::server::help_reply;
use super::util::{eq_ic, parse_i64, unknown_subcommand};
use super::{busy, cmd, container_cmd, dispatch, lookup, lookup_sub, CommandSpec, Ctx};
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
    if busy::can_offload(ctx) && (stall.is_some() || ctx.st.scripts.as_ref().is_some_and(|e| e.may_loop(&sha))) {
        // A script that can loop: on its own thread, so that others are answered meanwhile.
        let (keys, argv) = (args[3..split].to_vec(), args[split..].to_vec());
        let what = busy::Offload { eval: true, name: sha.clone(), read_only, stall };
        let run: busy::ScriptRun = Box::new(move |engine, call| engine.run(&sha, &keys, &argv, call));
        match busy::offload(ctx, what, run) {
            Ok(reply) => return reply,
            Err(run) => {
                let Some(mut engine) = ctx.st.scripts.take() else {
                    return Reply::error("NOSCRIPT No matching script. Please use EVAL.");
                };
                let reply = inline(ctx, read_only, |call| run(&mut engine, call));
                ctx.st.scripts = Some(engine);
                return reply.unwrap_or_else(|| Reply::error("NOSCRIPT No matching script. Please use EVAL."));
            }
        }
    }
    let Some(mut engine) = ctx.st.scripts.take() else {
        return Reply::error("NOSCRIPT No matching script. Please use EVAL.");
    };
    let reply = inline(ctx, read_only, |call| engine.run(&sha, &args[3..split], &args[split..], call));
    ctx.st.scripts = Some(engine);
    reply.unwrap_or_else(|| Reply::error("NOSCRIPT No matching script. Please use EVAL."))
}

/// Runs a script inside its caller's command (under its lock): the
/// script's client is the caller's, speaking RESP2 and never blocking.
fn inline<R>(ctx: &mut Ctx<'_>, read_only: bool, run: impl FnOnce(&mut dyn FnMut(Vec<Bytes>) -> Reply) -> R) -> R {
    let (resp, in_exec) = (ctx.conn.resp, ctx.conn.in_exec);
    ctx.conn.resp = 2;
    ctx.conn.in_exec = true;
    let mut call = |cmd: Vec<Bytes>| script_call(ctx, &cmd, read_only);
    let reply = run(&mut call);
    ctx.conn.resp = resp;
    ctx.conn.in_exec = in_exec;
    reply
}

/// One `redis.call` from a script: Redis's `scriptCall` checks, then the
/// ordinary dispatch.
pub(crate) fn script_call(ctx: &mut Ctx<'_>, args: &[Bytes], read_only: bool) -> Reply {
    let spec = lookup(&args[0]).map(|spec| match (spec.subcommands.is_empty(), args.get(1)) {
        (false, Some(sub)) => lookup_sub(spec, sub),
        _ => Some(spec),
    });
    let Some(Some(spec)) = spec else {
        return Reply::error("ERR Unknown Redis command called from script");
    };
    let a = spec.arity;
    if (a > 0 && args.len() as i32 != a) || (a < 0 && (args.len() as i32) < -a) {
        return Reply::error("ERR Wrong number of args calling Redis command from script");
    }
    if spec.has_flag("noscript") {
        return Reply::error("ERR This Redis command is not allowed from script");
    }
    if read_only && spec.has_flag("write") {
        return Reply::error("ERR Write commands are not allowed from read-only scripts.");
    }
    if ctx.st.faults.has_rules() {
        if let Some(err) = ctx.st.script_call_fault(ctx.conn.id, args) {
            return Reply::Error(err);
        }
    }
    if spec.has_flag("write") {
        // From now on SCRIPT KILL answers UNKILLABLE (Redis's SCRIPT_WRITE_DIRTY).
        ctx.st.busy.wrote();
    }
    dispatch(ctx, args)
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
    if let Some(e) = ctx.st.scripts.as_deref_mut() {
        e.flush();
    }
    Reply::ok()
}

fn kill(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    crate::script::busy::kill(&ctx.st.busy, true)
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
