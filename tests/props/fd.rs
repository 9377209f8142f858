//! No file descriptor of the process is left over after the suite: the
//! check runs in a child process running only that test, so no other test
//! of this binary opens or closes descriptors meanwhile.

use std::time::Duration;

use redis_harness::pool::Sabotage;

use crate::backend::Fake;
use crate::runner::run_one;

const CHILD_ENV: &str = "REDIS_HARNESS_PROPS_FD_CHILD";

fn open_fds() -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd").flatten() {
        let target = std::fs::read_link(e.path()).map(|p| p.display().to_string()).unwrap_or_default();
        out.push(format!("{} -> {target}", e.file_name().to_string_lossy()));
    }
    out.sort();
    out
}

#[test]
fn no_file_descriptor_left_after_the_suite() {
    if !std::path::Path::new("/proc/self/fd").exists() {
        redis_harness::backend::report_skip("no_file_descriptor_left_after_the_suite", "no /proc/self/fd");
        return;
    }
    let exe = std::env::current_exe().expect("current exe");
    let out = std::process::Command::new(exe)
        .args(["--exact", "fd::fd_child", "--include-ignored", "--test-threads=1", "--nocapture"])
        .env(CHILD_ENV, "1")
        .output()
        .expect("running the child test");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("1 passed"), "the fd check in a child process failed:\n{text}");
}

/// Runs cases with the fake server, then requires the descriptor table to
/// be back to what it was. Only meaningful as the only test of its process.
#[test]
#[ignore = "run by no_file_descriptor_left_after_the_suite in a child process"]
fn fd_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    // One case first: process-wide singletons created lazily on first use
    // (tokio's global signal socket pair) live until exit and are no leak.
    let warm_up =
        crate::model::Case { cfg: crate::runner::small_cfg(), rounds: vec![vec![vec![crate::model::Op::Echo]]] };
    run_one(&Fake, &warm_up, Sabotage::None).expect("warm-up case");
    let before = open_fds();
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 8,
        failure_persistence: None,
        ..Default::default()
    });
    let r = runner.run(&crate::model::case(), |c| {
        run_one(&Fake, &c, Sabotage::None).map_err(proptest::test_runner::TestCaseError::fail)
    });
    assert!(r.is_ok(), "{r:?}");
    // Servers stop on their own threads: wait, bounded, for their descriptors to go.
    let end = std::time::Instant::now() + Duration::from_secs(5);
    let mut after = open_fds();
    while after.len() > before.len() && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
        after = open_fds();
    }
    let extra: Vec<&String> = after.iter().filter(|f| !before.contains(f)).collect();
    assert!(after.len() <= before.len(), "[no_fd_left_after_close] descriptors left over: {extra:?}");
}
