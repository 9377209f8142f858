//! Chaos scenarios (`redis-harness chaos`, library feature `chaos`): named
//! experiments that drive load through the [pool](crate::pool) against the
//! fake server or a real Redis behind a [fault proxy](crate::FaultProxy),
//! play a timeline of faults and actions, and judge expectations: error rate
//! while the fault is on, recovery time after it, p99 latency, sockets left
//! open after close, and acknowledged writes read back.
//!
//! Layout:
//! - `scenario`: the TOML format ([`Scenario`]), checked at load time;
//! - `backend`: the [`Backend`](crate::backend::Backend) a scenario runs against, as scenarios configure it;
//! - `load`: client tasks, op timing, error kinds, acknowledged-write tracking and read-back;
//! - `service`: the example HTTP service as a child process (SIGTERM scenario;
//!   the CLI starts itself as `redis-harness example-service`);
//! - `run`: one scenario end to end, and the verdicts;
//! - `report`: the table, JSON, and the HTML report with its charts (plotters, SVG).
//!
//! ```no_run
//! # async fn demo() {
//! use std::path::Path;
//! use redis_harness::chaos::{run_scenario, BackendKind, RunOptions, Scenario};
//!
//! let sc = Scenario::load(Path::new("fixtures/scenarios/reset-storm.toml")).unwrap();
//! let opts = RunOptions::new(BackendKind::Embedded, 7);
//! let result = run_scenario(&sc, &opts).await;
//! assert!(result.passed(), "{}", redis_harness::chaos::report::table(&[result.clone()]));
//! # }
//! ```

mod backend;
mod load;
pub mod report;
mod run;
pub mod scenario;
mod service;

pub use crate::backend::BackendKind;
pub use load::Sample;
pub use run::{run_scenario, Progress, ProgressFn, RunOptions, ScenarioResult, ServiceCommand, ServiceExit, Verdict};
pub use scenario::{Scenario, ScenarioError};
