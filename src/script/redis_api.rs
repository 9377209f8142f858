//! The `redis` table's plain functions (`redis.log`, `setresp`, `sha1hex`,
//! `error_reply`, `status_reply`, `set_repl`, `breakpoint`, ... as Redis
//! 7.0 answers them outside the debugger), and how a Redis error is raised
//! from Rust and recognised again. `redis.call`/`redis.pcall` are the
//! engine's (`engine.rs`): they reach the running command.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use mlua::{Lua, MultiValue, Table, Value};

use super::convert::{error_table, error_table_text};
use super::engine::sha1_hex;

/// The `redis` table's fixed entries (call and pcall are added by [`Engine::new`]).
pub(super) fn fill_redis_table(lua: &Lua, redis: &Table, resp: &Arc<AtomicU8>) -> mlua::Result<()> {
    redis.raw_set("REDIS_VERSION", "7.0.15")?;
    redis.raw_set("REDIS_VERSION_NUM", 0x07000f)?;
    for (name, level) in [("LOG_DEBUG", 0), ("LOG_VERBOSE", 1), ("LOG_NOTICE", 2), ("LOG_WARNING", 3)] {
        redis.raw_set(name, level)?;
    }
    redis.raw_set(
        "sha1hex",
        lua.create_function(|_, args: MultiValue| {
            if args.len() != 1 {
                return Err(raise("ERR wrong number of arguments"));
            }
            let bytes = match &args[0] {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Integer(n) => n.to_string().into_bytes(),
                Value::Number(n) => lua_number_text(*n).into_bytes(),
                _ => Vec::new(),
            };
            Ok(sha1_hex(&bytes))
        })?,
    )?;
    redis.raw_set(
        "log",
        lua.create_function(|_, args: MultiValue| {
            if args.len() < 2 {
                return Err(raise("ERR redis.log() requires two arguments or more."));
            }
            let Some(level) = number(&args[0]) else {
                return Err(raise("ERR First argument must be a number (log level)."));
            };
            let level = level as i64;
            if !(0..=3).contains(&level) {
                return Err(raise("ERR Invalid debug level."));
            }
            let parts: Vec<String> = args
                .iter()
                .skip(1)
                .filter_map(|v| match v {
                    Value::String(s) => Some(String::from_utf8_lossy(&s.as_bytes()).into_owned()),
                    Value::Integer(n) => Some(n.to_string()),
                    Value::Number(n) => Some(lua_number_text(*n)),
                    _ => None,
                })
                .collect();
            tracing::info!(level, "redis-harness: script log: {}", parts.join(" "));
            Ok(())
        })?,
    )?;
    let chosen = resp.clone();
    redis.raw_set(
        "setresp",
        lua.create_function(move |_, args: MultiValue| {
            if args.len() != 1 {
                return Err(raise("ERR redis.setresp() requires one argument."));
            }
            match number(&args[0]).map(|n| n as i64) {
                Some(v @ (2 | 3)) => {
                    chosen.store(v as u8, Ordering::Relaxed);
                    Ok(())
                }
                _ => Err(raise("ERR RESP version must be 2 or 3.")),
            }
        })?,
    )?;
    let single = |field: &'static str, add_dash: bool| {
        lua.create_function(move |lua, args: MultiValue| {
            let t = match (args.len(), args.front()) {
                (1, Some(Value::String(s))) => {
                    let t = lua.create_table()?;
                    if add_dash {
                        let raw = s.as_bytes();
                        let text = if raw.first() == Some(&b'-') {
                            error_table_text(&raw[1..])
                        } else {
                            error_table_text(&raw)
                        };
                        t.raw_set(field, text)?;
                    } else {
                        t.raw_set(field, s.clone())?;
                    }
                    t
                }
                _ => error_table(lua, "ERR wrong number or type of arguments")?,
            };
            Ok(t)
        })
    };
    redis.raw_set("error_reply", single("err", true)?)?;
    redis.raw_set("status_reply", single("ok", false)?)?;
    for name in ["set_repl", "replicate_commands"] {
        redis.raw_set(name, lua.create_function(|_, _: MultiValue| Ok(true))?)?;
    }
    for (name, v) in [("REPL_NONE", 0), ("REPL_AOF", 1), ("REPL_SLAVE", 2), ("REPL_REPLICA", 2), ("REPL_ALL", 3)] {
        redis.raw_set(name, v)?;
    }
    Ok(())
}

/// A Redis error raised from a `redis.*` function (its `{err = ...}` text).
#[derive(Debug)]
struct Raised(String);

impl std::fmt::Display for Raised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Raised {}

/// Raises `{err = text}` from Rust (Redis raises it from C, keeping the caller's frame).
pub(super) fn raise(text: &str) -> mlua::Error {
    mlua::Error::external(Raised(text.to_string()))
}

/// The text of a [`Raised`] error, through mlua's callback wrapping.
pub(super) fn raised_text(e: &mlua::Error) -> Option<String> {
    match e {
        mlua::Error::CallbackError { cause, .. } => raised_text(cause),
        mlua::Error::ExternalError(x) => x.downcast_ref::<Raised>().map(|r| r.0.clone()),
        _ => None,
    }
}

/// A Lua number argument (a numeric string counts, as `lua_tonumber` has it).
pub(super) fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        Value::String(s) => s.to_str().ok().and_then(|s| s.trim().parse().ok()),
        _ => None,
    }
}

/// Lua 5.1's `%.14g` number to string conversion (close enough for integers and short decimals).
pub(super) fn lua_number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        return format!("{}", n as i64);
    }
    format!("{n}")
}
