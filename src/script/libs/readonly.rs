//! Read-only library tables, as Redis 7.0 makes them (`string`, `math`,
//! `table`, `coroutine`, `cjson`, `cmsgpack`, `bit`, `struct`, `redis`, the
//! strings' metatable and the globals).
//!
//! Redis patches Lua with a read-only flag on tables; stock Lua 5.1 has
//! none, so each library is replaced in the globals by an empty proxy whose
//! metatable reads from the real table and raises `Attempt to modify a
//! readonly table` on any assignment (with the assigning line's position,
//! as the patched VM raises it). The base functions that would reach past a
//! proxy are replaced by Rust ones (C functions, so errors name the caller's
//! line and the function as Lua's would):
//! - `rawset` and `setmetatable` refuse a read-only table with Redis's text
//!   (no position, as a C function's error has none);
//! - `rawget` and `pairs` read the real table behind a proxy;
//! - `getmetatable` answers nil for a library (Redis's have no metatable),
//!   a read-only view of the strings' metatable for a string, and an empty
//!   read-only table for the globals (whose real metatable would lead to
//!   the writable globals behind the proxy).
//!
//! Not here: `next`, `ipairs`, `unpack`, `#` and the `table.*` functions see
//! a library as the empty table it is (`table.insert(string, 1)` writes into
//! the proxy, where Redis refuses it).

use mlua::{Function, Lua, MultiValue, Table, Value};

use super::{arg_error, error, type_error, LibError};

/// Redis's text for a write to a read-only table.
const READONLY: &str = "Attempt to modify a readonly table";

/// Wraps the libraries in `G` (the real globals) in read-only proxies;
/// `env` is the globals' own proxy (the scripts' environment).
const LOCK: &str = r#"
local G, env = ...
local ro, iters = {}, {}
local rawnext, setmetatable, error, ipairs = next, setmetatable, error, ipairs
local function refuse() error('Attempt to modify a readonly table', 2) end
local function lock(real)
  local p = setmetatable({}, {__index = real, __newindex = refuse, __metatable = false})
  ro[p] = real
  iters[p] = function(_, k) return rawnext(real, k) end
  return p
end
for _, name in ipairs({'string', 'math', 'table', 'coroutine', 'cjson', 'cmsgpack', 'bit', 'struct', 'redis'}) do
  G[name] = lock(G[name])
end
local strings = getmetatable('')
strings.__index = G.string
local strings_view = lock(strings)
ro[env] = G
iters[env] = function(_, k) return rawnext(G, k) end
return ro, iters, strings_view, lock({})
"#;

/// An error with exactly this text (no position: a C function raised it).
fn plain(text: &str) -> mlua::Error {
    mlua::Error::external(LibError(text.to_string()))
}

/// `luaL_checktype(L, n, LUA_TTABLE)`.
fn check_table(lua: &Lua, args: &MultiValue, n: usize) -> mlua::Result<Table> {
    match args.get(n - 1) {
        Some(Value::Table(t)) => Ok(t.clone()),
        _ => Err(type_error(lua, args, n, "table")),
    }
}

/// `luaL_checkany(L, n)`.
fn check_any(lua: &Lua, args: &MultiValue, n: usize) -> mlua::Result<()> {
    if args.len() < n {
        return Err(arg_error(lua, n as i64, "value expected"));
    }
    Ok(())
}

/// The real table behind the read-only `t`, if it is one.
fn real_of(ro: &Table, t: &Table) -> mlua::Result<Option<Table>> {
    ro.raw_get::<Option<Table>>(t)
}

/// The read-only tables' real tables (Lua app data), for [`unlocked`].
struct Locked(Table);

/// The table behind `t` if it is a read-only proxy, else `t`: what
/// `cjson.encode` and `cmsgpack.pack` walk (Redis's walk the library itself).
pub(crate) fn unlocked(lua: &Lua, t: &Table) -> Table {
    let real = lua.app_data_ref::<Locked>().and_then(|l| real_of(&l.0, t).ok().flatten());
    real.unwrap_or_else(|| t.clone())
}

/// Makes the library tables in `globals` read-only (see the module's text).
pub(crate) fn install(lua: &Lua, globals: &Table, env: &Table) -> mlua::Result<()> {
    let (ro, iters, strings, globals_meta): (Table, Table, Table, Table) =
        lua.load(LOCK).set_name("=sandbox").call((globals.clone(), env.clone()))?;
    lua.set_app_data(Locked(ro.clone()));
    let base_next: Function = globals.raw_get("next")?;
    let base_getmetatable: Function = globals.raw_get("getmetatable")?;

    let r = ro.clone();
    let rawset = lua.create_function(move |lua, args: MultiValue| {
        let t = check_table(lua, &args, 1)?;
        check_any(lua, &args, 2)?;
        check_any(lua, &args, 3)?;
        if real_of(&r, &t)?.is_some() {
            return Err(plain(READONLY));
        }
        match &args[1] {
            Value::Nil => return Err(plain("table index is nil")),
            Value::Number(n) if n.is_nan() => return Err(plain("table index is NaN")),
            _ => {}
        }
        t.raw_set(args[1].clone(), args[2].clone())?;
        Ok(t)
    })?;

    let r = ro.clone();
    let setmetatable = lua.create_function(move |lua, args: MultiValue| {
        let t = check_table(lua, &args, 1)?;
        let mt = match args.get(1) {
            Some(Value::Nil) => None,
            Some(Value::Table(m)) => Some(m.clone()),
            _ => return Err(arg_error(lua, 2, "nil or table expected")),
        };
        if real_of(&r, &t)?.is_some() {
            return Err(plain(READONLY));
        }
        if let Some(current) = t.metatable() {
            if !current.raw_get::<Value>("__metatable")?.is_nil() {
                return Err(error(lua, "cannot change a protected metatable"));
            }
        }
        t.set_metatable(mt)?;
        Ok(t)
    })?;

    let (r, env_view) = (ro.clone(), env.to_pointer() as usize);
    let getmetatable = lua.create_function(move |lua, args: MultiValue| {
        check_any(lua, &args, 1)?;
        match &args[0] {
            Value::String(_) => Ok(Value::Table(strings.clone())),
            Value::Table(t) if t.to_pointer() as usize == env_view => Ok(Value::Table(globals_meta.clone())),
            Value::Table(t) if real_of(&r, t)?.is_some() => Ok(Value::Nil),
            Value::Table(t) => Ok(match t.metatable() {
                None => Value::Nil,
                Some(m) => match m.raw_get::<Value>("__metatable")? {
                    Value::Nil => Value::Table(m),
                    protected => protected,
                },
            }),
            other => base_getmetatable.call::<Value>(other.clone()),
        }
    })?;

    let r = ro.clone();
    let rawget = lua.create_function(move |lua, args: MultiValue| {
        let t = check_table(lua, &args, 1)?;
        check_any(lua, &args, 2)?;
        let t = real_of(&r, &t)?.unwrap_or(t);
        t.raw_get::<Value>(args[1].clone())
    })?;

    let pairs = lua.create_function(move |lua, args: MultiValue| {
        let t = check_table(lua, &args, 1)?;
        let iter = iters.raw_get::<Option<Function>>(&t)?.unwrap_or_else(|| base_next.clone());
        Ok((iter, t, Value::Nil))
    })?;

    globals.raw_set("rawset", rawset)?;
    globals.raw_set("setmetatable", setmetatable)?;
    globals.raw_set("getmetatable", getmetatable)?;
    globals.raw_set("rawget", rawget)?;
    globals.raw_set("pairs", pairs)?;
    Ok(())
}
