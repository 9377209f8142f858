//! The engine: everything that runs commands, below the command handlers
//! (the command layer) and above the data structures (`crate::store`). It never
//! imports a handler or a front end: the command table comes in through
//! [`state::State::new`], and the front ends (the server, tests) call
//! [`exec::execute`]. See ARCHITECTURE.md for the map.
//!
//! - [`exec`]: the one execute path (checks, queueing, handler, effects);
//! - [`command`]: what a command is (spec, table, context, effects);
//! - [`state`]: the shared state and the write operations that keep its
//!   rules (WATCH, keyspace events, ready keys, memory accounting);
//! - [`acl`], [`multi`], [`blocking`], [`pubsub`], [`notify`], [`evict`]:
//!   the registries and models those rules use; [`config`] the parameters,
//!   [`clock`] the server's clock, [`errors`] the shared error replies.

pub(crate) mod acl;
pub(crate) mod blocking;
pub(crate) mod busy;
pub(crate) mod clients;
pub(crate) mod clock;
pub(crate) mod command;
pub(crate) mod config;
pub(crate) mod errors;
pub(crate) mod evict;
pub(crate) mod exec;
pub(crate) mod multi;
pub(crate) mod notify;
pub(crate) mod pubsub;
pub(crate) mod state;
