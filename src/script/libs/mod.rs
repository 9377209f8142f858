//! The helper libraries Redis 7.0 loads into every script's globals:
//! `cjson` (lua-cjson 2.1.0), `cmsgpack` (lua-cmsgpack 0.4.0), `bit`
//! (LuaBitOp 1.0.2) and `struct` (Roberto Ierusalimschy's struct 1.4),
//! written here in Rust after the behaviour of the C versions Redis vendors
//! (checked against redis-server by fixtures/diff/lua_*.redis).
//!
//! Errors: the C libraries raise plain strings with `luaL_error`/
//! `luaL_argerror`, which put the caller's position in front
//! (`user_script:1: `) and name the function (`bad argument #1 to 'decode'`).
//! A Rust callback cannot raise a string through mlua, so these functions
//! raise a [`LibError`] holding the finished text; the sandbox's error
//! handler and its `pcall` turn it back into that string
//! ([`lib_error_text`]), so a script sees what it would see in Redis.
//! The position and the name are read from the Lua stack the way
//! `luaL_where(L, 1)` and `lua_getinfo("n")` read them, so
//! `pcall(cjson.decode, 'x')` gets no position and `'?'` as the name, as in Redis.
//!
//! The library tables are read-only as in Redis 7.0 ([`readonly`]); SCRIPT
//! FLUSH starts a new Lua state, so the cjson settings a script changed do
//! not outlive it (as in Redis).

mod bit;
mod cjson;
mod cmsgpack;
pub(crate) mod readonly;
mod structlib;

use mlua::{Lua, MultiValue, Table, Value};

/// How many stack slots a C function may use before `lua_checkstack` fails
/// (Lua 5.1's `LUAI_MAXCSTACK`); the libraries' nesting limits come from it.
const MAX_C_STACK: usize = 8000;

/// Installs `cjson`, `cmsgpack`, `bit` and `struct` into `globals` (the table the sandbox reads).
pub(crate) fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    globals.raw_set("cjson", cjson::module(lua)?)?;
    globals.raw_set("cmsgpack", cmsgpack::module(lua)?)?;
    globals.raw_set("bit", bit::module(lua)?)?;
    globals.raw_set("struct", structlib::module(lua)?)?;
    Ok(())
}

/// An error raised by a library function: the exact string Lua would raise.
#[derive(Debug)]
pub(crate) struct LibError(String);

impl std::fmt::Display for LibError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LibError {}

/// The string a library function raised, through mlua's callback wrapping.
pub(crate) fn lib_error_text(e: &mlua::Error) -> Option<String> {
    match e {
        mlua::Error::CallbackError { cause, .. } => lib_error_text(cause),
        mlua::Error::ExternalError(x) => x.downcast_ref::<LibError>().map(|l| l.0.clone()),
        _ => None,
    }
}

/// `luaL_where(L, 1)`: `source:line: ` of the function that called the
/// running one, or nothing when that is a C function (`pcall`).
fn caller_position(lua: &Lua) -> String {
    lua.inspect_stack(1, |d| {
        let line = d.current_line();
        let src = d.source().short_src.map(|s| s.into_owned());
        match (src, line) {
            (Some(src), Some(line)) if line > 0 => format!("{src}:{line}: "),
            _ => String::new(),
        }
    })
    .unwrap_or_default()
}

/// `luaL_error`: `msg` after the caller's position.
fn error(lua: &Lua, msg: impl AsRef<str>) -> mlua::Error {
    mlua::Error::external(LibError(format!("{}{}", caller_position(lua), msg.as_ref())))
}

/// `luaL_argerror`: `bad argument #n to 'name' (msg)`, with Lua's method rule.
fn arg_error(lua: &Lua, narg: i64, msg: impl AsRef<str>) -> mlua::Error {
    let (name, method) = lua
        .inspect_stack(0, |d| {
            let n = d.names();
            (n.name.map(|s| s.into_owned()), n.name_what == Some("method"))
        })
        .unwrap_or((None, false));
    let mut narg = narg;
    if method {
        narg -= 1;
        if narg == 0 {
            return error(lua, format!("calling '{}' on bad self ({})", name.as_deref().unwrap_or("?"), msg.as_ref()));
        }
    }
    error(lua, format!("bad argument #{narg} to '{}' ({})", name.as_deref().unwrap_or("?"), msg.as_ref()))
}

/// Lua's name for a value's type (`luaL_typename`), `no value` for a missing argument.
fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        None => "no value",
        Some(Value::Nil) => "nil",
        Some(Value::Boolean(_)) => "boolean",
        Some(Value::LightUserData(_)) | Some(Value::UserData(_)) | Some(Value::Error(_)) => "userdata",
        Some(Value::Integer(_)) | Some(Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Table(_)) => "table",
        Some(Value::Function(_)) => "function",
        Some(Value::Thread(_)) => "thread",
        Some(_) => "userdata",
    }
}

/// `luaL_typerror`: `bad argument #n to 'f' (number expected, got table)`.
fn type_error(lua: &Lua, args: &MultiValue, n: usize, expected: &str) -> mlua::Error {
    arg_error(lua, n as i64, format!("{expected} expected, got {}", type_name(args.get(n - 1))))
}

/// `lua_tonumber`: a number, or a string Lua converts to one.
fn to_number(lua: &Lua, v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        Value::String(s) => lua.coerce_number(Value::String(s.clone())).ok().flatten(),
        _ => None,
    }
}

/// `luaL_checknumber` for argument `n` (1-based).
fn check_number(lua: &Lua, args: &MultiValue, n: usize) -> mlua::Result<f64> {
    to_number(lua, args.get(n - 1)).ok_or_else(|| type_error(lua, args, n, "number"))
}

/// C's `(long)d` on x86-64: truncation, and the "integer indefinite" value out of range.
fn c_long(d: f64) -> i64 {
    if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&d) {
        i64::MIN
    } else {
        d as i64
    }
}

/// C's `(int)d` on x86-64 (the 32-bit "integer indefinite" out of range).
fn c_int(d: f64) -> i32 {
    if !(-2_147_483_648.0..2_147_483_648.0).contains(&d) {
        i32::MIN
    } else {
        d as i32
    }
}

/// `luaL_checkinteger` (`lua_tointeger`: truncation to a 64-bit integer).
fn check_integer(lua: &Lua, args: &MultiValue, n: usize) -> mlua::Result<i64> {
    check_number(lua, args, n).map(c_long)
}

/// `luaL_optinteger`: `default` when the argument is missing or nil.
fn opt_integer(lua: &Lua, args: &MultiValue, n: usize, default: i64) -> mlua::Result<i64> {
    match args.get(n - 1) {
        None | Some(Value::Nil) => Ok(default),
        Some(_) => check_integer(lua, args, n),
    }
}

/// `luaL_checklstring`: a string, or a number in Lua's `%.14g` form.
fn check_bytes(lua: &Lua, args: &MultiValue, n: usize) -> mlua::Result<Vec<u8>> {
    match args.get(n - 1) {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(v @ (Value::Integer(_) | Value::Number(_))) => match lua.coerce_string(v.clone())? {
            Some(s) => Ok(s.as_bytes().to_vec()),
            None => Err(type_error(lua, args, n, "string")),
        },
        _ => Err(type_error(lua, args, n, "string")),
    }
}

/// A Lua number value (always a float, as Lua 5.1 has only doubles).
fn num(n: f64) -> Value {
    Value::Number(n)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use crate::protocol::Reply;
    use crate::script::Engine;

    /// Runs `body` as EVAL would (no keys, no arguments, no commands).
    fn eval(body: &str) -> Reply {
        let mut engine = Engine::new(1).expect("engine");
        let sha = engine.load(body.as_bytes()).expect("compiles");
        engine.run(&sha, &[], &[], &mut |_, _| Reply::Nil).expect("cached")
    }

    fn bulk(s: &[u8]) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(s))
    }

    /// The error text before the ` script: <sha>` suffix.
    fn error_head(r: Reply) -> String {
        let Reply::Error(e) = r else { panic!("expected an error, got {r:?}") };
        let e = String::from_utf8_lossy(&e).into_owned();
        e.split(" script: ").next().unwrap_or_default().to_string()
    }

    // The expected values below are redis-server 7.0.15's answers.

    #[test]
    fn cjson_encodes_with_redis_settings() {
        assert_eq!(eval("return cjson.encode({})"), bulk(b"{}"));
        assert_eq!(eval("return cjson.encode(1/3)"), bulk(b"0.33333333333333"));
        assert_eq!(eval("return cjson.encode({1, 'a/b', true, cjson.null})"), bulk(b"[1,\"a\\/b\",true,null]"));
        assert_eq!(
            error_head(eval("return cjson.encode({[20] = 1})")),
            "ERR user_script:1: Cannot serialise table: excessively sparse array"
        );
    }

    #[test]
    fn library_errors_carry_the_callers_position_and_pcall_sees_the_plain_string() {
        assert_eq!(
            error_head(eval("return cjson.decode('x')")),
            "ERR user_script:1: Expected value but found invalid token at character 1"
        );
        assert_eq!(
            eval("return {pcall(cjson.decode, 'x')}"),
            Reply::Array(vec![Reply::Nil, bulk(b"Expected value but found invalid token at character 1")])
        );
        assert_eq!(
            eval("return {pcall(function() return bit.bxor(1, nil) end)}"),
            Reply::Array(vec![
                Reply::Nil,
                bulk(b"user_script:1: bad argument #2 to 'bxor' (number expected, got nil)")
            ])
        );
        assert_eq!(
            error_head(eval("return cjson:decode()")),
            "ERR user_script:1: calling 'decode' on bad self (string expected, got table)"
        );
    }

    #[test]
    fn bit_struct_and_cmsgpack_answer_as_redis() {
        assert_eq!(eval("return bit.tohex(bit.bswap(0x12345678))"), bulk(b"78563412"));
        assert_eq!(eval("return bit.tobit(2^32 + 5)"), Reply::Int(5));
        assert_eq!(eval("return struct.pack('>hB', -2, 255)"), bulk(b"\xff\xfe\xff"));
        assert_eq!(
            eval("return {struct.unpack('<i', '\\255\\255\\255\\255')}"),
            Reply::Array(vec![Reply::Int(-1), Reply::Int(5)])
        );
        assert_eq!(eval("return cmsgpack.pack({1, 2}, 'ab', 1.5)"), bulk(b"\x92\x01\x02\xa2ab\xca\x3f\xc0\x00\x00"));
        assert_eq!(
            eval("return {cmsgpack.unpack_one(cmsgpack.pack(7, 8))}"),
            Reply::Array(vec![Reply::Int(1), Reply::Int(7)])
        );
        assert_eq!(error_head(eval("return cmsgpack.unpack('\\193')")), "ERR user_script:1: Bad data format in input.");
    }
}
