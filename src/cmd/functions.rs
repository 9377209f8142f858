//! FUNCTION LOAD / LIST / DELETE / FLUSH / DUMP / RESTORE / STATS / KILL /
//! HELP, FCALL and FCALL_RO, on the libraries in `crate::script::functions`;
//! and what every script run shares with EVAL (`cmd::scripting`): the
//! checks Redis's `scriptPrepareForRun` makes from a script's flags
//! ([`prepare_run`]) and [`script_call`], one `redis.call` with Redis's
//! `scriptCall` checks.
//!
//! A function whose library can loop (or one a "slow script" fault fired
//! for) runs on the script thread as a long EVAL does (`super::busy`):
//! past `busy-reply-threshold` others get Redis's FUNCTION BUSY text,
//! FUNCTION KILL stops it unless it wrote, FUNCTION STATS reports it
//! (`running_script`). Any other function runs inline, under its caller's
//! command.
//!
//! The fake is always a master outside cluster mode, with no disk errors, so
//! of those checks only `allow-oom` and the read-only ones (`no-writes`,
//! `*_RO`) can refuse anything here; `allow-stale`, `no-cluster` and
//! `allow-cross-slot-keys` are accepted and kept (FUNCTION LIST shows them).

use bytes::Bytes;

use super::server::help_reply;
use super::support::script_thread;
use super::util::{eq_ic, parse_i64, unknown_subcommand};
use super::{cmd, container_cmd, dispatch, CommandSpec, Ctx};
use crate::protocol::Reply;
use crate::script::functions::{RestorePolicy, FLAG_ALLOW_OOM, FLAG_NO_WRITES, SCRIPT_FLAGS};
use crate::store::glob::glob_match;
use crate::store::rdb;

const FCALL_FLAGS: &[&str] = &["noscript", "stale", "skip_monitor", "no_mandatory_keys", "movablekeys"];
const FCALL_RO_FLAGS: &[&str] = &["readonly", "noscript", "stale", "skip_monitor", "no_mandatory_keys", "movablekeys"];
const ACL: &[&str] = &["slow", "scripting"];
const ACL_WRITE: &[&str] = &["write", "slow", "scripting"];

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd("fcall", -3, FCALL_FLAGS, (0, 0, 0), ACL, fcall),
    cmd("fcall_ro", -3, FCALL_RO_FLAGS, (0, 0, 0), ACL, fcall_ro),
    container_cmd(
        "function",
        container,
        &[
            cmd("function|delete", 3, &["write", "noscript"], (0, 0, 0), ACL_WRITE, delete),
            cmd("function|dump", 2, &["noscript"], (0, 0, 0), ACL, dump),
            cmd("function|flush", -2, &["write", "noscript"], (0, 0, 0), ACL_WRITE, flush),
            cmd("function|help", 2, &["loading", "stale"], (0, 0, 0), ACL, help),
            cmd("function|kill", 2, &["noscript", "allow_busy"], (0, 0, 0), ACL, kill),
            cmd("function|list", -2, &["noscript"], (0, 0, 0), ACL, list),
            cmd("function|load", -3, &["write", "denyoom", "noscript"], (0, 0, 0), ACL_WRITE, load),
            cmd("function|restore", -3, &["write", "denyoom", "noscript"], (0, 0, 0), ACL_WRITE, restore),
            cmd("function|stats", 2, &["noscript", "allow_busy"], (0, 0, 0), ACL, stats),
        ],
    ),
];

/// Never called: dispatch resolves FUNCTION to a subcommand first.
fn container(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    unknown_subcommand("function", args.get(1).map_or(&b""[..], |a| a.as_ref()))
}

/// Redis's `addReplySubcommandSyntaxError`.
fn subcommand_syntax_error(args: &[Bytes]) -> Reply {
    Reply::error(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try FUNCTION HELP.",
        String::from_utf8_lossy(&args[1][..args[1].len().min(128)])
    ))
}

/// An error reply with Redis's default `ERR` code.
fn err(text: impl std::fmt::Display) -> Reply {
    Reply::error(format!("ERR {text}"))
}

/// What one script run may do, fixed before it starts.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ScriptRun {
    /// `no-writes`, or an `*_RO` command: write commands are refused.
    pub read_only: bool,
    /// `allow-oom`: `denyoom` commands run even over `maxmemory`.
    pub allow_oom: bool,
    /// Memory was over `maxmemory` when the script started (Redis's `script_oom`).
    pub oom: bool,
    /// The script has run a write command (after which it is never refused for memory).
    pub wrote: bool,
}

/// Whether used memory is over `maxmemory` now (dispatch has just evicted
/// what the policy allows).
fn over_maxmemory(ctx: &Ctx<'_>) -> bool {
    let limit = ctx.st.config().mm.limit;
    limit != 0 && ctx.st.used_memory() > limit
}

/// Redis's `scriptPrepareForRun`: `flags` are the script's declared flags,
/// `None` for an EVAL script without a `#!` header (the compatibility mode,
/// in which flags are ignored).
pub(crate) fn prepare_run(ctx: &Ctx<'_>, flags: Option<u8>, ro: bool) -> Result<ScriptRun, Reply> {
    let oom = over_maxmemory(ctx);
    let Some(flags) = flags else {
        return Ok(ScriptRun { read_only: ro, allow_oom: false, oom, wrote: false });
    };
    let allow_oom = flags & FLAG_ALLOW_OOM != 0;
    let no_writes = flags & FLAG_NO_WRITES != 0;
    // As Redis's scriptFlagsToCmdFlags: a script that may write without
    // allow-oom is a `denyoom` command, refused before it starts (inside
    // EXEC, which checks no flags, by scriptPrepareForRun's own text).
    // no-writes implies allow-oom.
    if oom && !no_writes && !allow_oom {
        if ctx.conn.in_exec {
            return Err(Reply::error(
                "OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'",
            ));
        }
        return Err(Reply::error(crate::engine::evict::OOM_ERROR));
    }
    if !no_writes && ro {
        return Err(err("Can not execute a script with write flag using *_ro command."));
    }
    Ok(ScriptRun { read_only: ro || no_writes, allow_oom, oom, wrote: false })
}

/// One `redis.call` from a script: Redis's `scriptCall` checks (unknown
/// command, arity, `noscript`, ACL, writes from a read-only script,
/// memory), then the ordinary dispatch.
pub(crate) fn script_call(ctx: &mut Ctx<'_>, args: &[Bytes], resp: u8, run: &mut ScriptRun) -> Reply {
    let Some(spec) = ctx.st.commands().resolve(args) else {
        return err("Unknown Redis command called from script");
    };
    if !spec.arity_ok(args.len()) {
        return err("Wrong number of args calling Redis command from script");
    }
    if spec.has_flag("noscript") {
        return err("This Redis command is not allowed from script");
    }
    if let Err(e) = crate::engine::acl::check_script_permissions(ctx, spec, args) {
        return e;
    }
    let write = spec.has_flag("write");
    if run.read_only && write {
        return err("Write commands are not allowed from read-only scripts.");
    }
    if !run.allow_oom && run.oom && !run.wrote && spec.has_flag("denyoom") {
        return Reply::error(crate::engine::evict::OOM_ERROR);
    }
    if ctx.st.faults.has_rules() {
        if let Some(err) = ctx.st.script_call_fault(ctx.conn.id, args) {
            return Reply::Error(err);
        }
    }
    if write {
        // From now on SCRIPT KILL answers UNKILLABLE (Redis's SCRIPT_WRITE_DIRTY).
        ctx.st.busy.wrote();
    }
    run.wrote |= write;
    // The command answers in the protocol the script chose (`redis.setresp`).
    ctx.with_protocol(resp, |ctx| dispatch(ctx, args))
}

fn fcall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    run_fcall(ctx, args, false)
}

fn fcall_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    run_fcall(ctx, args, true)
}

/// Redis's `fcallCommandGeneric`: the function, numkeys, the flag checks, the run.
///
/// A function whose library may run long (`library_may_loop`), or one a
/// "slow script" fault fired for, runs on the script thread as a long
/// EVAL does (`super::busy`): past `busy-reply-threshold` other clients
/// get BUSY, FUNCTION KILL can stop it, FUNCTION STATS shows it. Any
/// other runs inline, under its caller's command.
fn run_fcall(ctx: &mut Ctx<'_>, args: &[Bytes], ro: bool) -> Reply {
    // A "slow script" fault fired for this command (src/fault): it runs on its own thread, stalling first.
    let stall = if ctx.st.faults.has_rules() { ctx.st.busy.take_stall(ctx.conn.id) } else { None };
    if let Some(busy) = lent_busy(ctx) {
        return busy;
    }
    let Some((flags, loops)) = ctx.st.functions.registry().function(&args[1]).map(|f| (f.flags, f.loops)) else {
        return err("Function not found");
    };
    let Some(numkeys) = parse_i64(&args[2]) else { return err("Bad number of keys provided") };
    if numkeys > (args.len() - 3) as i64 {
        return err("Number of keys can't be greater than number of args");
    }
    if numkeys < 0 {
        return err("Number of keys can't be negative");
    }
    let mut checks = match prepare_run(ctx, Some(flags), ro) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let split = 3 + numkeys as usize;
    let mut lent = match ctx.st.functions.lend(&args[1]) {
        Some(Ok(lent)) => lent,
        Some(Err(e)) => return e,
        None => return err("Function not found"),
    };
    if script_thread::can_offload_function(ctx) && (loops || stall.is_some()) {
        let what = script_thread::Offload { eval: false, name: lent.name().to_string(), checks, stall };
        let (keys, argv) = (args[3..split].to_vec(), args[split..].to_vec());
        match script_thread::offload_function(ctx, what, args.to_vec(), lent, keys, argv) {
            Ok(reply) => return reply,
            // No script thread: inline after all.
            Err(back) => lent = back,
        }
    }
    let reply = ctx.as_script_client(|ctx| {
        let mut call = |cmd: Vec<Bytes>, resp: u8| script_call(ctx, &cmd, resp, &mut checks);
        lent.run(&args[3..split], &args[split..], &mut call)
    });
    // A function cannot reach FUNCTION commands (they are `noscript`), so nothing else changed the libraries.
    ctx.st.functions.give_back(lent);
    reply
}

/// The BUSY error while a function runs on the script thread with the
/// functions' Lua state: only the test's own handle gets here then (other
/// clients wait or get BUSY at the gate), and the libraries must not
/// change under the running function.
fn lent_busy(ctx: &Ctx<'_>) -> Option<Reply> {
    ctx.st.functions.is_lent().then(|| ctx.st.busy.busy_error())
}

/// The seed of the functions' Lua state if this command may create it
/// (drawn only then, so loading libraries leaves the server's RNG alone).
fn engine_seed(ctx: &mut Ctx<'_>) -> u64 {
    if ctx.st.functions.has_engine() {
        0
    } else {
        ctx.st.rng.u64(..)
    }
}

fn load(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if let Some(busy) = lent_busy(ctx) {
        return busy;
    }
    let mut replace = false;
    let mut pos = 2;
    while pos < args.len() - 1 {
        if !eq_ic(&args[pos], "replace") {
            return err(format!("Unknown option given: {}", String::from_utf8_lossy(&args[pos])));
        }
        replace = true;
        pos += 1;
    }
    let seed = engine_seed(ctx);
    match ctx.st.functions.load(&args[pos], replace, seed) {
        Ok(name) => Reply::Bulk(Bytes::from(name)),
        Err(e) => Reply::Error(Bytes::from(format!("ERR {e}").replace(['\r', '\n'], " "))),
    }
}

fn list(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (mut with_code, mut pattern) = (false, None);
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if !with_code && eq_ic(a, "withcode") {
            with_code = true;
        } else if pattern.is_none() && eq_ic(a, "libraryname") {
            if i + 1 >= args.len() {
                return err("library name argument was not given");
            }
            i += 1;
            pattern = Some(&args[i]);
        } else {
            return err(format!("Unknown argument {}", String::from_utf8_lossy(a)));
        }
        i += 1;
    }
    let bulk = |s: &str| Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()));
    let libs = ctx.st.functions.registry().libraries();
    let libs = libs.filter(|l| pattern.is_none_or(|p| glob_match(p, l.name.as_bytes(), true)));
    Reply::Array(
        libs.map(|lib| {
            let functions = lib
                .functions
                .iter()
                .map(|f| {
                    let flags = SCRIPT_FLAGS
                        .iter()
                        .filter(|(_, bit)| f.flags & bit != 0)
                        .map(|(n, _)| Reply::Status(Bytes::from_static(n.as_bytes())))
                        .collect();
                    Reply::Map(vec![
                        (bulk("name"), bulk(&f.name)),
                        (bulk("description"), f.desc.clone().map_or(Reply::Nil, Reply::Bulk)),
                        (bulk("flags"), Reply::Set(flags)),
                    ])
                })
                .collect();
            let mut fields = vec![
                (bulk("library_name"), bulk(&lib.name)),
                (bulk("engine"), bulk("LUA")),
                (bulk("functions"), Reply::Array(functions)),
            ];
            if with_code {
                fields.push((bulk("library_code"), Reply::Bulk(lib.code.clone())));
            }
            Reply::Map(fields)
        })
        .collect(),
    )
}

fn delete(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if let Some(busy) = lent_busy(ctx) {
        return busy;
    }
    if ctx.st.functions.delete(&args[2]) {
        Reply::ok()
    } else {
        err("Library not found")
    }
}

fn flush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match args.len() {
        2 => {}
        3 if eq_ic(&args[2], "async") || eq_ic(&args[2], "sync") => {}
        3 => return err("FUNCTION FLUSH only supports SYNC|ASYNC option"),
        _ => return subcommand_syntax_error(args),
    }
    if let Some(busy) = lent_busy(ctx) {
        return busy;
    }
    ctx.st.functions.flush();
    Reply::ok()
}

fn dump(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    let compress = !ctx.st.config().get("rdbcompression").is_some_and(|v| v.eq_ignore_ascii_case("no"));
    let codes = ctx.st.functions.registry().libraries().map(|l| &l.code[..]);
    Reply::Bulk(Bytes::from(rdb::dump_functions(codes, compress)))
}

fn restore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if args.len() > 4 {
        return subcommand_syntax_error(args);
    }
    let policy = match args.get(3) {
        None => RestorePolicy::Append,
        Some(p) if eq_ic(p, "append") => RestorePolicy::Append,
        Some(p) if eq_ic(p, "replace") => RestorePolicy::Replace,
        Some(p) if eq_ic(p, "flush") => RestorePolicy::Flush,
        Some(_) => return err("Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."),
    };
    let payload = &args[2];
    if !rdb::verify(payload) {
        return err("DUMP payload version or checksum are wrong");
    }
    let codes = match rdb::load_functions(payload) {
        Ok(c) => c,
        Err(e) => return err(e),
    };
    if let Some(busy) = lent_busy(ctx) {
        return busy;
    }
    let seed = engine_seed(ctx);
    match ctx.st.functions.restore(&codes, policy, seed) {
        Ok(()) => Reply::ok(),
        Err(e) => Reply::Error(Bytes::from(format!("ERR {e}").replace(['\r', '\n'], " "))),
    }
}

/// FUNCTION STATS (Redis's `functionStatsCommand`): the running function
/// (its registered name, its caller's command line, how long it has run
/// on the server's clock; nil when none runs) and the engine's counts.
/// While an EVAL runs it answers that EVAL's BUSY error instead.
fn stats(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    let running = ctx.st.busy.current();
    if running.as_ref().is_some_and(|r| r.eval) {
        return Reply::error(crate::engine::busy::BUSY_EVAL);
    }
    let reg = ctx.st.functions.registry();
    let bulk = |s: &'static str| Reply::Bulk(Bytes::from_static(s.as_bytes()));
    let running = match running {
        None => Reply::Nil,
        Some(r) => Reply::Map(vec![
            (bulk("name"), Reply::Bulk(Bytes::from(r.name))),
            (bulk("command"), Reply::Array(r.command.into_iter().map(Reply::Bulk).collect())),
            (bulk("duration_ms"), Reply::Int(r.duration_ms.min(i64::MAX as u64) as i64)),
        ]),
    };
    Reply::Map(vec![
        (bulk("running_script"), running),
        (
            bulk("engines"),
            Reply::Map(vec![(
                bulk("LUA"),
                Reply::Map(vec![
                    (bulk("libraries_count"), Reply::Int(reg.libraries().count() as i64)),
                    (bulk("functions_count"), Reply::Int(reg.function_count() as i64)),
                ]),
            )]),
        ),
    ])
}

/// FUNCTION KILL: Redis's `scriptKill` rules (`crate::engine::busy::kill`):
/// OK for a running function that has not written (its caller then gets
/// `Script killed by user with SCRIPT KILL...`, as from 7.0.15), UNKILLABLE
/// once it has, NOTBUSY when nothing runs, and the EVAL BUSY text when the
/// running script is an EVAL.
fn kill(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    crate::engine::busy::kill(&ctx.st.busy, false)
}

fn help(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    help_reply(&[
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
        "HELP",
        "    Prints this help.",
    ])
}
