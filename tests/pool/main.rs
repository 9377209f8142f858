//! Pool tests, one module per area. The fake server's socket accounting
//! (`open_connections`, `wait_for_open_connections`) proves what the pool
//! closed; `support::Scripted` fails on purpose where the fake cannot.

mod basics;
mod cancel;
mod close;
mod options;
mod real;
mod retry;
mod support;
mod timeouts;
#[cfg(feature = "tls")]
mod tls;
