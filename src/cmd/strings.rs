//! String commands: GET, SET.

use bytes::Bytes;

use super::util::{eq_ic, int_arg, syntax_error, tri, wrongtype};
use super::{cmd, CommandSpec, Ctx};
use crate::protocol::Reply;
use crate::store::{Entry, Value};

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd("get", 2, &["readonly", "fast"], (1, 1, 1), &["read", "string", "fast"], get),
    cmd("set", -3, &["write", "denyoom"], (1, 1, 1), &["write", "string", "slow"], set),
];

/// Reads a string value: Ok(None) if missing, Err(WRONGTYPE) if not a string.
pub(crate) fn read_string(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Bytes>, Reply> {
    let db = ctx.db();
    match ctx.st.lookup_read(db, key, ctx.now) {
        None => Ok(None),
        Some(Entry { value: Value::Str(s), .. }) => Ok(Some(s.clone())),
        Some(_) => Err(wrongtype()),
    }
}

fn get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    Reply::from(tri!(read_string(ctx, &args[1])))
}

/// The expiry option of SET/GETEX.
enum Expiry {
    None,
    At(u64),
    Keep,
}

fn set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (key, val) = (&args[1], &args[2]);
    let (mut nx, mut xx, mut get_old) = (false, false, false);
    let mut expiry = Expiry::None;
    let mut i = 3;
    while i < args.len() {
        let a = &args[i];
        let has_next = i + 1 < args.len();
        if eq_ic(a, "nx") && !xx {
            nx = true;
        } else if eq_ic(a, "xx") && !nx {
            xx = true;
        } else if eq_ic(a, "get") {
            get_old = true;
        } else if eq_ic(a, "keepttl") && matches!(expiry, Expiry::None) {
            expiry = Expiry::Keep;
        } else if (eq_ic(a, "ex") || eq_ic(a, "px") || eq_ic(a, "exat") || eq_ic(a, "pxat"))
            && matches!(expiry, Expiry::None)
            && has_next
        {
            let n = tri!(int_arg(&args[i + 1]));
            let unit_ms = eq_ic(a, "px") || eq_ic(a, "pxat");
            let absolute = eq_ic(a, "exat") || eq_ic(a, "pxat");
            if n <= 0 || (!unit_ms && n > i64::MAX / 1000) {
                return Reply::error("ERR invalid expire time in 'set' command");
            }
            let ms = if unit_ms { n } else { n * 1000 };
            let at = if absolute { ms } else { ms.saturating_add(ctx.now as i64) };
            expiry = Expiry::At(at.max(0) as u64);
            i += 1;
        } else {
            return syntax_error();
        }
        i += 1;
    }
    let db = ctx.db();
    let old = match ctx.st.lookup(db, key, ctx.now) {
        Some(Entry { value: Value::Str(s), expire_at, .. }) => Some((Some(s.clone()), *expire_at)),
        Some(Entry { expire_at, .. }) => {
            if get_old {
                return wrongtype();
            }
            Some((None, *expire_at))
        }
        None => None,
    };
    let old_value = old.as_ref().and_then(|(v, _)| v.clone());
    if (nx && old.is_some()) || (xx && old.is_none()) {
        return if get_old { Reply::from(old_value) } else { Reply::Nil };
    }
    let keep = match expiry {
        Expiry::Keep => old.and_then(|(_, e)| e),
        _ => None,
    };
    ctx.st.set_value(db, key.clone(), Value::Str(val.clone()), ctx.now);
    let at = match expiry {
        Expiry::At(at) => Some(at),
        Expiry::Keep => keep,
        Expiry::None => None,
    };
    if at.is_some() {
        ctx.st.dbs[db].set_expire(key, at);
    }
    ctx.st.notify(db, '$', "set", key.clone());
    if matches!(expiry, Expiry::At(_)) {
        ctx.st.notify(db, 'g', "expire", key.clone());
    }
    // A key set with an expiry already in the past is deleted at once (Redis does the same).
    ctx.st.expire_if_needed(db, key, ctx.now);
    if get_old {
        Reply::from(old_value)
    } else {
        Reply::ok()
    }
}
