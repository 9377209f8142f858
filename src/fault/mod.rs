//! Fault injection: make the fake server (or a [`FaultProxy`](crate::FaultProxy)
//! in front of a real Redis) slow, broken, rude or unreachable, on purpose
//! and reproducibly.
//!
//! A [`FaultRule`] pairs a [`Fault`] with what it targets (commands, a
//! predicate over the arguments, connections, occurrences, a probability,
//! a time window). Installing it returns a [`FaultGuard`] that removes the
//! rule when dropped and checks its expected hit count:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use redis_harness::{fault::{errors, FaultRule}, FakeRedis};
//!
//! let server = FakeRedis::start().await;
//! let _loading = server.fault(FaultRule::error(errors::LOADING).on(["GET"]).times(1).expect(1));
//! let client = redis::Client::open(server.url()).unwrap();
//! // redis-rs's default 500 ms response timeout is a budget a loaded machine can miss.
//! let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
//! let mut con = client.get_multiplexed_async_connection_with_config(&config).await.unwrap();
//! let first: redis::RedisResult<Option<String>> = redis::cmd("GET").arg("k").query_async(&mut con).await;
//! assert_eq!(first.unwrap_err().code(), Some("LOADING"));
//! let second: Option<String> = redis::cmd("GET").arg("k").query_async(&mut con).await.unwrap();
//! assert_eq!(second, None);
//! # }
//! ```
//!
//! Rules are tried in the order they were installed and the first one that
//! fires wins (see [`FaultRule`]). Every random choice comes from the
//! server's seed ([`FakeRedis::seed`](crate::FakeRedis::seed), set with
//! `Builder::seed` or `REDIS_HARNESS_SEED`), which every expectation failure
//! message prints.
//!
//! Rules also have a text form (`"latency 100ms cmd=GET prob=0.5"`, see
//! [`rules`] for the grammar) used by the CLI's `--fault` flag and by the
//! `HARNESS FAULT ADD` admin command.

pub(crate) mod admin;
pub(crate) mod apply;
mod display;
mod engine;
mod model;
pub mod rules;
mod targets;

pub use engine::{FaultGuard, RuleInfo};
pub use model::{errors, BadCertificate, ConnTarget, Fault, FaultRule, LatencyPhase, Predicate, Times};
pub use rules::RuleParseError;
pub use targets::FAMILIES;

pub(crate) use apply::{deliver, refuse, stall, Abort, Next};
#[cfg(feature = "tls")]
pub(crate) use engine::HandshakeAction;
pub(crate) use engine::{render_command, verify_on_drop, Action, ConnInfo, FaultHost, Hub, ReplyAction};
