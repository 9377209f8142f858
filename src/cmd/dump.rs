//! DUMP and RESTORE: values as Redis 7.0 serializes them (RDB version 10
//! with a CRC-64 trailer, see `store::rdb`), so payloads move both ways
//! between the fake and a real redis-server.

use bytes::Bytes;

use super::keys::encoding_limits;
use super::util::{eq_ic, int_arg, syntax_error, tri};
use super::{cmd, CommandSpec, Ctx};
use crate::protocol::Reply;
use crate::store::rdb::{self, DumpOptions};
use crate::store::{lfu_minutes, Entry, Value};

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd("dump", 2, &["readonly"], (1, 1, 1), &["keyspace", "read", "slow"], dump),
    cmd("restore", -4, &["write", "denyoom"], (1, 1, 1), &["keyspace", "write", "slow", "dangerous"], restore),
];

/// `list-max-listpack-size` (Redis's default -2: 8 KiB per quicklist node).
fn list_fill(ctx: &Ctx<'_>) -> i64 {
    ["list-max-listpack-size", "list-max-ziplist-size"]
        .iter()
        .find_map(|n| ctx.st.config().get(n).and_then(|v| v.parse::<i64>().ok()))
        .unwrap_or(-2)
}

fn dump(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let limits = encoding_limits(ctx);
    let compress = !ctx.st.config().get("rdbcompression").is_some_and(|v| v.eq_ignore_ascii_case("no"));
    let list_fill = list_fill(ctx);
    let db = ctx.db();
    let Some(e) = ctx.st.lookup_read(db, &args[1], ctx.now) else { return Reply::Nil };
    if matches!(e.value, Value::Stream(_)) {
        return Reply::error("ERR DUMP of a stream is not supported by redis-harness yet");
    }
    let opts = DumpOptions { encoding: e.encoding_with(&limits), compress, list_fill };
    Reply::Bulk(Bytes::from(rdb::dump(&e.value, &opts)))
}

/// RESTORE's options after the payload.
#[derive(Default)]
struct RestoreOptions {
    replace: bool,
    absttl: bool,
    idle: Option<i64>,
    freq: Option<u8>,
}

/// Parses the options as Redis does: IDLETIME and FREQ exclude each other
/// (the second one is a syntax error), and a bad value is reported at once.
fn restore_options(args: &[Bytes]) -> Result<RestoreOptions, Reply> {
    let mut o = RestoreOptions::default();
    let mut j = 4;
    while j < args.len() {
        let more = j + 1 < args.len();
        let a = &args[j];
        if eq_ic(a, "replace") {
            o.replace = true;
        } else if eq_ic(a, "absttl") {
            o.absttl = true;
        } else if eq_ic(a, "idletime") && more && o.freq.is_none() {
            let v = int_arg(&args[j + 1])?;
            if v < 0 {
                return Err(Reply::error("ERR Invalid IDLETIME value, must be >= 0"));
            }
            o.idle = Some(v);
            j += 1;
        } else if eq_ic(a, "freq") && more && o.idle.is_none() {
            let v = int_arg(&args[j + 1])?;
            let Ok(v) = u8::try_from(v) else {
                return Err(Reply::error("ERR Invalid FREQ value, must be >= 0 and <= 255"));
            };
            o.freq = Some(v);
            j += 1;
        } else {
            return Err(syntax_error());
        }
        j += 1;
    }
    Ok(o)
}

/// Redis's `restoreCommand`: options, then BUSYKEY, then the TTL, then the
/// payload's version and checksum, then its contents.
fn restore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let key = &args[1];
    let o = tri!(restore_options(args));
    let (db, now) = (ctx.db(), ctx.now);
    if !o.replace && ctx.st.lookup(db, key, now).is_some() {
        return Reply::error("BUSYKEY Target key name already exists.");
    }
    let ttl = tri!(int_arg(&args[2]));
    if ttl < 0 {
        return Reply::error("ERR Invalid TTL value, must be >= 0");
    }
    let payload = &args[3];
    if !rdb::verify(payload) {
        return Reply::error("ERR DUMP payload version or checksum are wrong");
    }
    let Some(value) = rdb::load(payload) else { return Reply::error("ERR Bad data format") };
    let deleted = o.replace && ctx.st.exists(db, key, now) && ctx.st.remove_entry(db, key).is_some();
    let at = if o.absttl { ttl as u64 } else { (ttl as u64).saturating_add(now) };
    if ttl != 0 && at <= now {
        // Already expired: nothing is created, but a replaced key is gone.
        if deleted {
            ctx.st.notify(db, 'g', "del", key);
        }
        return Reply::ok();
    }
    let mut e = Entry::new(value, now);
    if ttl != 0 {
        e.expire_at = Some(at);
    }
    // As Redis's objectSetLRUOrLFU: FREQ counts under an LFU policy only,
    // IDLETIME under any other.
    if ctx.st.config().mm.policy.is_lfu() {
        if let Some(f) = o.freq {
            (e.lfu, e.lfu_time) = (f, lfu_minutes(now));
        }
    } else if let Some(idle) = o.idle {
        e.last_access = now.saturating_sub((idle as u64).saturating_mul(1000));
    }
    // Signals WATCH and wakes clients blocked on a restored list, zset or stream.
    ctx.st.store_entry(db, key, e);
    ctx.st.notify(db, 'g', "restore", key);
    Reply::ok()
}
