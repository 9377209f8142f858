//! A Redis for tests, in your test process: an in-process fake Redis 7.0
//! server that real clients cannot tell from Redis, fault injection in that
//! server and in a proxy in front of a real Redis, and a connection pool
//! whose graceful close is proven by property tests.
//!
//! This page is the user guide. The repository's README has the same tour
//! with benchmark numbers; its `docs/` folder has the details (fault rule
//! grammar, backends, pool, chaos scenarios), `docs/development.md` is for
//! people working on redis-harness itself, and `ARCHITECTURE.md` maps the
//! layers, the one execute path and how to add a command.
//!
//! ```toml
//! [dev-dependencies]
//! # From a checkout (no public repository yet):
//! redis-harness = { path = "../redis-harness", features = ["tls"] }
//! # Once published on crates.io:
//! # redis-harness = { version = "0.1", features = ["tls"] }
//! ```
//!
//! # A fake server
//!
//! [`FakeRedis::start`] starts an isolated server on `127.0.0.1:0` in well
//! under a millisecond, on its own thread, so it works from any runtime or
//! none ([`Builder::start_blocking`]). It records what each client sent,
//! counts sockets exactly, and lets the test seed data and move time:
//!
//! ```
//! use std::time::Duration;
//! use redis::AsyncCommands;
//! use redis_harness::FakeRedis;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let server = FakeRedis::start().await;
//! {
//!     let client = redis::Client::open(server.url()).unwrap();
//!     // redis-rs's default 500 ms response timeout is a budget a loaded CI machine can miss.
//!     let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
//!     let mut con = client.get_multiplexed_async_connection_with_config(&config).await.unwrap();
//!     let _: () = con.set_ex("session", "abc", 60).await.unwrap();
//!     let v: String = con.get("session").await.unwrap();
//!     assert_eq!(v, "abc");
//! }
//! server.assert_no_leaks(Duration::from_secs(5)).await; // the client closed its socket
//! assert!(server.commands().iter().any(|c| c.name() == "SETEX"));
//! assert!(server.unsupported_commands().is_empty()); // nothing the fake lacks was sent
//! # }
//! ```
//!
//! A command the fake does not implement gets Redis's own `ERR unknown
//! command` reply; the server logs it once through `tracing` and
//! [`FakeRedis::unsupported_commands`] lists it.
//!
//! # Faults
//!
//! A [`FaultRule`](fault::FaultRule) pairs a [`fault::Fault`] (latency, stall, close, reset,
//! partial writes, an error reply, a dropped reply, refused connections, ...)
//! with its targets: commands by name, by ACL category (`@write`), by glob
//! (`SET*`) or by family ([`FaultRule::on_family`](fault::FaultRule::on_family): SET and SETEX, SETNX,
//! MSET, ...), clients, occurrences, a seeded probability, a time window.
//! [`FakeRedis::fault`] installs it until the returned [`FaultGuard`](fault::FaultGuard) drops;
//! the guard checks [`FaultRule::expect`](fault::FaultRule::expect) and warns about a rule that never
//! fired. See the [`fault`] module.
//!
//! ```
//! use redis_harness::fault::{errors, FaultRule};
//! use redis_harness::FakeRedis;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let server = FakeRedis::builder().seed(42).start().await;
//! let readonly = server.fault(FaultRule::error(errors::READONLY).on(["@write"]).times(1).expect(1));
//! let client = redis::Client::open(server.url()).unwrap();
//! let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
//! let mut con = client.get_multiplexed_async_connection_with_config(&config).await.unwrap();
//! let first: redis::RedisResult<()> = redis::cmd("SETEX").arg("k").arg(60).arg("v").query_async(&mut con).await;
//! assert_eq!(first.unwrap_err().code(), Some("READONLY")); // SETEX is @write
//! let () = redis::cmd("SETEX").arg("k").arg(60).arg("v").query_async(&mut con).await.unwrap();
//! drop(readonly); // fired exactly once: no panic
//! # }
//! ```
//!
//! The same rules act in a [`FaultProxy`] in front of any real Redis, and as
//! text (`latency 200ms cmd=@write`) on the command line.
//!
//! # The pool
//!
//! [`pool::Pool`] is a connection pool with go-redis's options and semantics
//! and a graceful [`close`](pool::Pool::close) with stated guarantees:
//!
//! ```
//! use std::time::Duration;
//! use redis_harness::pool::{Cmd, Pool};
//! use redis_harness::FakeRedis;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let server = FakeRedis::start().await;
//! let pool = Pool::builder(&server.url()).pool_size(4).build().unwrap();
//! pool.set("greeting", "hello").await.unwrap();
//! let n = pool.query(&Cmd::from_args(["INCRBY", "hits", "5"])).await.unwrap();
//! let report = pool.close(Duration::from_secs(5)).await;
//! server.assert_no_leaks(Duration::from_secs(5)).await;
//! # let _ = (n, report);
//! # }
//! ```
//!
//! # TLS and mTLS (feature `tls`)
//!
//! [`Builder::tls`] and [`Builder::mtls`] serve `rediss://` with certificates
//! made in memory; `ca_pem()` is the CA to trust and `client_identity(name)`
//! issues a client certificate. With redis-rs (its `tokio-rustls-comp`
//! feature):
//!
//! ```
//! # #[cfg(feature = "tls")]
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use redis::{ClientTlsConfig, TlsCertificates};
//! use redis_harness::FakeRedis;
//!
//! let server = FakeRedis::builder().mtls().start().await;
//! let me = server.client_identity("billing-service");
//! let certs = TlsCertificates {
//!     client_tls: Some(ClientTlsConfig { client_cert: me.cert_pem.into_bytes(), client_key: me.key_pem.into_bytes() }),
//!     root_cert: Some(server.ca_pem().into_bytes()),
//! };
//! let client = redis::Client::build_with_tls(server.url(), certs).unwrap();
//! let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
//! let mut con = client.get_multiplexed_async_connection_with_config(&config).await.unwrap();
//! let pong: String = redis::cmd("PING").query_async(&mut con).await.unwrap();
//! assert_eq!(pong, "PONG");
//! # }
//! # #[cfg(not(feature = "tls"))] fn main() {}
//! ```
//!
//! With the pool, through [`pool::TlsConfig`]:
//!
//! ```
//! # #[cfg(feature = "tls")]
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use std::time::Duration;
//! use redis_harness::pool::{Pool, TlsConfig};
//! use redis_harness::FakeRedis;
//!
//! let server = FakeRedis::builder().mtls().start().await;
//! let me = server.client_identity("billing-service");
//! let tls = TlsConfig {
//!     ca_pem: server.ca_pem().into_bytes(),
//!     client_cert_pem: Some((me.cert_pem.into_bytes(), me.key_pem.into_bytes())),
//!     server_name: None, // the host of the URL: 127.0.0.1, which the certificate names
//! };
//! let pool = Pool::builder(&server.url()).tls(tls).build().unwrap();
//! pool.set("k", "over mTLS").await.unwrap();
//! assert_eq!(pool.get_value("k").await.unwrap().as_deref(), Some(&b"over mTLS"[..]));
//! pool.close(Duration::from_secs(5)).await;
//! # }
//! # #[cfg(not(feature = "tls"))] fn main() {}
//! ```
//!
//! # One test, three Redises
//!
//! [`backend::Backend`] runs the same test against the fake, a
//! `redis-server` process or a container (`REDIS_HARNESS_BACKEND`), with the
//! same fault and socket-accounting API; tests that need a real Redis skip,
//! saying why, unless `REDIS_HARNESS_REQUIRE_REAL=1`.
//!
//! # Features
//!
//! - `scripting` (on by default): EVAL/EVALSHA/SCRIPT and FUNCTION/FCALL on
//!   an embedded Lua 5.1 (mlua, Lua built from vendored C source). Without
//!   it those commands answer Redis's unknown-command error, and the build
//!   skips compiling Lua (see docs/performance.md for what that saves).
//! - `tls`: TLS and mTLS in the fake, the proxy and the pool ([`tls`]).
//! - `containers`: the container backend (testcontainers; needs Docker).
//! - `chaos`: the scenario runner behind `redis-harness chaos` ([`chaos`]).
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![warn(unreachable_pub)]
// Without `scripting`, the helpers only scripts use (the script thread's hand-back, the ACL check of a
// redis.call, the functions' RDB section, ...) have no caller; the default build lints them as usual.
#![cfg_attr(not(feature = "scripting"), allow(dead_code, unused_imports))]

// Layout
// - `protocol`: request parsing and reply encoding (no I/O).
// - `store`: databases, values, expiry, glob matching (no I/O).
// - `cmd`: one module per command group, the dispatch table.
// - `host`: the connection-host core under the fake and the proxy: listener,
//   socket registry with leak waits and kill, worker threads and runtimes.
// - `server`: the public facade (`FakeRedis`, `Builder`) over the server
//   thread (`bare`), connections (`connection`) and shared state (`state`).
// - `fault`: the fault model, rule text, rule table and how faults act on sockets.
// - `proxy`: `FaultProxy`, the same faults in front of a real Redis.
// - `chaos` (feature `chaos`): scenario files, the load runner and its report.

pub mod backend;
pub(crate) mod catalog;
#[cfg(feature = "chaos")]
#[cfg_attr(docsrs, doc(cfg(feature = "chaos")))]
pub mod chaos;
pub(crate) mod cmd;
pub(crate) mod engine;
pub mod fault;
pub(crate) mod host;
pub(crate) mod num;
pub mod pool;
pub(crate) mod protocol;
pub(crate) mod proxy;
pub(crate) mod script;
pub(crate) mod server;
pub(crate) mod store;
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub mod tls;

pub use host::{ClientSnapshot, LeakError, StartError};
pub use protocol::Reply;
pub use proxy::{FaultProxy, ProxyBuilder};
pub use server::{
    Builder, Clock, FakeRedis, RecordedCommand, ShutdownReport, Subscription, SubscriptionKind, DEFAULT_RECORD_LIMIT,
};

/// The README's examples, compiled and run as doctests (the crate-level
/// guide above is a separate page: the README's relative `docs/` links only
/// work on the repository).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
