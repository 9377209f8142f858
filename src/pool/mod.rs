//! A Redis connection pool with go-redis's options and semantics, a
//! cancellation-safe checkout, safe retries, a dial circuit breaker and a
//! graceful close that proves it leaves no socket and no task behind.
//!
//! Layout (public API apart from inner state, as bb8 does):
//! - `api`: [`Pool`], [`PoolBuilder`], [`PooledConnection`], stats;
//! - `close`: the close protocol ([`Pool::close_by`], [`CloseReport`]);
//! - `retry`: the retry rules and backoff (below);
//! - `inner`: the shared state, checkout, dialling through the breaker, background tasks;
//! - `conn`: one [`Connection`]: dial, handshake, commands, the idle check;
//! - `tls`: the TLS step of dialling (rustls behind the `tls` feature);
//! - `config`: URLs, [`ConnectionConfig`], [`PoolOptions`];
//! - `value`: [`Value`] replies and [`Cmd`] commands (no I/O);
//! - `error`: [`Error`].
//!
//! # When a command is retried
//! [`Pool::query`] and [`Pool::pipeline`] retry (up to `max_retries`, with
//! exponential backoff and full jitter) only when the command provably never
//! reached the server — the dial failed, the write failed before its first
//! byte, or the server answered `LOADING`/`TRYAGAIN`/`MASTERDOWN` — or when
//! the command is retry-safe ([`Cmd::idempotent`] or read-only) and failed
//! transiently. A write that timed out after it was sent is never retried.
//! Retries stop as soon as the pool is closing.
//!
//! # Cancellation
//! Dropping a `get()` future returns its turn; dropping a command future
//! closes its connection (its reply may still arrive), so no reply ever
//! reaches the next user. See `docs/pool.md`.

mod api;
mod close;
mod config;
mod conn;
mod error;
mod inner;
mod retry;
mod tls;
mod value;

pub use api::{Health, Pool, PoolBuilder, PoolStats, PooledConnection};
pub use close::CloseReport;
/// Internal (feature `__sabotage`, for the crate's own tests only).
#[cfg(feature = "__sabotage")]
#[doc(hidden)]
pub use config::Sabotage;
pub use config::{ConnectionConfig, PoolOptions, Protocol, ServerAddr, TlsConfig};
pub use conn::{Connection, Timeouts};
pub use error::{AuthErrorKind, Error, TimeoutKind, TlsErrorKind};
pub use value::{Cmd, ToArg, Value};
