//! Property suites for the pool's graceful-close and cancellation
//! invariants, under random concurrent operations and faults
//! (`docs/props.md`).
//!
//! - `model`: the generated cases (options, rounds of concurrent tasks, operations);
//! - `exec`: runs a case and checks the invariants after every step;
//! - `invariants`: one named function per invariant;
//! - `backend`: the fake server, or a real redis-server behind `FaultProxy`,
//!   behind one trait (a container backend plugs in there);
//! - `runner`: proptest's `TestRunner`, case counts, seeds, persistence;
//! - `suites`: the suites against each backend, waiter order;
//! - `sabotage`: proof the suite notices each `Sabotage` bug;
//! - `fd`: the file-descriptor leak check, in a child process it owns;
//! - `regressions`: named tests for each failure the suite found.

mod backend;
mod exec;
mod fd;
mod invariants;
mod model;
mod regressions;
mod runner;
mod sabotage;
mod suites;
