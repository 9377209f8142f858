//! Real Redis backends for running the same tests against the real thing.

pub mod process;

pub use process::{RedisProcess, RedisProcessBuilder, TlsFiles};

/// Whether tests that need a real Redis must fail rather than skip
/// (`REDIS_HARNESS_REQUIRE_REAL=1`, set by CI).
pub fn require_real() -> bool {
    matches!(std::env::var("REDIS_HARNESS_REQUIRE_REAL").as_deref(), Ok("1") | Ok("true") | Ok("yes"))
}
