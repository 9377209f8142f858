//! Wire protocol of the fake server: request parsing and reply encoding.
//!
//! This module knows nothing of sockets (as in mini-redis, `frame.rs` apart
//! from `connection.rs`), so its tests need no TCP.
//!
//! Design note: the server side does not decode requests with
//! `redis-protocol`'s frame decoder. Redis accepts inline commands, ignores
//! empty lines, rejects over-limit lengths *before* the data arrives and
//! replies with its own exact error texts; the crate does none of those, and
//! closing those gaps needs a header scanner that already is a full request
//! parser. Replies are encoded here too, because Redis formats doubles with
//! `%.17g` and the crate's `Double` frame does not. `redis-protocol` is used
//! wherever we are the *client* of a Redis (the pool, the proxy, the test
//! harness).

pub(crate) mod reply;
pub(crate) mod request;

pub use reply::Reply;
