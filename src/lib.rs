#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// Layout
// - `protocol`: request parsing and reply encoding (no I/O).
// - `store`: databases, values, expiry, glob matching (no I/O).
// - `cmd`: one module per command group, the dispatch table.
// - `server`: the public facade (`FakeRedis`, `Builder`) over the server
//   thread (`bare`), connections (`connection`) and shared state (`state`).
// - `fault`: the fault model, rule text, rule table and how faults act on sockets.
// - `proxy`: `FaultProxy`, the same faults in front of a real Redis.
// - `chaos` (feature `chaos`): scenario files, the load runner and its report.

pub mod backend;
#[cfg(feature = "chaos")]
pub mod chaos;
pub(crate) mod cmd;
pub mod fault;
pub mod pool;
pub mod protocol;
pub mod proxy;
pub(crate) mod server;
pub(crate) mod store;
#[cfg(feature = "tls")]
pub mod tls;

pub use fault::{FaultGuard, FaultRule};
pub use protocol::Reply;
pub use proxy::FaultProxy;
#[cfg(feature = "tls")]
pub use server::TlsFault;
pub use server::{
    Builder, ClientSnapshot, Clock, FakeRedis, LeakError, RecordedCommand, ShutdownReport, StartError, Subscription,
    SubscriptionKind, DEFAULT_RECORD_LIMIT,
};
