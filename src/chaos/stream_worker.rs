//! The stream-worker load: producers `XADD` to one stream, workers in one
//! consumer group `XREADGROUP` (COUNT, a short BLOCK) and `XACK`, and every
//! few steps `XAUTOCLAIM` entries idle longer than [`MIN_IDLE_MS`], which is
//! how a worker takes over what a reset or killed consumer was handed but
//! never saw. At the end the runner drains the group with the workers' own
//! policy and judges at-least-once delivery (`stream-delivery`): every id
//! whose `XADD` was acknowledged to its producer was processed and acked,
//! and the group's `XPENDING` count is 0.
//!
//! The negative mix (`stream-work-no-reclaim`) never reclaims: entries whose
//! `XREADGROUP` reply was lost stay pending for ever, and the drain (which
//! only reads new entries, as those workers do) cannot reach them.

use std::collections::HashSet;
use std::time::Duration;

use super::load::classify;
use super::run::Verdict;
use super::scenario::OpKind;
use crate::pool::{Cmd, ConnectionConfig, Error, Pool, PoolOptions, Value};

/// The stream every client writes to.
pub(crate) const STREAM: &str = "chaos:stream";
/// The consumer group every worker is in.
pub(crate) const GROUP: &str = "chaos-workers";
/// Pending entries idle this long are taken over by `XAUTOCLAIM`.
pub(crate) const MIN_IDLE_MS: u64 = 100;
/// Entries per `XREADGROUP` / `XAUTOCLAIM`.
const BATCH: usize = 16;
/// `XREADGROUP` BLOCK, in milliseconds: short, so a stop is seen quickly.
const BLOCK_MS: u64 = 20;
/// A reclaiming worker runs `XAUTOCLAIM` every this many steps.
const RECLAIM_EVERY: u64 = 4;
/// Rounds of the final drain before it gives up (each round reads up to 100).
const DRAIN_ROUNDS: usize = 10_000;

/// What one client did with the stream.
#[derive(Debug, Default)]
pub(crate) struct StreamOut {
    /// Ids whose `XADD` was acknowledged to this client.
    pub added: Vec<String>,
    /// Ids this client's worker was handed (by `XREADGROUP` or `XAUTOCLAIM`), duplicates kept.
    pub processed: Vec<String>,
    steps: u64,
}

/// Whether `op` is one of the stream-worker ops.
pub(crate) fn is_stream_op(op: OpKind) -> bool {
    matches!(op, OpKind::StreamAdd | OpKind::StreamWork | OpKind::StreamWorkNoReclaim)
}

/// Whether a mix uses the stream, and if so whether its workers reclaim
/// (`Some(true)`: every worker reclaims; `Some(false)`: some never do).
pub(crate) fn mix_policy(mix: &[(OpKind, u32)]) -> Option<bool> {
    if !mix.iter().any(|(k, _)| is_stream_op(*k)) {
        return None;
    }
    Some(!mix.iter().any(|(k, _)| *k == OpKind::StreamWorkNoReclaim))
}

/// Runs one stream op for client `client`; what it saw is recorded in `out`
/// as it goes, so a step that fails half way still counts what it was handed.
pub(crate) async fn op(pool: &Pool, op: OpKind, client: usize, out: &mut StreamOut) -> Result<(), &'static str> {
    let consumer = format!("worker-{client}");
    match op {
        OpKind::StreamAdd => {
            let v = pool
                .query(&Cmd::new("XADD").arg(STREAM).arg("*").arg("producer").arg(client))
                .await
                .map_err(|e| classify(&e))?;
            match v.as_bytes().and_then(|b| std::str::from_utf8(b).ok()).and_then(parse_id) {
                Some(_) => {
                    out.added.push(String::from_utf8_lossy(v.as_bytes().unwrap_or_default()).into_owned());
                    Ok(())
                }
                None => Err("desync"),
            }
        }
        OpKind::StreamWork | OpKind::StreamWorkNoReclaim => {
            out.steps += 1;
            if op == OpKind::StreamWork && out.steps.is_multiple_of(RECLAIM_EVERY) {
                let ids = autoclaim(pool, &consumer, MIN_IDLE_MS, "0-0").await.map_err(|e| classify(&e))?.1;
                out.processed.extend(ids.iter().cloned());
                ack(pool, &ids).await.map_err(|e| classify(&e))?;
            }
            let ids = read_new(pool, &consumer, BATCH, Some(BLOCK_MS)).await.map_err(|e| classify(&e))?;
            out.processed.extend(ids.iter().cloned());
            ack(pool, &ids).await.map_err(|e| classify(&e))
        }
        _ => Err("config"),
    }
}

/// `ms-seq` as numbers, for ordering.
fn parse_id(s: &str) -> Option<(u64, u64)> {
    let (ms, seq) = s.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

fn text(v: &Value) -> Option<String> {
    v.as_bytes().map(|b| String::from_utf8_lossy(b).into_owned())
}

/// Ids of a list of `[id, fields]` entries (a deleted entry's fields are nil).
fn entry_ids(v: &Value) -> Vec<String> {
    match v {
        Value::Array(entries) => entries
            .iter()
            .filter_map(|e| match e {
                Value::Array(pair) => pair.first().and_then(text),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn is_nogroup(e: &Error) -> bool {
    matches!(e, Error::Redis { code, .. } if code == "NOGROUP")
}

/// Creates the group at the start of the stream (creating the stream too);
/// a group that already exists is fine.
async fn create_group(pool: &Pool) -> Result<(), Error> {
    let cmd = Cmd::new("XGROUP").arg("CREATE").arg(STREAM).arg(GROUP).arg("0").arg("MKSTREAM");
    match pool.query(&cmd).await {
        Ok(_) => Ok(()),
        Err(Error::Redis { code, .. }) if code == "BUSYGROUP" => Ok(()),
        Err(e) => Err(e),
    }
}

/// `XREADGROUP ... >`: new entries for `consumer`. A missing group (first
/// use, or a fake restarted empty) is created and the read tried once more.
async fn read_new(pool: &Pool, consumer: &str, count: usize, block_ms: Option<u64>) -> Result<Vec<String>, Error> {
    let mut cmd = Cmd::new("XREADGROUP").arg("GROUP").arg(GROUP).arg(consumer).arg("COUNT").arg(count);
    if let Some(ms) = block_ms {
        cmd = cmd.arg("BLOCK").arg(ms);
    }
    let cmd = cmd.arg("STREAMS").arg(STREAM).arg(">");
    let reply = match pool.query(&cmd).await {
        Err(e) if is_nogroup(&e) => {
            create_group(pool).await?;
            pool.query(&cmd).await?
        }
        r => r?,
    };
    // RESP2: [[key, entries]]; RESP3: {key: entries}; nil on timeout.
    Ok(match &reply {
        Value::Array(streams) => streams
            .iter()
            .flat_map(|s| match s {
                Value::Array(kv) => kv.get(1).map(entry_ids).unwrap_or_default(),
                _ => Vec::new(),
            })
            .collect(),
        Value::Map(streams) => streams.iter().flat_map(|(_, v)| entry_ids(v)).collect(),
        _ => Vec::new(),
    })
}

/// `XAUTOCLAIM` from `start`: the next cursor and the claimed ids (entries
/// deleted meanwhile are in the reply's third element and are not returned).
async fn autoclaim(pool: &Pool, consumer: &str, min_idle: u64, start: &str) -> Result<(String, Vec<String>), Error> {
    let cmd =
        Cmd::new("XAUTOCLAIM").arg(STREAM).arg(GROUP).arg(consumer).arg(min_idle).arg(start).arg("COUNT").arg(BATCH);
    let reply = match pool.query(&cmd).await {
        Err(e) if is_nogroup(&e) => {
            create_group(pool).await?;
            return Ok(("0-0".into(), Vec::new()));
        }
        r => r?,
    };
    match &reply {
        Value::Array(parts) if parts.len() >= 2 => {
            let cursor = text(&parts[0]).unwrap_or_else(|| "0-0".into());
            Ok((cursor, entry_ids(&parts[1])))
        }
        _ => Ok(("0-0".into(), Vec::new())),
    }
}

async fn ack(pool: &Pool, ids: &[String]) -> Result<(), Error> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut cmd = Cmd::new("XACK").arg(STREAM).arg(GROUP);
    for id in ids {
        cmd = cmd.arg(id.as_str());
    }
    pool.query(&cmd).await.map(drop)
}

/// What the drain found.
#[derive(Debug, Default)]
pub(crate) struct Drained {
    /// Ids the drain was handed.
    pub processed: Vec<String>,
    /// The group's `XPENDING` count afterwards.
    pub pending: u64,
    /// The stream's first id afterwards (`None`: empty or missing).
    pub first: Option<String>,
}

/// Drains the group through a fresh pool with the workers' policy: a
/// reclaiming drain takes over every pending entry (min-idle 0) and acks it,
/// then reads and acks every new entry; a non-reclaiming one only does the
/// latter. Then reads the `XPENDING` summary.
pub(crate) async fn drain(cfg: ConnectionConfig, reclaim: bool) -> Result<Drained, String> {
    let pool = Pool::new(cfg, PoolOptions { pool_size: 1, ..PoolOptions::default() }).map_err(|e| e.to_string())?;
    let res = drain_with(&pool, reclaim).await;
    pool.close(Duration::from_secs(2)).await;
    res.map_err(|e| format!("draining the stream group: {e}"))
}

async fn drain_with(pool: &Pool, reclaim: bool) -> Result<Drained, Error> {
    let mut d = Drained::default();
    for _ in 0..DRAIN_ROUNDS {
        let mut got = 0;
        if reclaim {
            let mut cursor = "0-0".to_string();
            loop {
                let (next, ids) = autoclaim(pool, "drain", 0, &cursor).await?;
                ack(pool, &ids).await?;
                got += ids.len();
                d.processed.extend(ids);
                if next == "0-0" {
                    break;
                }
                cursor = next;
            }
        }
        let ids = read_new(pool, "drain", 100, None).await?;
        ack(pool, &ids).await?;
        got += ids.len();
        d.processed.extend(ids);
        if got == 0 {
            break;
        }
    }
    d.pending = match pool.query(&Cmd::new("XPENDING").arg(STREAM).arg(GROUP)).await {
        Ok(Value::Array(parts)) => match parts.first() {
            Some(Value::Int(n)) => (*n).max(0) as u64,
            _ => 0,
        },
        Err(e) if is_nogroup(&e) => 0,
        Ok(_) => 0,
        Err(e) => return Err(e),
    };
    let head = pool.query(&Cmd::new("XRANGE").arg(STREAM).arg("-").arg("+").arg("COUNT").arg(1)).await?;
    d.first = entry_ids(&head).into_iter().next();
    Ok(d)
}

/// The `stream-delivery` verdict. `lossy_restart`: the server was restarted
/// and keeps no data across it (the fake), so acknowledged ids older than
/// the stream's first id at the end were lost with it; they are counted in
/// the detail, not judged (a real Redis with `appendfsync always` keeps them).
pub(crate) fn verdict(outs: &[StreamOut], drained: &Drained, lossy_restart: bool) -> Verdict {
    let processed: Vec<&String> = outs.iter().flat_map(|o| &o.processed).chain(&drained.processed).collect();
    let seen: HashSet<&str> = processed.iter().map(|s| s.as_str()).collect();
    let duplicates = processed.len() - seen.len();
    let added: Vec<&String> = outs.iter().flat_map(|o| &o.added).collect();
    let first = drained.first.as_deref().and_then(parse_id);
    let mut missing = Vec::new();
    let mut lost_in_restart = 0usize;
    for id in &added {
        if seen.contains(id.as_str()) {
            continue;
        }
        let older = match (parse_id(id), first) {
            (Some(a), Some(f)) => a < f,
            (_, None) => true,
            _ => false,
        };
        if lossy_restart && older {
            lost_in_restart += 1;
        } else {
            missing.push(id.as_str());
        }
    }
    missing.sort_by_key(|s| parse_id(s));
    let mut detail = format!(
        "added {}, processed {} ({duplicates} duplicates), missing {}, pending {}",
        added.len(),
        seen.len(),
        missing.len(),
        drained.pending
    );
    if lossy_restart {
        detail.push_str(&format!(", {lost_in_restart} lost in the fake's restart (not judged)"));
    }
    if let Some(m) = missing.first() {
        detail.push_str(&format!(", e.g. {m} never processed"));
    }
    Verdict {
        name: "stream-delivery".into(),
        label: "at-least-once, 0 pending".into(),
        pass: missing.is_empty() && drained.pending == 0 && !added.is_empty(),
        detail,
    }
}
