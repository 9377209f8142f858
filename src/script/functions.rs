//! Redis 7.0 functions: libraries loaded with FUNCTION LOAD, each a Lua
//! chunk whose `#!lua name=<lib>` header names it and whose code registers
//! functions with `redis.register_function`; FCALL runs one.
//!
//! As in Redis, all libraries share one Lua state of their own (apart from
//! EVAL's, so SCRIPT FLUSH leaves them alone, and FUNCTION FLUSH starts a
//! fresh one). Library code sees two different worlds through one
//! environment table whose lookups switch:
//! - while it loads, only `redis` with `register_function`, `log`, the
//!   `LOG_*` levels and `REDIS_VERSION(_NUM)`: no `redis.call`, no `string`,
//!   not even `pairs` (Redis 7.0's `LIBRARY_API` table);
//! - when FCALL runs one of its functions, the same globals as EVAL (no
//!   `KEYS`/`ARGV`: a function gets its keys and arguments as its two
//!   parameters).
//!
//! Library names are case-sensitive; function names are unique across
//! libraries case-insensitively (FCALL finds `MyFunc` as `myfunc`), as
//! Redis's dictionaries compare them. Libraries are listed in load order
//! (Redis lists them in hash order, which changes from run to run).
//!
//! This module knows no command: the command layer parses arguments, runs
//! the checks, takes the function out with the Lua state behind it
//! ([`Functions::lend`]), runs it ([`Lent::run`], handing it the callback
//! running `redis.call`) inline or on the script thread, and gives the
//! state back ([`Functions::give_back`]). Whether that thread is needed is
//! decided per library when it loads ([`library_may_loop`]).

use std::cell::RefCell;
use std::collections::HashMap;

use bytes::Bytes;
use indexmap::IndexMap;
use mlua::{Function, MultiValue, RegistryKey, Table, Value};

use super::{lua_number_text, one_line, raise, Engine, Inputs};
use crate::protocol::Reply;

use super::source::{library_may_loop, parse_meta, valid_name};
pub(crate) use super::source::{script_flag, shebang_flags, FLAG_ALLOW_OOM, FLAG_NO_WRITES, SCRIPT_FLAGS};

const NAME_ERROR: &str =
    "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// Builds the switching environment and the load-time `redis` view.
const ENV: &str = r#"
local G, libapi, libredis = ...
local current = libapi
local rawget, error, tostring, setmetatable = rawget, error, tostring, setmetatable
local function guard(source)
  return setmetatable({}, {
    __index = function(_, k)
      local v = rawget(source(), k)
      if v == nil then
        error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
      end
      return v
    end,
    __newindex = function() error('Attempt to modify a readonly table', 2) end,
    __metatable = false,
  })
end
libapi.redis = guard(function() return libredis end)
local env = guard(function() return current end)
return env, function(loading) if loading then current = libapi else current = G end end
"#;

/// One registered function.
#[derive(Debug)]
pub(crate) struct FunctionInfo {
    /// Its name as registered.
    pub name: String,
    /// `description`, if given.
    pub desc: Option<Bytes>,
    /// `FLAG_*` bits.
    pub flags: u8,
    /// Its library's code may run long ([`library_may_loop`]): FCALL then
    /// runs it where other clients can be answered BUSY meanwhile.
    pub loops: bool,
    key: RegistryKey,
}

/// One library: its name, full code (header included) and functions in
/// registration order.
#[derive(Debug)]
pub(crate) struct Library {
    /// The `name=` of its header.
    pub name: String,
    /// The code as loaded, `#!lua ...` line included (what DUMP saves).
    pub code: Bytes,
    /// Its functions.
    pub functions: Vec<FunctionInfo>,
}

/// A set of libraries and the index of their functions (the current one,
/// or the one a FUNCTION RESTORE builds before joining it).
#[derive(Debug, Default)]
pub(crate) struct Registry {
    libs: IndexMap<String, Library>,
    /// Lower-case function name -> its library.
    index: HashMap<String, String>,
}

impl Registry {
    /// The libraries, in load order.
    pub(crate) fn libraries(&self) -> impl Iterator<Item = &Library> {
        self.libs.values()
    }

    /// Number of functions over all libraries.
    pub(crate) fn function_count(&self) -> usize {
        self.index.len()
    }

    /// The function of this name (any case).
    pub(crate) fn function(&self, name: &[u8]) -> Option<&FunctionInfo> {
        let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
        let lib = self.libs.get(self.index.get(&lower)?)?;
        lib.functions.iter().find(|f| f.name.eq_ignore_ascii_case(&lower))
    }

    fn link(&mut self, lib: Library) {
        for f in &lib.functions {
            self.index.insert(f.name.to_ascii_lowercase(), lib.name.clone());
        }
        self.libs.insert(lib.name.clone(), lib);
    }

    fn unlink(&mut self, name: &str) -> Option<Library> {
        let lib = self.libs.shift_remove(name)?;
        for f in &lib.functions {
            self.index.remove(&f.name.to_ascii_lowercase());
        }
        Some(lib)
    }

    /// The first of `lib`'s functions another library already has.
    fn collision<'a>(&self, lib: &'a Library) -> Option<&'a str> {
        lib.functions.iter().find(|f| self.index.contains_key(&f.name.to_ascii_lowercase())).map(|f| f.name.as_str())
    }
}

/// FUNCTION RESTORE's policy for libraries that exist already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RestorePolicy {
    /// Drop every existing library first.
    Flush,
    /// Add the restored ones; any name collision aborts (the default).
    Append,
    /// Replace libraries of the same name; a function collision still aborts.
    Replace,
}

/// The Lua state functions run in.
struct Vm {
    engine: Engine,
    /// The environment of every library chunk (and so of its functions).
    env: Table,
    /// Switches `env` between the load-time API (`true`) and the globals.
    set_loading: Function,
    /// The load-time `redis` table's contents.
    libredis: Table,
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm").finish_non_exhaustive()
    }
}

impl Vm {
    fn new(seed: u64) -> mlua::Result<Vm> {
        let engine = Engine::new(seed)?;
        let lua = engine.lua();
        let libapi = lua.create_table()?;
        let libredis = lua.create_table()?;
        for name in
            ["log", "LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING", "REDIS_VERSION", "REDIS_VERSION_NUM"]
        {
            libredis.raw_set(name, engine.redis_table().raw_get::<Value>(name)?)?;
        }
        libredis.raw_set("register_function", not_loading(lua)?)?;
        // Redis gives functions no breakpoint/debug/replicate_commands.
        engine.redis_table().raw_set("replicate_commands", Value::Nil)?;
        let (env, set_loading): (Table, Function) =
            lua.load(ENV).set_name("=functions").call((engine.globals().clone(), libapi, libredis.clone()))?;
        set_loading.call::<()>(false)?;
        Ok(Vm { engine, env, set_loading, libredis })
    }
}

/// `redis.register_function` outside a load (a library that kept `redis`).
fn not_loading(lua: &mlua::Lua) -> mlua::Result<Function> {
    lua.create_function(|_, _: MultiValue| -> mlua::Result<()> {
        Err(raise("ERR redis.register_function can only be called on FUNCTION LOAD command"))
    })
}

/// All libraries and the Lua state behind them (created on the first load).
#[derive(Debug, Default)]
pub(crate) struct Functions {
    vm: Option<Vm>,
    current: Registry,
    /// The Lua state is out with a running function ([`Functions::lend`]).
    lent: bool,
}

/// A function ready to run, holding the functions' Lua state for the run
/// ([`Functions::lend`]; [`Functions::give_back`] returns it). It may run
/// on another thread than the one that lent it.
pub(crate) struct Lent {
    vm: Vm,
    func: Function,
    /// The function's name as registered (what error replies and FUNCTION STATS name).
    name: String,
}

impl std::fmt::Debug for Lent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lent").field("name", &self.name).finish_non_exhaustive()
    }
}

impl Lent {
    /// The function's name as registered (FCALL finds it in any case).
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The line of its library its code starts at (`@user_function:N`).
    pub(crate) fn line(&self) -> usize {
        self.func.info().line_defined.unwrap_or(1)
    }

    /// Makes the Lua hook consult the server's running-script record (see `Engine::watch`).
    pub(crate) fn watch(&mut self, record: std::sync::Arc<dyn super::busy::Watch>) {
        self.vm.engine.watch(record);
    }

    /// Runs the function with `keys` and `args`, `call` running each `redis.call`.
    pub(crate) fn run(
        &mut self,
        keys: &[Bytes],
        args: &[Bytes],
        call: &mut dyn FnMut(Vec<Bytes>, u8) -> Reply,
    ) -> Reply {
        let func = self.func.clone();
        self.vm.engine.run_with(func, &self.name, Inputs::Arguments(keys, args), call)
    }
}

/// A string argument as `lua_isstring` accepts it (numbers included).
fn lua_string(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Integer(n) => Some(n.to_string().into_bytes()),
        Value::Number(n) => Some(lua_number_text(*n).into_bytes()),
        _ => None,
    }
}

/// What one `redis.register_function` call asked for.
struct Registration {
    name: Vec<u8>,
    desc: Option<Vec<u8>>,
    flags: u8,
    callback: Function,
}

/// `redis.register_function(name, callback)` or `redis.register_function{...}`.
fn read_registration(args: MultiValue) -> Result<Registration, String> {
    let err = |s: &str| Err(s.to_string());
    match args.len() {
        2 => {
            let Some(name) = lua_string(&args[0]) else {
                return err("first argument to redis.register_function must be a string");
            };
            let Value::Function(callback) = &args[1] else {
                return err("second argument to redis.register_function must be a function");
            };
            Ok(Registration { name, desc: None, flags: 0, callback: callback.clone() })
        }
        1 => {
            let Value::Table(t) = &args[0] else {
                return err("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).");
            };
            let (mut name, mut desc, mut flags, mut callback) = (None, None, 0, None);
            for pair in t.pairs::<Value, Value>() {
                let (k, v) = pair.map_err(|e| e.to_string())?;
                let Some(key) = lua_string(&k) else {
                    return err("named argument key given to redis.register_function is not a string");
                };
                if key.eq_ignore_ascii_case(b"function_name") {
                    let Some(n) = lua_string(&v) else {
                        return err("function_name argument given to redis.register_function must be a string");
                    };
                    name = Some(n);
                } else if key.eq_ignore_ascii_case(b"description") {
                    let Some(d) = lua_string(&v) else {
                        return err("description argument given to redis.register_function must be a string");
                    };
                    desc = Some(d);
                } else if key.eq_ignore_ascii_case(b"callback") {
                    let Value::Function(f) = v else {
                        return err("callback argument given to redis.register_function must be a function");
                    };
                    callback = Some(f);
                } else if key.eq_ignore_ascii_case(b"flags") {
                    let Value::Table(list) = v else {
                        return err(
                            "flags argument to redis.register_function must be a table representing function flags",
                        );
                    };
                    flags = read_flags(&list).ok_or_else(|| "unknown flag given".to_string())?;
                } else {
                    return err("unknown argument given to redis.register_function");
                }
            }
            let Some(name) = name else { return err("redis.register_function must get a function name argument") };
            let Some(callback) = callback else { return err("redis.register_function must get a callback argument") };
            Ok(Registration { name, desc, flags, callback })
        }
        _ => err("wrong number of arguments to redis.register_function"),
    }
}

/// A `flags` table: `t[1]`, `t[2]`, ... up to the first nil, each a known flag.
fn read_flags(list: &Table) -> Option<u8> {
    let mut flags = 0;
    for i in 1.. {
        match list.get::<Value>(i).ok()? {
            Value::Nil => break,
            v => flags |= script_flag(&lua_string(&v)?)?,
        }
    }
    Some(flags)
}

impl Functions {
    /// The current libraries.
    pub(crate) fn registry(&self) -> &Registry {
        &self.current
    }

    /// Whether the Lua state exists (a `seed` argument is then unused).
    pub(crate) fn has_engine(&self) -> bool {
        self.vm.is_some()
    }

    /// The Lua state, created on first use.
    fn vm(&mut self, seed: u64) -> Result<&mut Vm, String> {
        if self.lent {
            // Never a fresh state in its place: the lent one comes back.
            return Err("the Lua state is in use by a running function".into());
        }
        if self.vm.is_none() {
            self.vm = Some(Vm::new(seed).map_err(|e| format!("Lua engine: {e}"))?);
        }
        self.vm.as_mut().ok_or_else(|| "Lua engine unavailable".to_string())
    }

    /// FUNCTION LOAD: compiles `code` into the current libraries and returns
    /// the library's name, or Redis's error text (without `ERR `).
    pub(crate) fn load(&mut self, code: &Bytes, replace: bool, seed: u64) -> Result<String, String> {
        let mut current = std::mem::take(&mut self.current);
        let out = self.create(code, replace, &mut current, seed);
        self.current = current;
        out
    }

    /// Redis's `functionsCreateWithLibraryCtx`: header, name, engine,
    /// existing library, then the code (compiled and run), then collisions.
    fn create(&mut self, code: &Bytes, replace: bool, into: &mut Registry, seed: u64) -> Result<String, String> {
        let meta = parse_meta(code)?;
        if !valid_name(&meta.name) {
            return Err(NAME_ERROR.into());
        }
        if !meta.engine.eq_ignore_ascii_case(b"lua") {
            return Err(format!("Engine '{}' not found", String::from_utf8_lossy(&meta.engine)));
        }
        let name = String::from_utf8_lossy(&meta.name).into_owned();
        if into.libs.contains_key(&name) && !replace {
            return Err(format!("Library '{name}' already exists"));
        }
        let mut functions = self.compile(meta.body, seed)?;
        if functions.is_empty() {
            return Err("No functions registered".into());
        }
        let loops = library_may_loop(meta.body);
        for f in &mut functions {
            f.loops = loops;
        }
        let lib = Library { name: name.clone(), code: Bytes::copy_from_slice(code), functions };
        let old = into.unlink(&name);
        if let Some(f) = into.collision(&lib) {
            let msg = format!("Function {f} already exists");
            if let Some(old) = old {
                into.link(old);
            }
            self.release(lib);
            return Err(msg);
        }
        into.link(lib);
        if let Some(old) = old {
            self.release(old);
        }
        Ok(name)
    }

    /// Compiles a library's body and runs it with the load-time API,
    /// collecting what it registers.
    fn compile(&mut self, body: &[u8], seed: u64) -> Result<Vec<FunctionInfo>, String> {
        let vm = self.vm(seed)?;
        let lua = vm.engine.lua().clone();
        let chunk = super::compile(&lua, body, "@user_function", vm.env.clone())
            .map_err(|msg| format!("Error compiling function: {msg}"))?;
        let registered: RefCell<Vec<Registration>> = RefCell::new(Vec::new());
        let outcome = lua.scope(|scope| {
            let register = scope.create_function(|_, args: MultiValue| {
                let r = read_registration(args).map_err(|e| raise(&format!("ERR {e}")))?;
                if !valid_name(&r.name) {
                    return Err(raise(&format!("ERR {NAME_ERROR}")));
                }
                let mut list = registered.borrow_mut();
                if list.iter().any(|o| o.name == r.name) {
                    return Err(raise("ERR Function already exists in the library"));
                }
                list.push(r);
                Ok(())
            })?;
            vm.libredis.raw_set("register_function", register)?;
            vm.set_loading.call::<()>(true)?;
            let out = vm.engine.run_load(chunk);
            vm.set_loading.call::<()>(false)?;
            vm.libredis.raw_set("register_function", not_loading(&lua)?)?;
            Ok(out)
        });
        match outcome {
            Ok(Ok(())) => {}
            // Redis stops a load after 500 ms; the fake stops it at its instruction limit.
            Ok(Err(msg)) if msg == super::KILLED_ERROR => {
                return Err("Error registering functions: ERR FUNCTION LOAD timeout".into())
            }
            Ok(Err(msg)) => return Err(format!("Error registering functions: {msg}")),
            Err(e) => return Err(format!("Error registering functions: ERR {e}")),
        }
        let mut out = Vec::new();
        for r in registered.into_inner() {
            let key = lua.create_registry_value(r.callback).map_err(|e| e.to_string())?;
            out.push(FunctionInfo {
                name: String::from_utf8_lossy(&r.name).into_owned(),
                desc: r.desc.map(Bytes::from),
                flags: r.flags,
                loops: true,
                key,
            });
        }
        Ok(out)
    }

    /// Frees a library's Lua functions.
    fn release(&mut self, lib: Library) {
        if let Some(vm) = &self.vm {
            for f in lib.functions {
                let _ = vm.engine.lua().remove_registry_value(f.key);
            }
        }
    }

    /// FUNCTION DELETE: false if no library has this name.
    pub(crate) fn delete(&mut self, name: &[u8]) -> bool {
        match self.current.unlink(&String::from_utf8_lossy(name)) {
            Some(lib) => {
                self.release(lib);
                true
            }
            None => false,
        }
    }

    /// FUNCTION FLUSH: every library goes, with the Lua state.
    pub(crate) fn flush(&mut self) {
        self.current = Registry::default();
        self.vm = None;
    }

    /// FUNCTION RESTORE: loads every library of `codes` (as one set: a
    /// library twice is an error), then joins them to the current ones by
    /// `policy`. Nothing changes on error.
    pub(crate) fn restore(&mut self, codes: &[Bytes], policy: RestorePolicy, seed: u64) -> Result<(), String> {
        let mut staged = Registry::default();
        for code in codes {
            if let Err(e) = self.create(code, false, &mut staged, seed) {
                self.release_all(staged);
                return Err(e);
            }
        }
        if policy == RestorePolicy::Flush {
            let old = std::mem::replace(&mut self.current, staged);
            self.release_all(old);
            return Ok(());
        }
        // Redis's libraryJoin: existing names first, then function collisions.
        let mut replaced = Vec::new();
        for name in staged.libs.keys() {
            if self.current.libs.contains_key(name) {
                if policy == RestorePolicy::Append {
                    let msg = format!("Library {name} already exists");
                    self.release_all(staged);
                    return Err(msg);
                }
                replaced.extend(self.current.unlink(name));
            }
        }
        let collision = staged.libs.values().find_map(|l| self.current.collision(l)).map(str::to_string);
        if let Some(f) = collision {
            for lib in replaced {
                self.current.link(lib);
            }
            self.release_all(staged);
            return Err(format!("Function {f} already exists"));
        }
        for (_, lib) in staged.libs {
            self.current.link(lib);
        }
        for lib in replaced {
            self.release(lib);
        }
        Ok(())
    }

    fn release_all(&mut self, reg: Registry) {
        for (_, lib) in reg.libs {
            self.release(lib);
        }
    }

    /// Whether the Lua state is out with a running function (until
    /// [`Functions::give_back`]): libraries must not change meanwhile.
    pub(crate) fn is_lent(&self) -> bool {
        self.lent
    }

    /// FCALL's first step: function `name` (any case), with the Lua state
    /// it runs in, taken out until [`Functions::give_back`]; the libraries
    /// stay (FUNCTION LIST and STATS still see them). `None` if no
    /// function has this name (or the state is out already); `Some(Err)`
    /// with the error reply if its code cannot be fetched.
    pub(crate) fn lend(&mut self, name: &[u8]) -> Option<Result<Box<Lent>, Reply>> {
        if self.lent {
            return None;
        }
        let info = self.current.function(name)?;
        let vm = self.vm.as_ref()?;
        let func: Function = match vm.engine.lua().registry_value(&info.key) {
            Ok(f) => f,
            Err(e) => return Some(Err(Reply::Error(one_line(format!("ERR {e}").as_bytes())))),
        };
        let name = info.name.clone();
        let vm = self.vm.take()?;
        self.lent = true;
        Some(Ok(Box::new(Lent { vm, func, name })))
    }

    /// Puts back the Lua state [`Functions::lend`] took.
    pub(crate) fn give_back(&mut self, lent: Box<Lent>) {
        let Lent { vm, .. } = *lent;
        self.vm = Some(vm);
        self.lent = false;
    }

    /// Runs function `name` with `keys` and `args` in one step (lend, run,
    /// give back), `call` running each `redis.call`. `None` if no function
    /// has this name. FCALL lends itself, to run where it chooses.
    #[cfg(test)]
    pub(crate) fn call(
        &mut self,
        name: &[u8],
        keys: &[Bytes],
        args: &[Bytes],
        call: &mut dyn FnMut(Vec<Bytes>, u8) -> Reply,
    ) -> Option<Reply> {
        let mut lent = match self.lend(name)? {
            Ok(l) => l,
            Err(e) => return Some(e),
        };
        let reply = lent.run(keys, args, call);
        self.give_back(lent);
        Some(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_calls() -> impl FnMut(Vec<Bytes>, u8) -> Reply {
        |_, _| Reply::error("ERR no calls in this test")
    }

    #[test]
    fn load_call_replace_and_delete() {
        let mut f = Functions::default();
        let code = Bytes::from(
            "#!lua name=lib\nredis.register_function('Echo', function(keys, args) return {keys[1], args[1]} end)",
        );
        assert_eq!(f.load(&code, false, 1).as_deref(), Ok("lib"));
        assert_eq!(f.load(&code, false, 1), Err("Library 'lib' already exists".into()));
        let k = [Bytes::from("k")];
        let a = [Bytes::from("a")];
        let reply = f.call(b"ECHO", &k, &a, &mut no_calls()).unwrap();
        assert_eq!(reply, Reply::Array(vec![Reply::Bulk(Bytes::from("k")), Reply::Bulk(Bytes::from("a"))]));
        let other = Bytes::from("#!lua name=other\nredis.register_function('echo', function() return 1 end)");
        assert_eq!(f.load(&other, false, 1), Err("Function echo already exists".into()));
        assert_eq!(f.load(&code, true, 1).as_deref(), Ok("lib"));
        assert_eq!(f.registry().function_count(), 1);
        assert!(f.delete(b"lib"));
        assert!(!f.delete(b"lib"));
        assert!(f.call(b"echo", &[], &[], &mut no_calls()).is_none());
    }

    #[test]
    fn load_time_sandbox_has_only_the_library_api() {
        let mut f = Functions::default();
        let load = |f: &mut Functions, body: &str| f.load(&Bytes::from(format!("#!lua name=t\n{body}")), true, 1);
        assert_eq!(
            load(&mut f, "redis.call('ping')"),
            Err("Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'".into())
        );
        assert_eq!(
            load(&mut f, "local n = string.len('x')"),
            Err("Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'string'".into())
        );
        assert_eq!(
            load(&mut f, "redis.register_function('a-b', function() end)"),
            Err(format!("Error registering functions: ERR {NAME_ERROR}"))
        );
        assert_eq!(
            load(&mut f, "redis.register_function{function_name='a', callback=function() end, flags={'bogus'}}"),
            Err("Error registering functions: ERR unknown flag given".into())
        );
        assert_eq!(
            load(&mut f, "local a = "),
            Err("Error compiling function: user_function:2: unexpected symbol near '<eof>'".into())
        );
        assert_eq!(load(&mut f, "return 1"), Err("No functions registered".into()));
        // At run time the function sees the full globals, but no KEYS.
        assert_eq!(
            load(&mut f, "redis.register_function('g', function() return string.len('abc') end)").as_deref(),
            Ok("t")
        );
        assert_eq!(f.call(b"g", &[], &[], &mut no_calls()), Some(Reply::Int(3)));
        load(&mut f, "redis.register_function('g', function() return KEYS end)").unwrap();
        assert_eq!(
            f.call(b"g", &[], &[], &mut no_calls()),
            Some(Reply::error(
                "ERR user_function:2: Script attempted to access nonexistent global variable 'KEYS' script: g, on @user_function:2."
            ))
        );
    }

    #[test]
    fn a_failed_restore_changes_nothing() {
        let mut f = Functions::default();
        let a = Bytes::from("#!lua name=a\nredis.register_function('fa', function() return 1 end)");
        let b = Bytes::from("#!lua name=b\nredis.register_function('fa', function() return 2 end)");
        f.load(&a, false, 1).unwrap();
        assert_eq!(
            f.restore(std::slice::from_ref(&b), RestorePolicy::Append, 1),
            Err("Function fa already exists".into())
        );
        assert_eq!(
            f.restore(std::slice::from_ref(&a), RestorePolicy::Append, 1),
            Err("Library a already exists".into())
        );
        assert_eq!(
            f.restore(&[a.clone(), a.clone()], RestorePolicy::Flush, 1),
            Err("Library 'a' already exists".into())
        );
        assert_eq!(f.call(b"fa", &[], &[], &mut no_calls()), Some(Reply::Int(1)));
        f.restore(&[b], RestorePolicy::Flush, 1).unwrap();
        assert_eq!(f.call(b"fa", &[], &[], &mut no_calls()), Some(Reply::Int(2)));
        f.restore(&[a], RestorePolicy::Replace, 1).unwrap_err();
    }
}
