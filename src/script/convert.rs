//! Conversions between replies and Lua values, as Redis 7.0's
//! `script_lua.c` makes them, in both protocols a script can speak
//! (`redis.setresp(2)`, the default, or `redis.setresp(3)`).
//!
//! Command reply -> Lua (what `redis.call` returns):
//! - RESP2: status `{ok=...}`, error `{err=...}`, integer, bulk string,
//!   null -> `false`, arrays (maps flattened, sets as arrays, doubles as
//!   strings, booleans as 1/0);
//! - RESP3 adds `{map={k=v}}`, `{set={member=true}}`, `{double=n}`,
//!   `{big_number="..."}`, `{verbatim_string={format=..., string=...}}`,
//!   real booleans, and null -> `nil`.
//!
//! Lua -> reply (what the script returns) reads the same table forms in
//! either protocol (the client's protocol then decides the encoding, so a
//! RESP2 client gets a map as a flat array); a boolean is `:1`/nil under
//! `setresp(2)` and a true boolean under `setresp(3)`.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use bytes::Bytes;
use mlua::{Lua, MultiValue, Table, Value};

use super::MAX_REPLY_DEPTH;
use crate::protocol::reply::format_double;
use crate::protocol::Reply;

/// Error text as Redis's `luaPushErrorBuff` forms it from a reply's error
/// (`CODE message`; a code-less text gets `ERR`).
pub(super) fn error_table_text(e: &[u8]) -> String {
    let e = String::from_utf8_lossy(e);
    let (code, msg) = match e.split_once(' ') {
        Some((code, msg)) => (code.to_string(), msg.to_string()),
        None => ("ERR".to_string(), e.to_string()),
    };
    format!("{code} {}", msg.trim_matches(|c| c == '\r' || c == '\n'))
}

/// An error value (`{err = text}`) for `redis.call` to raise or `redis.pcall` to return.
pub(super) fn error_table(lua: &Lua, text: &str) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("err", text)?;
    Ok(t)
}

/// A one-field table `{name = value}`.
fn tagged(lua: &Lua, name: &str, value: impl mlua::IntoLua) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set(name, value)?;
    Ok(Value::Table(t))
}

/// A command's reply as Lua sees it, in the script's protocol `resp`.
pub(super) fn reply_to_lua(lua: &Lua, reply: Reply, resp: u8) -> mlua::Result<Value> {
    let resp3 = resp >= 3;
    Ok(match reply {
        Reply::Status(s) => tagged(lua, "ok", lua.create_string(&s)?)?,
        Reply::Error(e) => Value::Table(error_table(lua, &error_table_text(&e))?),
        Reply::Int(n) => Value::Number(n as f64),
        Reply::Bulk(b) => Value::String(lua.create_string(&b)?),
        Reply::Double(d) if resp3 => tagged(lua, "double", d)?,
        Reply::DoubleText(b) if resp3 => {
            let d = std::str::from_utf8(&b).ok().and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
            tagged(lua, "double", d)?
        }
        Reply::Double(d) => Value::String(lua.create_string(format_double(d))?),
        Reply::DoubleText(b) => Value::String(lua.create_string(&b)?),
        Reply::BigNumber(b) if resp3 => tagged(lua, "big_number", lua.create_string(&b)?)?,
        Reply::BigNumber(b) => Value::String(lua.create_string(&b)?),
        Reply::Verbatim(format, b) if resp3 => {
            let t = lua.create_table_with_capacity(0, 2)?;
            t.raw_set("format", format)?;
            t.raw_set("string", lua.create_string(&b)?)?;
            tagged(lua, "verbatim_string", t)?
        }
        Reply::Verbatim(_, b) => Value::String(lua.create_string(&b)?),
        Reply::Bool(b) if resp3 => Value::Boolean(b),
        Reply::Bool(b) => Value::Number(if b { 1.0 } else { 0.0 }),
        Reply::Nil | Reply::NilArray | Reply::None if resp3 => Value::Nil,
        Reply::Nil | Reply::NilArray | Reply::None => Value::Boolean(false),
        Reply::Set(v) if resp3 => {
            let t = lua.create_table_with_capacity(0, v.len())?;
            for r in v {
                let k = reply_to_lua(lua, r, resp)?;
                if !k.is_nil() {
                    t.raw_set(k, true)?;
                }
            }
            tagged(lua, "set", t)?
        }
        Reply::Map(v) if resp3 => {
            let t = lua.create_table_with_capacity(0, v.len())?;
            for (k, val) in v {
                let k = reply_to_lua(lua, k, resp)?;
                if !k.is_nil() {
                    t.raw_set(k, reply_to_lua(lua, val, resp)?)?;
                }
            }
            tagged(lua, "map", t)?
        }
        Reply::Array(v) | Reply::Set(v) | Reply::Push(v) => {
            let t = lua.create_table_with_capacity(v.len(), 0)?;
            for (i, r) in v.into_iter().enumerate() {
                t.raw_set(i + 1, reply_to_lua(lua, r, resp)?)?;
            }
            Value::Table(t)
        }
        Reply::Map(v) => {
            let t = lua.create_table_with_capacity(v.len() * 2, 0)?;
            for (i, (k, val)) in v.into_iter().enumerate() {
                t.raw_set(2 * i + 1, reply_to_lua(lua, k, resp)?)?;
                t.raw_set(2 * i + 2, reply_to_lua(lua, val, resp)?)?;
            }
            Value::Table(t)
        }
        Reply::Multi(mut v) => match v.pop() {
            Some(r) => reply_to_lua(lua, r, resp)?,
            None => Value::Boolean(false),
        },
    })
}

/// Redis's `addReplyErrorLength`/status sanitising: CR and LF become spaces.
pub(super) fn one_line(s: &[u8]) -> Bytes {
    Bytes::from(s.iter().map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }).collect::<Vec<u8>>())
}

/// Distinct verbatim formats kept for `Reply::Verbatim`'s `&'static str`
/// (scripts name their own; past this many, further new ones read `txt`).
const VERBATIM_FORMATS: usize = 256;

/// `addReplyVerbatim`'s three format characters: the first three bytes,
/// padded with spaces, interned.
fn verbatim_format(raw: &[u8]) -> &'static str {
    let mut f = [b' '; 3];
    for (d, s) in f.iter_mut().zip(raw.iter().take_while(|&&b| b != 0)) {
        *d = *s;
    }
    let Ok(f) = std::str::from_utf8(&f) else { return "txt" };
    if f == "txt" || f == "mkd" {
        return if f == "txt" { "txt" } else { "mkd" };
    }
    static SEEN: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut seen = SEEN.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = seen.get(f) {
        return s;
    }
    if seen.len() >= VERBATIM_FORMATS {
        return "txt";
    }
    let s: &'static str = Box::leak(f.to_string().into_boxed_str());
    seen.insert(s);
    s
}

/// A string field of a table, if it is one.
fn string_field(t: &Table, name: &str) -> Option<Bytes> {
    match t.raw_get::<Value>(name) {
        Ok(Value::String(s)) => Some(Bytes::copy_from_slice(&s.as_bytes())),
        _ => None,
    }
}

/// A script's return value as a reply (Redis's `luaReplyToRedisReply`);
/// `resp` is the protocol the script last chose with `redis.setresp`.
pub(super) fn lua_to_reply(v: &Value, resp: u8, depth: usize) -> Reply {
    if depth > MAX_REPLY_DEPTH {
        return Reply::error("ERR reached lua stack limit");
    }
    match v {
        Value::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Boolean(b) if resp >= 3 => Reply::Bool(*b),
        Value::Boolean(true) => Reply::Int(1),
        Value::Boolean(false) => Reply::Nil,
        Value::Integer(n) => Reply::Int(*n),
        Value::Number(n) => Reply::Int(*n as i64),
        Value::Table(t) => table_to_reply(t, resp, depth),
        _ => Reply::Nil,
    }
}

fn table_to_reply(t: &Table, resp: u8, depth: usize) -> Reply {
    if let Some(e) = string_field(t, "err") {
        return Reply::Error(one_line(&e));
    }
    if let Some(ok) = string_field(t, "ok") {
        return Reply::Status(one_line(&ok));
    }
    if let Ok(Value::Number(d)) = t.raw_get::<Value>("double") {
        return Reply::DoubleText(Bytes::from(format_c17g(d)));
    }
    if let Ok(Value::Integer(d)) = t.raw_get::<Value>("double") {
        return Reply::DoubleText(Bytes::from(format_c17g(d as f64)));
    }
    if let Some(b) = string_field(t, "big_number") {
        return Reply::BigNumber(b);
    }
    if let Ok(Value::Table(m)) = t.raw_get::<Value>("map") {
        let mut pairs = Vec::new();
        for (k, v) in m.pairs::<Value, Value>().flatten() {
            pairs.push((lua_to_reply(&k, resp, depth + 1), lua_to_reply(&v, resp, depth + 1)));
        }
        return Reply::Map(pairs);
    }
    if let Ok(Value::Table(s)) = t.raw_get::<Value>("set") {
        let members = s.pairs::<Value, Value>().flatten().map(|(k, _)| lua_to_reply(&k, resp, depth + 1)).collect();
        return Reply::Set(members);
    }
    if let Ok(Value::Table(v)) = t.raw_get::<Value>("verbatim_string") {
        if let (Some(format), Some(text)) = (string_field(&v, "format"), string_field(&v, "string")) {
            return Reply::Verbatim(verbatim_format(&format), text);
        }
    }
    let mut out = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => out.push(lua_to_reply(&v, resp, depth + 1)),
        }
    }
    Reply::Array(out)
}

/// Turns a redis.call argument into bytes (numbers as `%.17g`, as Redis does).
pub(super) fn call_args(args: MultiValue) -> Result<Vec<Bytes>, &'static str> {
    if args.is_empty() {
        return Err("ERR Please specify at least one argument for this redis lib call");
    }
    let mut out = Vec::with_capacity(args.len());
    for a in args.iter() {
        match a {
            Value::Integer(n) => out.push(Bytes::from(format_double(*n as f64))),
            Value::Number(n) => out.push(Bytes::from(format_c17g(*n))),
            Value::String(s) => out.push(Bytes::copy_from_slice(&s.as_bytes())),
            _ => return Err("ERR Lua redis lib command arguments must be strings or integers"),
        }
    }
    Ok(out)
}

/// C's `%.17g` including `nan` (which `format_double` does not print).
fn format_c17g(n: f64) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan".into() } else { "nan".into() };
    }
    format_double(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbatim_formats_are_three_characters() {
        assert_eq!(verbatim_format(b"txt"), "txt");
        assert_eq!(verbatim_format(b"mk"), "mk ");
        assert_eq!(verbatim_format(b"markdown"), "mar");
        assert_eq!(verbatim_format(b""), "   ");
    }
}
