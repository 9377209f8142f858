//! The load generator: client tasks that issue the scenario's op mix through
//! the current pool (or over HTTP to the example service), time every op,
//! classify failures, and remember every acknowledged write for read-back.
//!
//! Keys are owned by one client each (`chaos:s:{client}:{n}` for SETs,
//! `chaos:c:{client}:{n}` for INCRs), so "acknowledged" has one meaning: the
//! last acknowledged SET's sequence number, and the count of acknowledged
//! INCRs, must both be visible afterwards (a later unacknowledged write may
//! have landed too, so read-back checks `>=`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::scenario::{Load, OpKind};
use crate::pool::{Cmd, Error, Pool, TimeoutKind, Value};

/// Most samples kept per client (a few seconds of load stay far below it).
const MAX_SAMPLES_PER_CLIENT: usize = 200_000;

/// One timed operation.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// When it started, from the start of the load.
    pub at: Duration,
    /// How long it took (to its reply or its error).
    pub latency: Duration,
    /// Its error kind, if it failed.
    pub error: Option<&'static str>,
}

/// What the clients share with the runner.
pub(crate) struct Shared {
    /// The pool ops go through; `None` once the scenario closed it.
    pub pool: Mutex<Option<Pool>>,
    /// The example service's address, for HTTP load.
    pub service: Mutex<Option<SocketAddr>>,
    /// No new ops after this.
    pub stop: CancellationToken,
    /// Ops still in flight are given up after this (some time after `stop`),
    /// and recorded as `unfinished` with the time they had taken.
    pub abort: CancellationToken,
    pub start: Instant,
    pub ops: AtomicU64,
    pub errors: AtomicU64,
}

impl Shared {
    fn pool(&self) -> Option<Pool> {
        self.pool.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// What one client did.
#[derive(Default)]
pub(crate) struct ClientOut {
    pub samples: Vec<Sample>,
    /// Last acknowledged SET sequence number per key.
    pub acked_set: HashMap<String, u64>,
    /// Acknowledged INCRs per key.
    pub acked_incr: HashMap<String, u64>,
    /// The stream-worker load's acknowledged XADDs and processed entries.
    pub stream: super::stream_worker::StreamOut,
}

/// The error kind shown in reports for a pool error.
pub(crate) fn classify(e: &Error) -> &'static str {
    match e {
        Error::Timeout { kind: TimeoutKind::Read, .. } => "read-timeout",
        Error::Timeout { kind: TimeoutKind::Write, .. } => "write-timeout",
        Error::Timeout { kind: TimeoutKind::Dial, .. } => "dial-timeout",
        Error::Timeout { kind: TimeoutKind::PoolWait { .. }, .. } => "pool-wait",
        Error::ConnectionRefused { .. } => "refused",
        Error::Reset { .. } => "reset",
        Error::Closed { .. } => "pool-closed",
        Error::Aborted { .. } => "aborted",
        Error::Unusable { .. } => "unusable",
        Error::CircuitOpen { .. } => "circuit-open",
        Error::Tls { .. } => "tls",
        Error::Auth { .. } => "auth",
        Error::Redis { code, message, .. } if code == "ERR" && message.starts_with("max number of clients") => {
            "max-clients"
        }
        Error::Redis { .. } => "error-reply",
        Error::Protocol { .. } => "protocol",
        Error::Config(_) => "config",
        Error::Io { .. } => "io",
    }
}

fn pick(mix: &[(OpKind, u32)], total: u32, rng: &mut fastrand::Rng) -> OpKind {
    let mut n = rng.u32(0..total);
    for (k, w) in mix {
        if n < *w {
            return *k;
        }
        n -= w;
    }
    mix[0].0
}

/// A GET reply must be this key's own value: anything else means replies got out of step.
fn check_value(key: &str, v: &Value) -> Result<(), &'static str> {
    match v {
        Value::Nil => Ok(()),
        Value::Bulk(b) if b.starts_with(key.as_bytes()) && b.get(key.len()) == Some(&b':') => Ok(()),
        Value::Error { .. } => Err("error-reply"),
        _ => Err("desync"),
    }
}

/// Runs one client until `stop`; returns what it did.
pub(crate) async fn client(id: usize, load: Load, seed: u64, shared: Arc<Shared>) -> ClientOut {
    let mut out = ClientOut::default();
    let mut rng = fastrand::Rng::with_seed(seed ^ (id as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let total: u32 = load.mix.iter().map(|(_, w)| *w).sum();
    let mut ticker = load.rate.map(|r| {
        let per_client = (r as f64 / load.clients as f64).max(0.1);
        let mut t = tokio::time::interval(Duration::from_secs_f64(1.0 / per_client));
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    let mut seq = 0u64;
    loop {
        if let Some(t) = ticker.as_mut() {
            tokio::select! {
                _ = t.tick() => {}
                _ = shared.stop.cancelled() => break,
            }
        } else if shared.stop.is_cancelled() {
            break;
        } else {
            // Closed-loop clients on a fast server would never yield otherwise.
            tokio::task::yield_now().await;
        }
        let op = pick(&load.mix, total, &mut rng);
        let key =
            |kind: &str, rng: &mut fastrand::Rng| format!("chaos:{kind}:{id}:{}", rng.usize(0..load.keys_per_client));
        let started = Instant::now();
        let at = started.duration_since(shared.start);
        let result = if op == OpKind::HttpIncr {
            let Some(addr) = *shared.service.lock().unwrap_or_else(|e| e.into_inner()) else { break };
            let k = key("c", &mut rng);
            tokio::select! {
                r = http_incr(addr, &k) => r.map(|()| vec![Ack::Incr(k)]),
                _ = shared.abort.cancelled() => Err("unfinished"),
            }
        } else if super::stream_worker::is_stream_op(op) {
            let Some(pool) = shared.pool() else { break };
            tokio::select! {
                r = super::stream_worker::op(&pool, op, id, &mut out.stream) => r.map(|()| Vec::new()),
                _ = shared.abort.cancelled() => Err("unfinished"),
            }
        } else {
            let Some(pool) = shared.pool() else { break };
            let fut = run_op(&pool, op, &load, &mut rng, &mut seq, &key);
            tokio::select! {
                r = fut => r,
                _ = shared.abort.cancelled() => Err("unfinished"),
            }
        };
        let latency = started.elapsed();
        let error = match result {
            Ok(acks) => {
                for a in acks {
                    match a {
                        Ack::Set(k, s) => {
                            let e = out.acked_set.entry(k).or_insert(0);
                            *e = (*e).max(s);
                        }
                        Ack::Incr(k) => *out.acked_incr.entry(k).or_insert(0) += 1,
                    }
                }
                None
            }
            Err(kind) => {
                shared.errors.fetch_add(1, Ordering::Relaxed);
                Some(kind)
            }
        };
        shared.ops.fetch_add(1, Ordering::Relaxed);
        if out.samples.len() < MAX_SAMPLES_PER_CLIENT {
            out.samples.push(Sample { at, latency, error });
        }
    }
    out
}

enum Ack {
    Set(String, u64),
    Incr(String),
}

async fn run_op(
    pool: &Pool,
    op: OpKind,
    load: &Load,
    rng: &mut fastrand::Rng,
    seq: &mut u64,
    key: &impl Fn(&str, &mut fastrand::Rng) -> String,
) -> Result<Vec<Ack>, &'static str> {
    match op {
        OpKind::Get => {
            let k = key("s", rng);
            let v = pool.query(&Cmd::new("GET").arg(k.as_str())).await.map_err(|e| classify(&e))?;
            check_value(&k, &v)?;
            Ok(vec![])
        }
        OpKind::Set => {
            let k = key("s", rng);
            *seq += 1;
            let value = format!("{k}:{seq}");
            pool.set(k.as_str(), value).await.map_err(|e| classify(&e))?;
            Ok(vec![Ack::Set(k, *seq)])
        }
        OpKind::Incr => {
            let k = key("c", rng);
            pool.incr(k.as_str()).await.map_err(|e| classify(&e))?;
            Ok(vec![Ack::Incr(k)])
        }
        OpKind::Pipeline => {
            let keys: Vec<String> = (0..load.pipeline_depth).map(|_| key("s", rng)).collect();
            let cmds: Vec<Cmd> = keys.iter().map(|k| Cmd::new("GET").arg(k.as_str())).collect();
            let replies = pool.pipeline(&cmds).await.map_err(|e| classify(&e))?;
            if replies.len() != keys.len() {
                return Err("desync");
            }
            for (k, v) in keys.iter().zip(&replies) {
                check_value(k, v)?;
            }
            Ok(vec![])
        }
        OpKind::PipelineWrite => {
            let sk = key("s", rng);
            let ck = key("c", rng);
            *seq += 1;
            let cmds = [Cmd::new("SET").arg(sk.as_str()).arg(format!("{sk}:{seq}")), Cmd::new("INCR").arg(ck.as_str())];
            let replies = pool.pipeline(&cmds).await.map_err(|e| classify(&e))?;
            let mut acks = Vec::new();
            match replies.as_slice() {
                [set, incr] => {
                    if set.is_ok() {
                        acks.push(Ack::Set(sk, *seq));
                    }
                    if matches!(incr, Value::Int(_)) {
                        acks.push(Ack::Incr(ck));
                    }
                    if acks.len() != 2 {
                        return Err(if matches!(set, Value::Error { .. }) || matches!(incr, Value::Error { .. }) {
                            "error-reply"
                        } else {
                            "desync"
                        });
                    }
                }
                _ => return Err("desync"),
            }
            Ok(acks)
        }
        OpKind::HttpIncr | OpKind::StreamAdd | OpKind::StreamWork | OpKind::StreamWorkNoReclaim => Err("config"),
    }
}

fn io_kind(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "refused",
        std::io::ErrorKind::TimedOut => "read-timeout",
        std::io::ErrorKind::ConnectionReset
        | std::io::ErrorKind::ConnectionAborted
        | std::io::ErrorKind::BrokenPipe
        | std::io::ErrorKind::UnexpectedEof => "reset",
        _ => "io",
    }
}

/// `POST /incr/{key}` with `Connection: close`; a 2xx is an acknowledged INCR.
async fn http_incr(addr: SocketAddr, key: &str) -> Result<(), &'static str> {
    let bound = Duration::from_secs(5);
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        let req =
            format!("POST /incr/{key} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await?;
        let mut buf = Vec::with_capacity(512);
        // The response is small; the cap guards against a misbehaving peer.
        (&mut s).take(64 * 1024).read_to_end(&mut buf).await?;
        Ok::<Vec<u8>, std::io::Error>(buf)
    };
    let buf = match tokio::time::timeout(bound, exchange).await {
        Err(_) => return Err("read-timeout"),
        Ok(Err(e)) => return Err(io_kind(&e)),
        Ok(Ok(b)) => b,
    };
    let line = buf.split(|b| *b == b'\n').next().unwrap_or_default();
    let status =
        std::str::from_utf8(line).ok().and_then(|l| l.split_whitespace().nth(1)).and_then(|c| c.parse::<u16>().ok());
    match status {
        Some(200..=299) => Ok(()),
        Some(500..=599) => Err("http-5xx"),
        Some(_) => Err("http-other"),
        None if buf.is_empty() => Err("reset"),
        None => Err("protocol"),
    }
}

/// Reads back every acknowledged write; returns (acknowledged keys checked, keys whose write is missing).
pub(crate) async fn read_back(
    pool: &Pool,
    sets: &HashMap<String, u64>,
    incrs: &HashMap<String, u64>,
) -> Result<(usize, Vec<String>), Error> {
    let mut lost = Vec::new();
    let mut checked = 0;
    let set_keys: Vec<(&String, &u64)> = sets.iter().collect();
    for chunk in set_keys.chunks(100) {
        let cmds: Vec<Cmd> = chunk.iter().map(|(k, _)| Cmd::new("GET").arg(k.as_str())).collect();
        let replies = pool.pipeline(&cmds).await?;
        for ((k, want), v) in chunk.iter().zip(replies) {
            checked += 1;
            let got = v
                .as_bytes()
                .and_then(|b| std::str::from_utf8(b).ok())
                .and_then(|s| s.rsplit(':').next())
                .and_then(|n| n.parse::<u64>().ok());
            if got.is_none_or(|g| g < **want) {
                lost.push(format!(
                    "{k}: acknowledged SET #{want}, read {:?}",
                    v.as_bytes().map(String::from_utf8_lossy)
                ));
            }
        }
    }
    let incr_keys: Vec<(&String, &u64)> = incrs.iter().collect();
    for chunk in incr_keys.chunks(100) {
        let cmds: Vec<Cmd> = chunk.iter().map(|(k, _)| Cmd::new("GET").arg(k.as_str())).collect();
        let replies = pool.pipeline(&cmds).await?;
        for ((k, want), v) in chunk.iter().zip(replies) {
            checked += 1;
            let got = v.as_bytes().and_then(|b| std::str::from_utf8(b).ok()).and_then(|s| s.parse::<u64>().ok());
            if got.unwrap_or(0) < **want {
                lost.push(format!("{k}: {want} acknowledged INCR(s), read {}", got.unwrap_or(0)));
            }
        }
    }
    lost.sort();
    Ok((checked, lost))
}
