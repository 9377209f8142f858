//! The Lua engine behind EVAL and EVALSHA: Lua 5.1 (through `mlua`), the
//! sandbox Redis 7.0 sets up, the `redis` table, and the conversions between
//! Lua values and replies. It knows nothing of sockets or of the command
//! table: the command layer hands [`Engine::run`] a callback that runs one
//! command and returns its reply.
//!
//! What Redis 7.0 does and this engine copies:
//! - the globals are read-only (`Attempt to modify a readonly table`), and
//!   reading a missing global raises `Script attempted to access nonexistent
//!   global variable '...'`; `os`, `io`, `require`, `loadfile`, `dofile`,
//!   `print` and `debug` are absent;
//! - `math.random`/`math.randomseed` use Redis's rand48 generator, seeded once
//!   per engine (not per script, as 7.0 does);
//! - `pcall` hands back the message of a Redis error table, as 7.0's does;
//! - an error reply is `<message> script: <sha>, on @user_script:<line>.`;
//! - the library tables (`string`, `cjson`, `redis`, ...) are read-only too
//!   (`libs::readonly`);
//! - xpcall's handler gets what Redis gives it: a Redis error table, or
//!   a library's message string, never an mlua error object.
//!
//! Conversions between replies and Lua values (RESP2 and, after
//! `redis.setresp(3)`, RESP3) are in `convert`; FUNCTION libraries in
//! `functions`; the helper libraries (cjson, cmsgpack, bit, struct) in `libs`.
//!
//! Not here: SCRIPT DEBUG.
//!
//! Long scripts: [`busy`] keeps the record of a script that runs on its
//! own thread (BUSY for other clients past `busy-reply-threshold`, SCRIPT
//! KILL / FUNCTION KILL, aborting on shutdown and after [`busy::RUN_CAP`]);
//! the hook below consults it. A script run inline (one that cannot loop)
//! is aborted after [`engine::INSTRUCTION_LIMIT`] instructions, a guard only.
//!
//! Built with the `scripting` feature (on by default); without it only
//! [`busy`] (plain Rust: the limits, texts and the loop scan the server's
//! running-script record uses) is compiled, and the command layer registers
//! none of the scripting commands.

pub(crate) mod busy;
#[cfg(feature = "scripting")]
mod convert;
#[cfg(feature = "scripting")]
mod engine;
#[cfg(feature = "scripting")]
pub(crate) mod functions;
#[cfg(feature = "scripting")]
mod libs;
#[cfg(feature = "scripting")]
mod redis_api;
#[cfg(feature = "scripting")]
mod source;

#[cfg(feature = "scripting")]
use convert::one_line;
#[cfg(feature = "scripting")]
use engine::{compile, MAX_REPLY_DEPTH};
#[cfg(feature = "scripting")]
pub(crate) use engine::{Engine, Inputs, KILLED_ERROR};
#[cfg(feature = "scripting")]
use redis_api::{lua_number_text, raise};
