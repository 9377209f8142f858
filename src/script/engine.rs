//! The Lua state behind EVAL, EVALSHA and FCALL ([`Engine`]): the sandbox,
//! the `redis` table, the hook, the script cache and one run (see the
//! parent module's text).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use mlua::{Function, HookTriggers, Lua, LuaOptions, MultiValue, RegistryKey, StdLib, Table, Value, VmState};

use super::convert::{call_args, error_table, error_table_text, lua_to_reply, one_line, reply_to_lua};
use super::redis_api::{raise, raised_text};
use super::{busy, functions, libs};
use crate::protocol::Reply;

/// Instructions a script run inline (one that cannot loop, see
/// [`busy::may_loop`]) may run before it is aborted: a guard only, since
/// such a script runs each instruction at most once.
pub(crate) const INSTRUCTION_LIMIT: u64 = 100_000_000;
/// How often (in instructions) the limit is checked.
const HOOK_EVERY: u32 = 10_000;
/// Memory the Lua state may use.
const MEMORY_LIMIT: usize = 256 << 20;
/// Deepest nested table a script's reply may have.
pub(super) const MAX_REPLY_DEPTH: usize = 1000;
/// Every this many runs the engine makes one GC step (Redis's `LUA_GC_CYCLE_PERIOD`).
const GC_PERIOD: u32 = 50;

/// The error a script aborted by the instruction limit ends with.
pub(crate) const KILLED_ERROR: &str = "ERR Lua script exceeded the fake's limit of 100000000 instructions run inline (Redis itself would keep running it and answer BUSY to other clients)";

/// Why the current script was stopped by the hook (`Engine::killed`).
const NOT_KILLED: u8 = 0;
const KILLED_BY_USER: u8 = 1;
const KILLED_BY_SHUTDOWN: u8 = 2;
const KILLED_BY_CAP: u8 = 3;
const KILLED_BY_LIMIT: u8 = 4;

/// What the caller of a stopped script gets (`None`: Redis's own error with
/// the script and line, for SCRIPT KILL).
fn killed_text(reason: u8) -> Option<&'static str> {
    match reason {
        NOT_KILLED | KILLED_BY_USER => None,
        KILLED_BY_SHUTDOWN => Some("ERR Script aborted: the server is shutting down"),
        KILLED_BY_CAP => Some(busy::CAP_ERROR),
        _ => Some(KILLED_ERROR),
    }
}

/// Lua code that builds the sandbox; run once per engine.
const SANDBOX: &str = r#"
local killed, rng, rngseed, unwrap, where = ...
local rawpcall, rawxpcall, type, tostring, error, select, floor =
  pcall, xpcall, type, tostring, error, select, math.floor
local G = {}
for _, name in ipairs({'xpcall', 'tostring', 'getfenv', 'setmetatable', 'next', 'assert', 'tonumber',
  'rawequal', 'collectgarbage', 'getmetatable', 'rawset', 'coroutine', 'type', 'select', 'unpack',
  'gcinfo', 'pairs', 'rawget', 'loadstring', 'ipairs', '_VERSION', 'setfenv', 'load', 'error',
  'newproxy', 'string', 'math', 'table'}) do
  G[name] = _G[name]
end
local math2 = {}
for k, v in pairs(math) do math2[k] = v end
math2.random = function(...)
  local n = select('#', ...)
  local r = rng()
  if n == 0 then return r end
  local m, u = ...
  if n == 1 then
    if type(m) ~= 'number' then error("bad argument #1 to 'random' (number expected)", 2) end
    m = floor(m)
    if m < 1 then error("bad argument #1 to 'random' (interval is empty)", 2) end
    return floor(r * m) + 1
  elseif n == 2 then
    if type(m) ~= 'number' then error("bad argument #1 to 'random' (number expected)", 2) end
    if type(u) ~= 'number' then error("bad argument #2 to 'random' (number expected)", 2) end
    m, u = floor(m), floor(u)
    if m > u then error("bad argument #2 to 'random' (interval is empty)", 2) end
    return floor(r * (u - m + 1)) + m
  end
  error('wrong number of arguments', 2)
end
math2.randomseed = function(s)
  if type(s) ~= 'number' then error("bad argument #1 to 'randomseed' (number expected)", 2) end
  rngseed(s)
end
G.math = math2
local function pfix(ok, ...)
  if ok then return true, ... end
  if killed() then error(killed(), 0) end
  local e = ...
  if type(e) == 'userdata' then e = unwrap(e) end
  if type(e) == 'table' and type(e.err) == 'string' then e = e.err end
  return false, e
end
G.pcall = function(...) return pfix(rawpcall(...)) end
local function xfix(ok, ...)
  if not ok and killed() then error(killed(), 0) end
  return ok, ...
end
-- The handler sees a redis.call error as Redis gives it ({err = ...}) and a
-- library's error as its message, not as the userdata Rust raises.
G.xpcall = function(...)
  if select('#', ...) < 2 then return xfix(rawxpcall(...)) end
  local f, h = ...
  return xfix(rawxpcall(f, function(e)
    if type(e) == 'userdata' then e = unwrap(e) end
    return h(e)
  end))
end
local redis = {}
G.redis = redis
-- Reads go proxy -> G by table (the VM's fast path, no call per global);
-- only a missing global reaches the function, which raises Redis's error.
setmetatable(G, {
  __index = function(_, k)
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end,
  __metatable = false,
})
local proxy = setmetatable({}, {
  __index = G,
  __newindex = function() error('Attempt to modify a readonly table', 2) end,
  __metatable = false,
})
G._G = proxy
local function handler(err)
  local src, line = where()
  if type(err) == 'userdata' then err = unwrap(err) end
  if killed() then
    err = killed()
  elseif type(err) ~= 'table' then
    err = 'ERR ' .. tostring(err)
  elseif type(err.err) == 'string' or type(err.err) == 'number' then
    err = tostring(err.err)
  else
    err = 'ERR unknown error'
  end
  return {err, src, line}
end
local function runner(f) return rawxpcall(f, handler) end
local function apply(f, k, a) return rawxpcall(function() return f(k, a) end, handler) end
return G, proxy, redis, runner, apply
"#;

/// One cached script.
struct Cached {
    /// The compiled function, its environment set to the sandbox.
    func: RegistryKey,
    /// Its code can loop: it runs on a thread of its own (the command layer's `busy` module).
    loops: bool,
    /// The `#!lua flags=...` header's flags (`None` without a header).
    flags: Option<u8>,
}

/// A Lua state with Redis's sandbox and the script cache.
pub(crate) struct Engine {
    lua: Lua,
    /// The real globals the sandbox proxy reads (KEYS and ARGV are set here).
    globals: Table,
    /// The read-only proxy scripts see as their environment.
    proxy: Table,
    /// The `redis` table.
    redis: Table,
    /// EVAL's `KEYS` (emptied and refilled for each run).
    keys: Table,
    /// EVAL's `ARGV` (likewise).
    argv: Table,
    /// `keys` and `argv` are globals (since the first EVAL run).
    inputs_global: bool,
    /// A run is in progress (`redis.call` outside one is refused).
    active: Arc<AtomicBool>,
    /// Runs since the last GC step ([`GC_PERIOD`]).
    runs_since_gc: u32,
    /// `xpcall(f, handler)` with Redis's error handler.
    runner: Function,
    /// `xpcall(function() return f(keys, args) end, handler)`: how FCALL runs a function.
    apply: Function,
    /// Scripts by lower-case hex SHA-1.
    cache: crate::store::FastMap<String, Cached>,
    /// Instructions run by the current script.
    budget: Arc<AtomicU64>,
    /// Why the hook stopped the current script (`KILLED_BY_*`, 0: it did not).
    killed: Arc<AtomicU8>,
    /// The server's running-script record the hook consults.
    busy: Arc<Mutex<Arc<dyn busy::Watch>>>,
    /// The protocol the current script chose with `redis.setresp` (2 at each start).
    resp: Arc<AtomicU8>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("scripts", &self.cache.len()).finish()
    }
}

/// The lower-case hex SHA-1 of `body`, as Redis names scripts.
pub(crate) fn sha1_hex(body: &[u8]) -> String {
    use sha1::Digest;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = sha1::Sha1::digest(body);
    let mut out = String::with_capacity(40);
    for b in digest.iter() {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
    out
}

/// Redis's rand48 (`redisLrand48`/`redisSrand48`): a 48-bit linear congruential generator.
#[derive(Debug)]
struct Rand48(u64);

impl Rand48 {
    const MASK: u64 = (1 << 48) - 1;

    fn seed(&mut self, seed: i32) {
        self.0 = (((seed as u32 as u64) << 16) | 0x330e) & Self::MASK;
    }

    /// The next 31-bit value.
    fn next(&mut self) -> u64 {
        self.0 = (self.0.wrapping_mul(0x5_deec_e66d).wrapping_add(0xb)) & Self::MASK;
        self.0 >> 17
    }
}

/// What a script run ended with.
type Outcome = Result<Reply, String>;

/// How a run hands the script its keys and arguments.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Inputs<'a> {
    /// EVAL: the `KEYS` and `ARGV` globals.
    Globals(&'a [Bytes], &'a [Bytes]),
    /// FCALL: the function's two arguments (Redis sets no globals for it).
    Arguments(&'a [Bytes], &'a [Bytes]),
}

impl Engine {
    /// A fresh Lua state with Redis's sandbox (created on the first EVAL, never at start-up).
    pub(crate) fn new(seed: u64) -> mlua::Result<Engine> {
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH;
        let lua = Lua::new_with(libs, LuaOptions::default())?;
        lua.set_memory_limit(MEMORY_LIMIT)?;
        let killed = Arc::new(AtomicU8::new(NOT_KILLED));
        let budget = Arc::new(AtomicU64::new(0));
        let rng = Arc::new(Mutex::new(Rand48(0)));
        rng.lock().unwrap_or_else(|p| p.into_inner()).seed(seed as i32);
        let k = killed.clone();
        // The message a stopped script raises (false while it runs on).
        let killed_fn = lua.create_function(move |lua, ()| {
            Ok(match k.load(Ordering::Relaxed) {
                NOT_KILLED => Value::Boolean(false),
                KILLED_BY_USER => Value::String(lua.create_string(format!("ERR {}", busy::KILLED_MESSAGE))?),
                _ => Value::String(lua.create_string("killed")?),
            })
        })?;
        let r = rng.clone();
        let rng_fn = lua.create_function(move |_, ()| {
            let v = r.lock().unwrap_or_else(|p| p.into_inner()).next();
            Ok((v % i32::MAX as u64) as f64 / i32::MAX as f64)
        })?;
        let r = rng.clone();
        let seed_fn = lua.create_function(move |_, s: f64| {
            r.lock().unwrap_or_else(|p| p.into_inner()).seed(s as i32);
            Ok(())
        })?;
        // The innermost frame of the user's script (the handler's `on @user_script:N`).
        let where_fn = lua.create_function(|lua, ()| {
            for level in 0..200 {
                let found = lua.inspect_stack(level, |d| {
                    let src = d.source().source.map(|s| s.into_owned());
                    (src, d.current_line())
                });
                match found {
                    None => break,
                    Some((Some(src), Some(line))) if src == "@user_script" || src == "@user_function" => {
                        return Ok((Some(src), Some(line)))
                    }
                    Some(_) => {}
                }
            }
            Ok((None, None))
        })?;
        // A `redis.*` error raised from Rust reaches Lua as userdata: back to `{err = ...}`.
        let unwrap_fn = lua.create_function(|lua, v: Value| {
            let Value::Error(e) = v else { return Ok(v) };
            // A library raises a plain string, as its C version does with luaL_error.
            if let Some(text) = libs::lib_error_text(&e) {
                return Ok(Value::String(lua.create_string(text)?));
            }
            let text = raised_text(&e).unwrap_or_else(|| format!("ERR {e}"));
            Ok(Value::Table(error_table(lua, &text)?))
        })?;
        let (globals, proxy, redis, runner, apply): (Table, Table, Table, Function, Function) =
            lua.load(SANDBOX).set_name("=sandbox").call((killed_fn, rng_fn, seed_fn, unwrap_fn, where_fn))?;
        let resp = Arc::new(AtomicU8::new(2));
        let active = Arc::new(AtomicBool::new(false));
        super::redis_api::fill_redis_table(&lua, &redis, &resp)?;
        redis.raw_set("call", command_function(&lua, true, resp.clone(), active.clone())?)?;
        redis.raw_set("pcall", command_function(&lua, false, resp.clone(), active.clone())?)?;
        // Made globals by the first EVAL run (FCALL's functions have no KEYS or ARGV).
        let (keys, argv) = (lua.create_table()?, lua.create_table()?);
        libs::install(&lua, &globals)?;
        libs::readonly::install(&lua, &globals, &proxy)?;
        let busy: Arc<Mutex<Arc<dyn busy::Watch>>> = Arc::new(Mutex::new(Arc::new(busy::Unwatched)));
        let engine = Engine {
            lua,
            globals,
            proxy,
            runner,
            apply,
            redis,
            keys,
            argv,
            active,
            inputs_global: false,
            runs_since_gc: 0,
            cache: Default::default(),
            budget,
            killed,
            busy,
            resp,
        };
        let (b, k, w) = (engine.budget.clone(), engine.killed.clone(), engine.busy.clone());
        engine.lua.set_hook(HookTriggers::new().every_nth_instruction(HOOK_EVERY), move |_, _| {
            let watch = w.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let reason = if watch.running() {
                // A script on its own thread: time, kills and shutdown (see `busy`).
                match watch.on_hook() {
                    None => NOT_KILLED,
                    Some(busy::Stop::Killed) => KILLED_BY_USER,
                    Some(busy::Stop::Shutdown) => KILLED_BY_SHUTDOWN,
                    Some(busy::Stop::Cap) => KILLED_BY_CAP,
                }
            } else {
                let used = b.fetch_add(HOOK_EVERY as u64, Ordering::Relaxed) + HOOK_EVERY as u64;
                if used > INSTRUCTION_LIMIT {
                    KILLED_BY_LIMIT
                } else {
                    NOT_KILLED
                }
            };
            if reason != NOT_KILLED {
                k.store(reason, Ordering::Relaxed);
                return Err(mlua::Error::runtime("killed"));
            }
            Ok(VmState::Continue)
        })?;
        Ok(engine)
    }

    /// Makes the hook consult the server's running-script record (the
    /// engine's own, detached one until then).
    pub(crate) fn watch(&mut self, record: Arc<dyn busy::Watch>) {
        *self.busy.lock().unwrap_or_else(|p| p.into_inner()) = record;
    }

    /// Whether the cached script `sha` (lower-case) can loop ([`busy::may_loop`]).
    pub(crate) fn may_loop(&self, sha: &str) -> bool {
        self.cache.get(sha).is_some_and(|c| c.loops)
    }

    /// Compiles `body` and caches it under its SHA-1 (SCRIPT LOAD, and EVAL's
    /// first run). Returns the SHA-1, or Redis's compile error.
    pub(crate) fn load(&mut self, body: &[u8]) -> Result<String, Reply> {
        let sha = sha1_hex(body);
        if self.cache.contains_key(&sha) {
            return Ok(sha);
        }
        let shebang = functions::shebang_flags(body).map_err(|e| Reply::Error(one_line(e.as_bytes())))?;
        let code = &body[shebang.map_or(0, |(_, len)| len)..];
        let func = match compile(&self.lua, code, "@user_script", self.proxy.clone()) {
            Ok(f) => f,
            Err(msg) => {
                return Err(Reply::Error(one_line(
                    format!("ERR Error compiling script (new function): {msg}").as_bytes(),
                )));
            }
        };
        let key = self.lua.create_registry_value(func).map_err(|e| Reply::error(format!("ERR {e}")))?;
        self.cache
            .insert(sha.clone(), Cached { func: key, loops: busy::may_loop(body), flags: shebang.map(|(f, _)| f) });
        Ok(sha)
    }

    /// Whether a script with this SHA-1 (any case) is cached.
    pub(crate) fn exists(&self, sha: &[u8]) -> bool {
        let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
        self.cache.contains_key(&sha)
    }

    /// The cached script's header flags: `None` if it is not cached,
    /// `Some(None)` if it has no `#!` header.
    pub(crate) fn flags(&self, sha: &str) -> Option<Option<u8>> {
        self.cache.get(sha).map(|c| c.flags)
    }

    /// Runs the cached script `sha` (lower-case) with KEYS and ARGV, `call`
    /// running each command it sends (`redis.call`/`redis.pcall`).
    /// `None` if no such script is cached.
    pub(crate) fn run(
        &mut self,
        sha: &str,
        keys: &[Bytes],
        argv: &[Bytes],
        call: &mut dyn FnMut(Vec<Bytes>, u8) -> Reply,
    ) -> Option<Reply> {
        let func: Function = self.lua.registry_value(&self.cache.get(sha)?.func).ok()?;
        Some(self.run_with(func, sha, Inputs::Globals(keys, argv), call))
    }

    /// Runs `func` (a script, or a library's function for FCALL) under the
    /// sandbox's error handler; `name` is what an error reply names it by.
    pub(crate) fn run_with(
        &mut self,
        func: Function,
        name: &str,
        inputs: Inputs<'_>,
        call: &mut dyn FnMut(Vec<Bytes>, u8) -> Reply,
    ) -> Reply {
        self.budget.store(0, Ordering::Relaxed);
        self.killed.store(NOT_KILLED, Ordering::Relaxed);
        self.resp.store(2, Ordering::Relaxed);
        let outcome = self.run_inner(func, inputs, call);
        self.killed.store(NOT_KILLED, Ordering::Relaxed);
        match outcome {
            Ok(r) => r,
            Err(e) => Reply::Error(one_line(e.replacen("\u{0}SHA", name, 1).as_bytes())),
        }
    }

    /// Runs a library's load-time code (FUNCTION LOAD) under the sandbox's
    /// error handler: `Err` holds the error's message alone, without the
    /// `script: ..., on ...` suffix (Redis's `Error registering functions: <msg>`).
    pub(crate) fn run_load(&mut self, chunk: Function) -> Result<(), String> {
        self.budget.store(0, Ordering::Relaxed);
        self.killed.store(NOT_KILLED, Ordering::Relaxed);
        let out: mlua::Result<MultiValue> = self.runner.call(chunk);
        let killed = self.killed.swap(NOT_KILLED, Ordering::Relaxed) != NOT_KILLED;
        let out = match out {
            Err(_) if killed => return Err(KILLED_ERROR.to_string()),
            Err(e) => return Err(format!("ERR {}", e.to_string().lines().next().unwrap_or(""))),
            Ok(out) => out,
        };
        let mut it = out.into_iter();
        if matches!(it.next(), Some(Value::Boolean(true))) {
            return Ok(());
        }
        if killed {
            return Err(KILLED_ERROR.to_string());
        }
        let msg = match it.next() {
            Some(Value::Table(t)) => {
                t.raw_get::<Option<mlua::LuaString>>(1).ok().flatten().map(|s| s.to_string_lossy())
            }
            _ => None,
        };
        Err(msg.unwrap_or_else(|| "ERR unknown error".to_string()))
    }

    /// The Lua state (FUNCTION LOAD compiles libraries in it).
    pub(crate) fn lua(&self) -> &Lua {
        &self.lua
    }

    /// The real globals table behind the read-only proxy.
    pub(crate) fn globals(&self) -> &Table {
        &self.globals
    }

    /// The `redis` table scripts see.
    pub(crate) fn redis_table(&self) -> &Table {
        &self.redis
    }

    fn run_inner(
        &mut self,
        func: Function,
        inputs: Inputs<'_>,
        call: &mut dyn FnMut(Vec<Bytes>, u8) -> Reply,
    ) -> Outcome {
        let arguments = match inputs {
            Inputs::Globals(keys, argv) => {
                let refill = || -> mlua::Result<()> {
                    if !self.inputs_global {
                        self.globals.raw_set("KEYS", &self.keys)?;
                        self.globals.raw_set("ARGV", &self.argv)?;
                    }
                    refill(&self.lua, &self.keys, keys)?;
                    refill(&self.lua, &self.argv, argv)
                };
                refill().map_err(|e| format!("ERR {e}"))?;
                self.inputs_global = true;
                None
            }
            Inputs::Arguments(keys, argv) => {
                let fresh = || -> mlua::Result<(Table, Table)> {
                    Ok((fresh_table(&self.lua, keys)?, fresh_table(&self.lua, argv)?))
                };
                Some(fresh().map_err(|e| format!("ERR {e}"))?)
            }
        };
        let result = {
            // `redis.call`/`redis.pcall` reach `call` through the slot while this guard lives.
            let _active = Active::start(&self.active);
            CALL.set(call, || -> mlua::Result<MultiValue> {
                match arguments {
                    None => self.runner.call(func),
                    Some((k, a)) => self.apply.call((func, k, a)),
                }
            })
        };
        self.gc_tick();
        let out = match result {
            Ok(out) => out,
            Err(_) if self.killed.load(Ordering::Relaxed) != NOT_KILLED => {
                let reason = self.killed.load(Ordering::Relaxed);
                return Err(killed_text(reason)
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("ERR {}", busy::KILLED_MESSAGE)));
            }
            Err(e) => return Err(format!("ERR {}", e.to_string().lines().next().unwrap_or(""))),
        };
        let mut it = out.into_iter();
        let ok = matches!(it.next(), Some(Value::Boolean(true)));
        let value = it.next().unwrap_or(Value::Nil);
        if ok {
            return Ok(lua_to_reply(&value, self.resp.load(Ordering::Relaxed), 0));
        }
        // The handler's {message, source, line}.
        let Value::Table(t) = value else { return Err("ERR unknown error".to_string()) };
        let field = |i: usize| t.raw_get::<Option<mlua::LuaString>>(i).ok().flatten().map(|s| s.to_string_lossy());
        let (msg, src) = (field(1).unwrap_or_default(), field(2));
        let line: Option<i64> = t.raw_get(3).ok().flatten();
        Err(match (killed_text(self.killed.load(Ordering::Relaxed)), msg.as_str(), src, line) {
            (Some(stopped), ..) => stopped.to_string(),
            (None, m, Some(src), Some(line)) => format!("{m} script: \u{0}SHA, on {src}:{line}."),
            (None, m, _, _) => m.to_string(),
        })
    }

    /// After Redis's `luaCallFunction`: every [`GC_PERIOD`] runs, one
    /// incremental GC step between scripts (Redis asks for a step of 50 KB;
    /// mlua offers only Lua's basic step), on top of Lua's automatic GC.
    fn gc_tick(&mut self) {
        self.runs_since_gc += 1;
        if self.runs_since_gc >= GC_PERIOD {
            self.runs_since_gc = 0;
            let _ = self.lua.gc_step();
        }
    }
}

/// Empties `t` (array and hash part, and any metatable a script gave it)
/// and fills it with `items` as a Lua array: KEYS and ARGV are two tables
/// kept for the engine's life, not two new ones per run.
fn refill(lua: &Lua, t: &Table, items: &[Bytes]) -> mlua::Result<()> {
    if !t.is_empty() {
        t.clear()?;
    }
    if t.metatable().is_some() {
        t.set_metatable(None)?;
    }
    for (i, b) in items.iter().enumerate() {
        t.raw_seti(i + 1, lua.create_string(b)?)?;
    }
    Ok(())
}

/// A new Lua array of `items` (FCALL's arguments: a library may keep them).
fn fresh_table(lua: &Lua, items: &[Bytes]) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, b) in items.iter().enumerate() {
        t.raw_seti(i + 1, lua.create_string(b)?)?;
    }
    Ok(t)
}

// The command callback of the script running on this thread: set by
// `Engine::run_inner` for the length of one run (and restored when it
// ends, unwinding included), taken out while one `redis.call` runs it.
scoped_tls_hkt::scoped_thread_local!(
    static mut CALL: for<'a> &'a mut (dyn FnMut(Vec<Bytes>, u8) -> Reply + 'a)
);

/// Marks an engine's run in progress (`Engine::active`) until dropped.
struct Active<'a>(&'a Arc<AtomicBool>);

impl<'a> Active<'a> {
    fn start(flag: &'a Arc<AtomicBool>) -> Active<'a> {
        flag.store(true, Ordering::Relaxed);
        Active(flag)
    }
}

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

/// `redis.call` (`raise_error`) or `redis.pcall`: one function each for
/// the engine's life. Both are C functions, not Lua wrappers: `return
/// redis.call(...)` is a tail call, which keeps the script's frame (its
/// line in errors) only when the callee is a C function.
fn command_function(
    lua: &Lua,
    raise_error: bool,
    resp: Arc<AtomicU8>,
    active: Arc<AtomicBool>,
) -> mlua::Result<Function> {
    lua.create_function(move |lua, args: MultiValue| {
        let resp = resp.load(Ordering::Relaxed);
        let args = match call_args(args) {
            Ok(a) => a,
            Err(msg) if raise_error => return Err(raise(msg)),
            Err(msg) => return Ok(Value::Table(error_table(lua, msg)?)),
        };
        let reply = if CALL.is_set() {
            CALL.with(|call| call(args, resp))
        } else if active.load(Ordering::Relaxed) {
            // Only a command that ran Lua in this very state could get here.
            Reply::error("ERR recursive redis.call")
        } else {
            Reply::error("ERR redis.call can only be used while a script runs")
        };
        match reply {
            Reply::Error(e) if raise_error => Err(raise(&error_table_text(&e))),
            reply => reply_to_lua(lua, reply, resp),
        }
    })
}

/// Compiles Lua source (never bytecode) named `name` with environment
/// `env`; `Err` holds Lua's message (`user_script:1: ...`).
pub(super) fn compile(lua: &Lua, code: &[u8], name: &str, env: Table) -> Result<Function, String> {
    let func =
        lua.load(code).set_name(name).set_mode(mlua::chunk::ChunkMode::Text).set_environment(env).into_function();
    func.map_err(|e| match e {
        mlua::Error::SyntaxError { message, .. } => message,
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(engine: &mut Engine, body: &str, keys: &[&str], call: &mut dyn FnMut(Vec<Bytes>, u8) -> Reply) -> Reply {
        let sha = engine.load(body.as_bytes()).unwrap_or_else(|e| panic!("load: {e:?}"));
        let keys: Vec<Bytes> = keys.iter().map(|k| Bytes::copy_from_slice(k.as_bytes())).collect();
        engine.run(&sha, &keys, &[], call).expect("cached")
    }

    #[test]
    fn redis_call_outside_a_run_is_refused() {
        let engine = Engine::new(1).expect("engine");
        let call: Function = engine.redis_table().raw_get("call").expect("redis.call");
        let err = call.call::<Value>("ping").expect_err("no run is active");
        assert!(err.to_string().contains("can only be used while a script runs"), "{err}");
        let pcall: Function = engine.redis_table().raw_get("pcall").expect("redis.pcall");
        let Value::Table(t) = pcall.call::<Value>("ping").expect("pcall returns the error") else { panic!() };
        let text: String = t.raw_get("err").expect("err field");
        assert_eq!(text, "ERR redis.call can only be used while a script runs");
    }

    #[test]
    fn each_run_reaches_its_own_callback_and_sees_fresh_keys() {
        let mut engine = Engine::new(1).expect("engine");
        let mut seen = Vec::new();
        let mut first = |args: Vec<Bytes>, _resp: u8| {
            seen.push(args);
            Reply::Int(1)
        };
        let body = "KEYS[3] = 'x' setmetatable(KEYS, {__index = function() return 'm' end}) \
                    return redis.call('incr', KEYS[1])";
        assert_eq!(eval(&mut engine, body, &["a"], &mut first), Reply::Int(1));
        assert_eq!(seen, vec![vec![Bytes::from_static(b"incr"), Bytes::from_static(b"a")]]);
        let mut second = |_: Vec<Bytes>, _: u8| Reply::Int(2);
        let body = "return {#KEYS, tostring(KEYS[2]), tostring(getmetatable(KEYS)), redis.call('get', KEYS[1])}";
        let reply = eval(&mut engine, body, &["b"], &mut second);
        let bulk = |s: &'static str| Reply::Bulk(Bytes::from_static(s.as_bytes()));
        assert_eq!(reply, Reply::Array(vec![Reply::Int(1), bulk("nil"), bulk("nil"), Reply::Int(2)]));
    }

    #[test]
    fn a_run_that_errors_leaves_no_callback_behind() {
        let mut engine = Engine::new(1).expect("engine");
        let mut call = |_: Vec<Bytes>, _: u8| Reply::error("ERR boom");
        let reply = eval(&mut engine, "return redis.call('x')", &[], &mut call);
        assert!(matches!(reply, Reply::Error(ref e) if e.starts_with(b"ERR boom script: ")), "{reply:?}");
        let call: Function = engine.redis_table().raw_get("call").expect("redis.call");
        assert!(call.call::<Value>("ping").is_err());
    }
}
