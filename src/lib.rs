#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// The keyspace API is wider than the commands landed so far use; removed once every group is in.
#![allow(dead_code)]

// Layout
// - `protocol`: request parsing and reply encoding (no I/O).
// - `store`: databases, values, expiry, glob matching (no I/O).
// - `cmd`: one module per command group, the dispatch table.
// - `server`: the public facade (`FakeRedis`, `Builder`) over the server
//   thread (`bare`), connections (`connection`) and shared state (`state`).

pub mod backend;
pub(crate) mod cmd;
pub mod pool;
pub mod protocol;
pub(crate) mod server;
pub(crate) mod store;

pub use protocol::Reply;
pub use server::{Builder, ClientSnapshot, Clock, FakeRedis, LeakError, RecordedCommand, ShutdownReport, StartError};
