//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST.
//!
//! Values are strings in Redis's own HLL layout (`store::hll`), so they
//! can be read with GET, copied between the fake and Redis, and corrupted
//! on purpose to see Redis's errors. As in Redis, PFCOUNT of one key stores
//! the cardinality it computed in the value's header (a write that WATCH
//! sees, though the command is read-only), and PFMERGE raises `pfadd`.

use bytes::Bytes;

use super::hashes::config_usize;
use super::strings::overwrite_string;
use super::util::{eq_ic, tri, wrongtype};
use super::{cmd, CommandSpec, Ctx};
use crate::protocol::Reply;
use crate::store::hll::{self, HllError};
use crate::store::{EncodingHint, Entry, Value};

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd("pfadd", -2, &["write", "denyoom", "fast"], (1, 1, 1), &["write", "hyperloglog", "fast"], pfadd),
    cmd("pfcount", -2, &["readonly"], (1, -1, 1), &["read", "hyperloglog", "slow"], pfcount),
    cmd("pfmerge", -2, &["write", "denyoom"], (1, -1, 1), &["write", "hyperloglog", "slow"], pfmerge),
    cmd(
        "pfdebug",
        3,
        &["write", "denyoom", "admin"],
        (2, 2, 1),
        &["write", "hyperloglog", "admin", "slow", "dangerous"],
        pfdebug,
    ),
    cmd("pfselftest", 1, &["admin"], (0, 0, 0), &["hyperloglog", "admin", "slow", "dangerous"], pfselftest),
];

fn not_hll() -> Reply {
    Reply::error("WRONGTYPE Key is not a valid HyperLogLog string value.")
}

fn invalid() -> Reply {
    Reply::error(hll::INVALID)
}

fn hll_error(e: HllError) -> Reply {
    match e {
        HllError::NotHll => not_hll(),
        HllError::Corrupt => invalid(),
    }
}

/// The HLL under `key` (checked as Redis checks it): `Ok(None)` if missing.
/// `read` looks it up as a read (hit/miss statistics).
fn lookup_hll(ctx: &mut Ctx<'_>, key: &[u8], read: bool) -> Result<Option<Vec<u8>>, Reply> {
    let db = ctx.db();
    let entry = if read { ctx.st.lookup_read(db, key, ctx.now) } else { ctx.st.lookup(db, key, ctx.now) };
    match entry {
        None => Ok(None),
        Some(Entry { value: Value::Str(s), .. }) => {
            hll::check(s).map_err(hll_error)?;
            Ok(Some(s.to_vec()))
        }
        Some(_) => Err(wrongtype()),
    }
}

/// Stores an HLL value back. `signal`: tell WATCH (Redis's
/// signalModifiedKey); otherwise the value changes silently, as Redis's
/// in-place edits that are not writes (a conversion PFDEBUG asked for).
fn store(ctx: &mut Ctx<'_>, key: &Bytes, v: Vec<u8>, signal: bool) {
    let db = ctx.db();
    match ctx.st.entry_mut(db, key) {
        Some(e) if !signal => {
            e.value = Value::Str(Bytes::from(v));
            e.enc = EncodingHint::Raw;
            ctx.st.remeasure(db, key);
        }
        _ => overwrite_string(ctx, key, Bytes::from(v), EncodingHint::Raw),
    }
}

/// Redis unshares the string it is about to edit, which makes it raw even
/// when nothing else changes.
fn mark_raw(ctx: &mut Ctx<'_>, key: &[u8]) {
    let db = ctx.db();
    ctx.st.set_encoding(db, key, EncodingHint::Raw);
}

fn max_sparse(ctx: &Ctx<'_>) -> usize {
    config_usize(ctx.st, "hll-sparse-max-bytes", 3000)
}

fn pfadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let key = &args[1];
    let limit = max_sparse(ctx);
    let (mut v, mut updated) = match tri!(lookup_hll(ctx, key, false)) {
        None => (hll::new_sparse(), true),
        Some(v) => (v, false),
    };
    for element in &args[2..] {
        match hll::add(&mut v, element, limit) {
            Ok(changed) => updated |= changed,
            Err(_) => {
                // Redis edits in place: what was added before stays.
                store(ctx, key, v, false);
                return invalid();
            }
        }
    }
    if !updated {
        mark_raw(ctx, key);
        return Reply::Int(0);
    }
    hll::invalidate_cache(&mut v);
    store(ctx, key, v, true);
    let db = ctx.db();
    ctx.st.notify(db, '$', "pfadd", key);
    Reply::Int(1)
}

fn pfcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if args.len() > 2 {
        let mut max = vec![0u8; hll::REGISTERS];
        for key in &args[1..] {
            let Some(v) = tri!(lookup_hll(ctx, key, true)) else { continue };
            if hll::merge_into(&mut max, &v).is_err() {
                return invalid();
            }
        }
        return Reply::Int(hll::estimate(&max) as i64);
    }
    let key = &args[1];
    let Some(mut v) = tri!(lookup_hll(ctx, key, true)) else {
        return Reply::Int(0);
    };
    if let Some(card) = hll::cached(&v) {
        mark_raw(ctx, key);
        return Reply::Int(card as i64);
    }
    let regs = match hll::registers(&v) {
        Ok(r) => r,
        Err(_) => return invalid(),
    };
    let card = hll::estimate(&regs);
    hll::set_cached(&mut v, card);
    store(ctx, key, v, true);
    Reply::Int(card as i64)
}

fn pfmerge(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut max = vec![0u8; hll::REGISTERS];
    let mut use_dense = false;
    for key in &args[1..] {
        let Some(v) = tri!(lookup_hll(ctx, key, true)) else { continue };
        use_dense |= hll::dense(&v);
        if hll::merge_into(&mut max, &v).is_err() {
            return invalid();
        }
    }
    let dest = &args[1];
    let mut v = match tri!(lookup_hll(ctx, dest, false)) {
        None => hll::new_sparse(),
        Some(v) => v,
    };
    if use_dense && hll::to_dense(&mut v).is_err() {
        return invalid();
    }
    let limit = max_sparse(ctx);
    for (i, &m) in max.iter().enumerate() {
        // As Redis, a register that cannot be set in a corrupt value is skipped.
        if m != 0 && hll::set_register(&mut v, i, m, limit).is_err() {
            continue;
        }
    }
    hll::invalidate_cache(&mut v);
    store(ctx, dest, v, true);
    let db = ctx.db();
    ctx.st.notify(db, '$', "pfadd", dest);
    Reply::ok()
}

fn pfdebug(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (sub, key) = (&args[1], &args[2]);
    let Some(mut v) = tri!(lookup_hll(ctx, key, false)) else {
        return Reply::error("ERR The specified key does not exist");
    };
    mark_raw(ctx, key);
    if eq_ic(sub, "getreg") {
        let converted = match hll::to_dense(&mut v) {
            Ok(c) => c,
            Err(_) => return invalid(),
        };
        let regs = hll::registers(&v);
        if converted {
            store(ctx, key, v, false);
        }
        match regs {
            Ok(r) => Reply::Array(r.into_iter().map(|x| Reply::Int(i64::from(x))).collect()),
            Err(_) => invalid(),
        }
    } else if eq_ic(sub, "decode") {
        if hll::dense(&v) {
            return Reply::error("ERR HLL encoding is not sparse");
        }
        Reply::Bulk(Bytes::from(hll::decode(&v)))
    } else if eq_ic(sub, "encoding") {
        Reply::status(if hll::dense(&v) { "dense" } else { "sparse" })
    } else if eq_ic(sub, "todense") {
        if hll::dense(&v) {
            return Reply::Int(0);
        }
        if hll::to_dense(&mut v).is_err() {
            return invalid();
        }
        store(ctx, key, v, false);
        Reply::Int(1)
    } else {
        let mut msg = b"ERR Unknown PFDEBUG subcommand '".to_vec();
        msg.extend_from_slice(crate::num::c_str(sub));
        msg.push(b'\'');
        Reply::Error(Bytes::from(msg))
    }
}

fn pfselftest(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    match hll::self_test() {
        Ok(()) => Reply::ok(),
        Err(e) => Reply::Error(Bytes::from(e)),
    }
}
