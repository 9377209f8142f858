//! The example service (`redis-harness example-service`) as a child process:
//! started with the [`ServiceCommand`] the caller gives against the
//! scenario's server, and ready once it logs the address it listens on.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

use super::run::ServiceCommand;
use super::scenario::ServiceSpec;

/// How long the service may take to log that it listens.
const READY_BOUND: Duration = Duration::from_secs(15);

/// A running service.
pub(crate) struct Service {
    /// `None` once handed to the exit waiter.
    pub child: Option<tokio::process::Child>,
    pub addr: SocketAddr,
    /// Its log lines (JSON), kept for the results.
    pub log: Arc<Mutex<Vec<String>>>,
}

/// Starts the service against `redis_url` and waits (bounded) for its `listening` log line.
pub(crate) async fn start(cmd: &ServiceCommand, spec: &ServiceSpec, redis_url: &str) -> Result<Service, String> {
    let mut child = tokio::process::Command::new(&cmd.program)
        .args(&cmd.args)
        .env("REDIS_URL", redis_url)
        .env("SERVICE_ADDR", "127.0.0.1:0")
        .env("SERVICE_DRAIN_MS", spec.drain.as_millis().to_string())
        .env("SERVICE_GRACEFUL", if spec.graceful { "1" } else { "0" })
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("starting {} {}: {e}", cmd.program.display(), cmd.args.join(" ")))?;
    let stdout = child.stdout.take().ok_or("the service's stdout is not piped")?;
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = tokio::sync::oneshot::channel();
    let keep = log.clone();
    // Reads until the listening line, then keeps draining so the child never blocks on a full pipe.
    tokio::spawn(async move {
        let mut tx = Some(tx);
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if tx.is_some() && line.contains("\"msg\":\"listening\"") {
                if let Some(addr) = field(&line, "addr").and_then(|a| a.parse::<SocketAddr>().ok()) {
                    let _ = tx.take().map(|t| t.send(addr));
                }
            }
            let mut l = keep.lock().unwrap_or_else(|e| e.into_inner());
            if l.len() < 10_000 {
                l.push(line);
            }
        }
    });
    match tokio::time::timeout(READY_BOUND, rx).await {
        Ok(Ok(addr)) => Ok(Service { child: Some(child), addr, log }),
        _ => {
            let _ = child.start_kill();
            let lines = log.lock().unwrap_or_else(|e| e.into_inner()).join("\n");
            Err(format!("the service did not log `listening` within {READY_BOUND:?}; its log:\n{lines}"))
        }
    }
}

/// The string value of `"name":"..."` in a flat JSON log line.
fn field(line: &str, name: &str) -> Option<String> {
    let start = line.find(&format!("\"{name}\":\""))? + name.len() + 4;
    let end = line[start..].find('"')? + start;
    Some(line[start..end].to_string())
}

/// Sends SIGTERM to `pid` (through `kill(1)`: the crate forbids unsafe code).
pub(crate) fn sigterm(pid: u32) -> Result<(), String> {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .map_err(|e| format!("running kill: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("kill -TERM {pid} failed: {status}"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_a_log_field() {
        let line = r#"{"ts":1,"msg":"listening","addr":"127.0.0.1:4000"}"#;
        assert_eq!(super::field(line, "addr").as_deref(), Some("127.0.0.1:4000"));
        assert_eq!(super::field(line, "nope"), None);
    }
}
