//! Scenario files: TOML under `fixtures/scenarios/`, read into [`Scenario`]
//! and checked before anything runs (durations, fault rule text, actions),
//! so a typo fails at load time with the file name and the reason.
//!
//! ```toml
//! name = "reset-storm"
//! summary = "one sentence for the report and docs"
//! duration = "3s"
//!
//! [load]
//! clients = 8
//! rate = 1500                      # ops/s over all clients; omit for as fast as possible
//! mix = { get = 60, set = 20, incr = 20 }   # also pipeline, pipeline-write, http-incr,
//!                                  # xadd, stream-work, stream-work-no-reclaim (stream_worker)
//!
//! [pool]
//! pool_size = 8
//! read_timeout = "100ms"           # "none" for no timeout
//!
//! [[fault]]
//! rule = "reset cmd=GET prob=0.3"  # FaultRule text (docs/faults.md)
//! at = "1s"
//! for = "1s"
//!
//! [[action]]
//! at = "1s"
//! do = "kill-all"
//!
//! [expect]
//! max_error_rate_during_fault = 0.05
//! recovery_within = "300ms"
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::fault::rules::parse_duration;
use crate::fault::FaultRule;
use crate::pool::PoolOptions;

/// A scenario file that could not be read or does not make sense.
#[derive(Debug)]
pub struct ScenarioError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "scenario {}: {}", self.path.display(), self.reason)
    }
}

impl std::error::Error for ScenarioError {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: String,
    summary: String,
    duration: String,
    #[serde(default)]
    backends: Option<Vec<String>>,
    #[serde(default)]
    server: ServerFile,
    load: LoadFile,
    #[serde(default)]
    pool: PoolFile,
    #[serde(default)]
    fault: Vec<TimedFile>,
    #[serde(default)]
    action: Vec<TimedFile>,
    #[serde(default)]
    service: Option<ServiceFile>,
    #[serde(default)]
    expect: ExpectFile,
    #[serde(default)]
    must_fail: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerFile {
    password: Option<String>,
    #[serde(default)]
    tls: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoadFile {
    clients: usize,
    rate: Option<u64>,
    mix: BTreeMap<String, u32>,
    pipeline_depth: Option<usize>,
    keys_per_client: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PoolFile {
    pool_size: Option<usize>,
    min_idle: Option<usize>,
    max_retries: Option<u32>,
    pool_timeout: Option<String>,
    read_timeout: Option<String>,
    write_timeout: Option<String>,
    dial_timeout: Option<String>,
    conn_max_lifetime: Option<String>,
    breaker_threshold: Option<u32>,
    breaker_cooldown: Option<String>,
    min_retry_backoff: Option<String>,
    max_retry_backoff: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimedFile {
    at: String,
    #[serde(rename = "for")]
    window: Option<String>,
    rule: Option<String>,
    #[serde(rename = "do")]
    action: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceFile {
    #[serde(default = "yes")]
    graceful: bool,
    drain: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectFile {
    max_error_rate_during_fault: Option<f64>,
    min_error_rate_during_fault: Option<f64>,
    max_error_rate_outside_fault: Option<f64>,
    recovery_within: Option<String>,
    p99_below: Option<String>,
    no_leaked_sockets: Option<bool>,
    no_lost_writes: Option<bool>,
    no_lost_writes_on_real: Option<bool>,
    #[serde(default)]
    errors_at_least: BTreeMap<String, u64>,
    #[serde(default)]
    errors_at_most: BTreeMap<String, u64>,
    close_within: Option<String>,
    service_exit_within: Option<String>,
}

/// One kind of operation the load generator issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OpKind {
    /// `GET` of one of the client's own keys (read-only: retried by the pool).
    Get,
    /// `SET key key:seq`, tracked as an acknowledged write.
    Set,
    /// `INCR`, tracked as an acknowledged write.
    Incr,
    /// A pipeline of `GET`s (read-only, so the pool may retry it).
    Pipeline,
    /// A pipeline `SET` + `INCR` (writes: never retried once sent).
    PipelineWrite,
    /// `POST /incr/{key}` to the example service (the SIGTERM scenario).
    HttpIncr,
    /// `XADD` to the shared stream, tracked as an acknowledged id (stream-worker load).
    StreamAdd,
    /// A consumer-group worker step: `XAUTOCLAIM` now and then, `XREADGROUP`, `XACK`.
    StreamWork,
    /// The same without `XAUTOCLAIM` (the negative variant: pending entries are never reclaimed).
    StreamWorkNoReclaim,
}

impl OpKind {
    fn parse(s: &str) -> Option<OpKind> {
        Some(match s {
            "get" => OpKind::Get,
            "set" => OpKind::Set,
            "incr" => OpKind::Incr,
            "pipeline" => OpKind::Pipeline,
            "pipeline-write" => OpKind::PipelineWrite,
            "http-incr" => OpKind::HttpIncr,
            "xadd" => OpKind::StreamAdd,
            "stream-work" => OpKind::StreamWork,
            "stream-work-no-reclaim" => OpKind::StreamWorkNoReclaim,
            _ => return None,
        })
    }
}

/// The traffic a scenario drives.
#[derive(Debug, Clone)]
pub struct Load {
    /// Concurrent clients (tasks).
    pub clients: usize,
    /// Total ops/s over all clients; `None`: each client as fast as it can.
    pub rate: Option<u64>,
    /// Operation kinds with their weights.
    pub mix: Vec<(OpKind, u32)>,
    /// Commands per pipeline.
    pub pipeline_depth: usize,
    /// Keys each client owns (keys are never shared, so acknowledged writes can be checked).
    pub keys_per_client: usize,
}

/// Something the runner does to the server, the pool or the service at a point in time.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Close every client connection now.
    KillAll,
    /// Stop the server and start it again on the same port after the window.
    Restart,
    /// Change the server's password (`requirepass`).
    SetPassword(String),
    /// Replace the pool by one that uses this password; the old one is closed with a deadline.
    PoolPassword(String),
    /// Present this kind of certificate to new TLS connections (`valid`, `expired`,
    /// `not-yet-valid`, `wrong-host`, `unknown-ca`: signed by the second CA).
    TlsCert(String),
    /// Replace the pool by one that trusts both the old and the new CA.
    PoolTrustBoth,
    /// Close the load pool with this deadline and stop the load.
    ClosePool(Duration),
    /// Send SIGTERM to the example service.
    Sigterm,
}

impl Action {
    fn parse(s: &str) -> Result<Action, String> {
        let mut words = s.split_whitespace();
        let verb = words.next().unwrap_or("");
        let arg = words.next();
        let need = |what: &str| arg.map(str::to_string).ok_or_else(|| format!("`{verb}` needs {what}"));
        let action = match verb {
            "kill-all" => Action::KillAll,
            "restart" => Action::Restart,
            "set-password" => Action::SetPassword(need("a password")?),
            "pool-password" => Action::PoolPassword(need("a password")?),
            "tls-cert" => {
                let kind = need("a certificate kind")?;
                if !["valid", "expired", "not-yet-valid", "wrong-host", "unknown-ca"].contains(&kind.as_str()) {
                    return Err(format!("unknown certificate kind `{kind}`"));
                }
                Action::TlsCert(kind)
            }
            "pool-trust-both" => Action::PoolTrustBoth,
            "close-pool" => Action::ClosePool(parse_duration(&need("a deadline")?)?),
            "sigterm" => Action::Sigterm,
            _ => {
                return Err(format!(
                    "unknown action `{s}` (kill-all, restart, set-password PW, pool-password PW, tls-cert KIND, pool-trust-both, close-pool DEADLINE, sigterm)"
                ))
            }
        };
        if words.next().is_some() {
            return Err(format!("action `{s}` has too many words"));
        }
        Ok(action)
    }
}

/// What happens at a point of the timeline.
#[derive(Debug, Clone)]
pub enum Event {
    /// A fault rule, installed at `at` and removed after its window.
    Fault(FaultRule),
    /// An action.
    Action(Action),
}

/// One timeline entry.
#[derive(Debug, Clone)]
pub struct Timed {
    /// When, from the start of the load.
    pub at: Duration,
    /// How long the disturbance lasts: a fault rule is removed after it; a
    /// restart keeps the server down for it. Windows are shaded in charts and
    /// define "during the fault" for the error-rate expectation.
    pub window: Option<Duration>,
    /// What happens.
    pub event: Event,
}

/// The example service's part in the SIGTERM scenario.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    /// Whether the service handles SIGTERM (false: the protection removed).
    pub graceful: bool,
    /// How long it lets in-flight requests finish.
    pub drain: Duration,
}

/// What must hold for the scenario to pass. Unset bounds are not checked.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// Most errors allowed among ops started during a fault window.
    pub max_error_rate_during_fault: Option<f64>,
    /// Fewest errors during a fault window (shows the fault bit).
    pub min_error_rate_during_fault: Option<f64>,
    /// Most errors allowed outside every fault window (after recovery).
    pub max_error_rate_outside_fault: Option<f64>,
    /// After each window ends, the last error comes at most this late.
    pub recovery_within: Option<Duration>,
    /// p99 latency over every op (errors included) below this.
    pub p99_below: Option<Duration>,
    /// The server sees no socket from the pools (or the service) once they are closed.
    pub no_leaked_sockets: bool,
    /// Every acknowledged SET/INCR is read back.
    pub no_lost_writes: bool,
    /// The same on a real Redis, where it differs (a restarted fake starts
    /// empty; a real Redis with `appendfsync always` keeps what it acknowledged).
    pub no_lost_writes_on_real: bool,
    /// At least this many errors of each kind.
    pub errors_at_least: BTreeMap<String, u64>,
    /// At most this many errors of each kind.
    pub errors_at_most: BTreeMap<String, u64>,
    /// A `close-pool` action returns within this.
    pub close_within: Option<Duration>,
    /// The service exits with status 0 within this after SIGTERM.
    pub service_exit_within: Option<Duration>,
}

impl Expect {
    /// Whether acknowledged writes are read back on `backend`.
    pub fn checks_writes(&self, backend: crate::backend::BackendKind) -> bool {
        if backend.is_real() {
            self.no_lost_writes_on_real
        } else {
            self.no_lost_writes
        }
    }
}

/// Pool settings a scenario overrides (the rest are the pool's defaults).
#[derive(Debug, Clone)]
pub struct PoolSpec {
    /// The options.
    pub options: PoolOptions,
}

/// A parsed, checked scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Its name (`just chaos NAME`).
    pub name: String,
    /// One sentence saying what it shows.
    pub summary: String,
    /// How long the load runs.
    pub duration: Duration,
    /// Backends it runs on (`None`: all).
    pub backends: Option<Vec<String>>,
    /// The server's password at the start.
    pub password: Option<String>,
    /// Whether the server speaks TLS.
    pub tls: bool,
    /// The traffic.
    pub load: Load,
    /// The pool.
    pub pool: PoolSpec,
    /// Faults and actions, ordered by time.
    pub timeline: Vec<Timed>,
    /// The example service, for the SIGTERM scenario.
    pub service: Option<ServiceSpec>,
    /// What must hold.
    pub expect: Expect,
    /// For negative variants: the expectations a test requires to fail.
    pub must_fail: Vec<String>,
    /// The file it came from.
    pub path: PathBuf,
}

fn timeout(s: &Option<String>, default: Option<Duration>) -> Result<Option<Duration>, String> {
    match s.as_deref() {
        None => Ok(default),
        Some("none") => Ok(None),
        Some(d) => parse_duration(d).map(Some),
    }
}

fn dur(s: &Option<String>) -> Result<Option<Duration>, String> {
    s.as_deref().map(parse_duration).transpose()
}

impl Scenario {
    /// Parses scenario TOML; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
        let fail = |reason: String| ScenarioError { path: path.to_path_buf(), reason };
        let f: File = toml::from_str(text).map_err(|e| fail(e.to_string()))?;
        Scenario::from_file(f, path).map_err(fail)
    }

    /// Reads one scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ScenarioError { path: path.to_path_buf(), reason: e.to_string() })?;
        Scenario::parse(&text, path)
    }

    /// Reads every `*.toml` directly in `dir` (not its subdirectories), sorted by file name.
    pub fn load_dir(dir: &Path) -> Result<Vec<Scenario>, ScenarioError> {
        let io = |e: std::io::Error| ScenarioError { path: dir.to_path_buf(), reason: e.to_string() };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        paths.iter().map(|p| Scenario::load(p)).collect()
    }

    fn from_file(f: File, path: &Path) -> Result<Scenario, String> {
        let duration = parse_duration(&f.duration)?;
        if f.load.clients == 0 {
            return Err("load.clients must be at least 1".into());
        }
        let mut mix = Vec::new();
        for (k, w) in &f.load.mix {
            let kind = OpKind::parse(k).ok_or_else(|| {
                format!("unknown op `{k}` in load.mix (get, set, incr, pipeline, pipeline-write, http-incr, xadd, stream-work, stream-work-no-reclaim)")
            })?;
            if *w > 0 {
                mix.push((kind, *w));
            }
        }
        if mix.is_empty() {
            return Err("load.mix needs at least one op with a weight above 0".into());
        }
        let load = Load {
            clients: f.load.clients.min(1024),
            rate: f.load.rate.filter(|r| *r > 0),
            mix,
            pipeline_depth: f.load.pipeline_depth.unwrap_or(4).clamp(1, 64),
            keys_per_client: f.load.keys_per_client.unwrap_or(8).clamp(1, 1024),
        };

        let p = &f.pool;
        let mut o = PoolOptions::default();
        o.pool_size = p.pool_size.unwrap_or(8);
        o.min_idle = p.min_idle.unwrap_or(0);
        o.max_retries = p.max_retries.unwrap_or(o.max_retries);
        o.read_timeout = timeout(&p.read_timeout, o.read_timeout)?;
        o.write_timeout = timeout(&p.write_timeout, o.read_timeout)?;
        o.pool_timeout = timeout(&p.pool_timeout, o.read_timeout.map(|r| r + Duration::from_secs(1)))?;
        o.dial_timeout = timeout(&p.dial_timeout, o.dial_timeout)?;
        o.conn_max_lifetime = timeout(&p.conn_max_lifetime, None)?;
        o.breaker_threshold = p.breaker_threshold.unwrap_or(o.breaker_threshold);
        o.breaker_cooldown = dur(&p.breaker_cooldown)?.unwrap_or(o.breaker_cooldown);
        o.min_retry_backoff = dur(&p.min_retry_backoff)?.unwrap_or(o.min_retry_backoff);
        o.max_retry_backoff = dur(&p.max_retry_backoff)?.unwrap_or(o.max_retry_backoff);
        o.validate().map_err(|e| e.to_string())?;

        let mut timeline = Vec::new();
        for (what, entries) in [("fault", &f.fault), ("action", &f.action)] {
            for t in entries {
                let at = parse_duration(&t.at)?;
                let window = dur(&t.window)?;
                let event = match (what, &t.rule, &t.action) {
                    ("fault", Some(rule), None) => Event::Fault(rule.parse::<FaultRule>().map_err(|e| e.to_string())?),
                    ("action", None, Some(a)) => Event::Action(Action::parse(a)?),
                    ("fault", _, _) => return Err("each [[fault]] needs `rule` (and no `do`)".into()),
                    _ => return Err("each [[action]] needs `do` (and no `rule`)".into()),
                };
                if at > duration {
                    return Err(format!("an event at {at:?} is after the end ({duration:?})"));
                }
                if matches!(event, Event::Action(Action::Restart)) && window.is_none() {
                    return Err("restart needs `for`: how long the server stays down".into());
                }
                timeline.push(Timed { at, window, event });
            }
        }
        timeline.sort_by_key(|t| t.at);

        let service = match &f.service {
            None => None,
            Some(s) => {
                Some(ServiceSpec { graceful: s.graceful, drain: dur(&s.drain)?.unwrap_or(Duration::from_secs(2)) })
            }
        };
        let has_http = load.mix.iter().any(|(k, _)| *k == OpKind::HttpIncr);
        if has_http != service.is_some() {
            return Err("http-incr load and a [service] section go together".into());
        }

        let e = &f.expect;
        for r in [e.max_error_rate_during_fault, e.min_error_rate_during_fault, e.max_error_rate_outside_fault]
            .into_iter()
            .flatten()
        {
            if !(0.0..=1.0).contains(&r) {
                return Err(format!("error rates are fractions from 0 to 1, got {r}"));
            }
        }
        let expect = Expect {
            max_error_rate_during_fault: e.max_error_rate_during_fault,
            min_error_rate_during_fault: e.min_error_rate_during_fault,
            max_error_rate_outside_fault: e.max_error_rate_outside_fault,
            recovery_within: dur(&e.recovery_within)?,
            p99_below: dur(&e.p99_below)?,
            no_leaked_sockets: e.no_leaked_sockets.unwrap_or(true),
            no_lost_writes: e.no_lost_writes.unwrap_or(true),
            no_lost_writes_on_real: e.no_lost_writes_on_real.or(e.no_lost_writes).unwrap_or(true),
            errors_at_least: e.errors_at_least.clone(),
            errors_at_most: e.errors_at_most.clone(),
            close_within: dur(&e.close_within)?,
            service_exit_within: dur(&e.service_exit_within)?,
        };
        if let Some(b) = &f.backends {
            for name in b {
                if !["embedded", "process", "container"].contains(&name.as_str()) {
                    return Err(format!("unknown backend `{name}` in backends"));
                }
            }
        }
        Ok(Scenario {
            name: f.name,
            summary: f.summary,
            duration,
            backends: f.backends,
            password: f.server.password,
            tls: f.server.tls,
            load,
            pool: PoolSpec { options: o },
            timeline,
            service,
            expect,
            must_fail: f.must_fail,
            path: path.to_path_buf(),
        })
    }

    /// The disturbance windows `[start, end)`, merged where they overlap.
    pub fn windows(&self) -> Vec<(Duration, Duration)> {
        let mut w: Vec<(Duration, Duration)> =
            self.timeline.iter().filter_map(|t| t.window.map(|d| (t.at, (t.at + d).min(self.duration)))).collect();
        // A SIGTERM or a pool close disturbs until the end of the run.
        for t in &self.timeline {
            if matches!(t.event, Event::Action(Action::Sigterm | Action::ClosePool(_))) && t.window.is_none() {
                w.push((t.at, self.duration));
            }
        }
        w.sort();
        let mut merged: Vec<(Duration, Duration)> = Vec::new();
        for (s, e) in w {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        merged
    }

    /// Multiplies every time on the timeline and the duration by `factor`
    /// (tests use it to run shorter); bounds in `expect` are left alone.
    pub fn scale_time(&mut self, factor: f64) {
        let f = |d: Duration| d.mul_f64(factor.clamp(0.05, 10.0));
        self.duration = f(self.duration);
        for t in &mut self.timeline {
            t.at = f(t.at);
            t.window = t.window.map(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
name = "x"
summary = "s"
duration = "2s"
[load]
clients = 2
mix = { get = 1, set = 1 }
[[fault]]
rule = "latency 50ms cmd=GET"
at = "500ms"
for = "1s"
[[action]]
at = "1s"
do = "kill-all"
[expect]
recovery_within = "200ms"
"#;

    #[test]
    fn parses_a_scenario() {
        let s = Scenario::parse(MINIMAL, Path::new("x.toml")).unwrap();
        assert_eq!(s.duration, Duration::from_secs(2));
        assert_eq!(s.timeline.len(), 2);
        assert_eq!(s.windows(), vec![(Duration::from_millis(500), Duration::from_millis(1500))]);
        assert!(s.expect.no_lost_writes && s.expect.no_leaked_sockets);
        assert_eq!(s.expect.recovery_within, Some(Duration::from_millis(200)));
    }

    #[test]
    fn errors_name_the_problem() {
        let bad = MINIMAL.replace("latency 50ms", "latency soon");
        let e = Scenario::parse(&bad, Path::new("bad.toml")).unwrap_err();
        assert!(e.to_string().contains("bad.toml") && e.to_string().contains("latency soon"), "{e}");
        let bad = MINIMAL.replace("kill-all", "explode");
        assert!(Scenario::parse(&bad, Path::new("b.toml")).unwrap_err().reason.contains("unknown action"));
        let bad = MINIMAL.replace("get = 1", "gett = 1");
        assert!(Scenario::parse(&bad, Path::new("b.toml")).unwrap_err().reason.contains("unknown op"));
        let bad = MINIMAL.replace("clients = 2", "clients = 2\nbogus = 1");
        assert!(Scenario::parse(&bad, Path::new("b.toml")).is_err());
    }
}
