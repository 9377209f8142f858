//! Shared argument parsing and Redis's standard error replies.

use std::time::Duration;

use bytes::Bytes;

use crate::cmd::Ctx;
pub(crate) use crate::engine::errors::{
    not_float, not_integer, syntax_error, unknown_subcommand, wrong_arity, wrongtype,
};
use crate::protocol::Reply;
use crate::store::Value;

/// Integers as Redis's `string2ll` reads them (the bottom layer's reader).
pub(crate) use crate::num::parse_i64;

/// Parses an integer argument or returns Redis's "not an integer" error.
pub(crate) fn int_arg(b: &[u8]) -> Result<i64, Reply> {
    parse_i64(b).ok_or_else(not_integer)
}

/// Redis's `getRangeLongFromObjectOrReply` with one message (`msg`) for
/// both a non-integer and a value outside `min..=max`.
pub(crate) fn range_long(b: &[u8], min: i64, max: i64, msg: &'static str) -> Result<i64, Reply> {
    match parse_i64(b) {
        Some(v) if v >= min && v <= max => Ok(v),
        _ => Err(Reply::error(msg)),
    }
}

/// Redis's `getIntFromObjectOrReply` without a message, then `selectDb`:
/// a database index as SELECT, MOVE and COPY ... DB read it.
pub(crate) fn db_index(b: &[u8], databases: usize) -> Result<usize, Reply> {
    let n = int_arg(b)?;
    let Ok(n) = i32::try_from(n) else {
        return Err(Reply::error("ERR value is out of range, value must between -2147483648 and 2147483647"));
    };
    if n < 0 || n as usize >= databases {
        return Err(Reply::error("ERR DB index is out of range"));
    }
    Ok(n as usize)
}

/// [`range_long`] for counts that must be at least `min` (0 or 1).
pub(crate) fn count_arg(b: &[u8], min: i64, msg: &'static str) -> Result<u64, Reply> {
    range_long(b, min, i64::MAX, msg).map(|v| v as u64)
}

/// Parsed `numkeys key... WHERE [COUNT n]` of LMPOP/ZMPOP and their blocking forms.
pub(crate) struct Mpop {
    /// Where the keys are in the arguments.
    pub keys: std::ops::Range<usize>,
    /// Whether WHERE is the first of the two ends (LEFT, MIN).
    pub first_end: bool,
    /// At least 1.
    pub count: u64,
}

/// Parses `numkeys key... WHERE [COUNT n]` from `args[numkeys_idx]` on,
/// WHERE being one of `ends` (`["left", "right"]`, `["min", "max"]`).
pub(crate) fn parse_mpop(args: &[Bytes], numkeys_idx: usize, ends: [&str; 2]) -> Result<Mpop, Reply> {
    let numkeys = count_arg(&args[numkeys_idx], 1, "ERR numkeys should be greater than 0")?;
    let where_idx = match numkeys.checked_add(numkeys_idx as u64 + 1) {
        Some(w) if w < args.len() as u64 => w as usize,
        _ => return Err(syntax_error()),
    };
    let first_end = if eq_ic(&args[where_idx], ends[0]) {
        true
    } else if eq_ic(&args[where_idx], ends[1]) {
        false
    } else {
        return Err(syntax_error());
    };
    let mut count = None;
    let mut j = where_idx + 1;
    while j < args.len() {
        if count.is_none() && eq_ic(&args[j], "count") && j + 1 < args.len() {
            count = Some(count_arg(&args[j + 1], 1, "ERR count should be greater than 0")?);
            j += 2;
        } else {
            return Err(syntax_error());
        }
    }
    Ok(Mpop { keys: numkeys_idx + 1..where_idx, first_end, count: count.unwrap_or(1) })
}

/// Deletes `key` if it holds an aggregate that became empty, with the
/// `del` event (Redis deletes empty aggregates); returns whether it did.
pub(crate) fn drop_if_empty(ctx: &mut Ctx<'_>, key: &Bytes) -> bool {
    let db = ctx.db();
    let emptied = ctx.st.remove_if_empty(db, key);
    if emptied {
        ctx.st.notify(db, 'g', "del", key);
    }
    emptied
}

/// Writes the result of a *STORE command (SINTERSTORE, ZUNIONSTORE,
/// ZRANGESTORE, ...): a non-empty `value` (of `len` elements) replaces
/// whatever `dst` held, an empty one deletes `dst`; replies with `len`.
/// `set_value` signals WATCH and, for a sorted set, blocked clients.
pub(crate) fn store_result(
    ctx: &mut Ctx<'_>,
    dst: &Bytes,
    value: Value,
    len: usize,
    class: char,
    event: &'static str,
) -> Reply {
    let db = ctx.db();
    if len == 0 {
        if ctx.st.delete(db, dst, ctx.now) {
            ctx.st.notify(db, 'g', "del", dst);
        }
        return Reply::Int(0);
    }
    ctx.st.set_value(db, dst, value, ctx.now);
    ctx.st.notify(db, class, event, dst);
    Reply::Int(len as i64)
}

/// Case-insensitive comparison of an argument with an option name.
pub(crate) fn eq_ic(arg: &[u8], name: &str) -> bool {
    arg.eq_ignore_ascii_case(name.as_bytes())
}

/// Unwraps a `Result<T, Reply>` inside a handler, returning the error reply.
macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(r) => return r,
        }
    };
}
pub(crate) use tri;

/// Parses a blocking command's timeout in seconds (`getTimeoutFromObjectOrReply`):
/// a long double times 1000, rounded up to whole milliseconds (`ceill`) and
/// cast as x86 does (an overflow becomes a negative number, so
/// 9223372036854775.808 seconds is "negative" in redis-server 7.0 while
/// .807 blocks). `None` means block forever.
pub(crate) fn parse_timeout(b: &[u8]) -> Result<Option<Duration>, Reply> {
    let Some(secs) = crate::num::longdouble::parse(b) else {
        return Err(Reply::error("ERR timeout is not a float or out of range"));
    };
    let ms = secs.mul_u64(1000);
    let tval = ms.ceil_i64().unwrap_or(i64::MIN);
    if tval < 0 {
        return Err(Reply::error("ERR timeout is negative"));
    }
    if tval == 0 {
        return Ok(None);
    }
    // Cap the far future so deadline arithmetic cannot overflow.
    const CAP_MS: i64 = 100 * 365 * 24 * 3600 * 1000;
    Ok(Some(Duration::from_millis(tval.min(CAP_MS) as u64)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string2ll_rules() {
        assert_eq!(parse_i64(b"123"), Some(123));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b"01"), None);
        assert_eq!(parse_i64(b" 1"), None);
        assert_eq!(parse_i64(b"-0"), None);
        assert_eq!(parse_i64(b""), None);
    }

    #[test]
    fn unknown_command_text() {
        let r = crate::engine::errors::unknown_command(&[Bytes::from("foo"), Bytes::from("a"), Bytes::from("b\r\nc")]);
        assert_eq!(r, Reply::error("ERR unknown command 'foo', with args beginning with: 'a' 'b  c' "));
    }
}
