//! What SCAN, HSCAN, SSCAN and ZSCAN share: the options after the cursor,
//! the batch walk in `scan_hash` order and the reply.

use bytes::Bytes;

use super::util::{eq_ic, int_arg, syntax_error};
use crate::num::{c_str, strtoul_cursor};
use crate::protocol::Reply;
use crate::store::scan_hash;

/// Options after the cursor: COUNT (>= 1), MATCH and (SCAN only) TYPE.
pub(crate) struct ScanOpts {
    pub count: usize,
    /// `None` for no pattern or `*`.
    pub pattern: Option<Bytes>,
    pub type_filter: Option<Bytes>,
}

impl ScanOpts {
    /// Whether `item` passes the MATCH pattern.
    pub(crate) fn matches(&self, item: &[u8]) -> bool {
        self.pattern.as_ref().is_none_or(|p| crate::store::glob::glob_match(p, item, false))
    }
}

/// Parses `[MATCH pattern] [COUNT n] [TYPE t]` as scanGenericCommand does;
/// TYPE is an option only when `allow_type` (the keyspace SCAN).
pub(crate) fn parse_scan_opts(args: &[Bytes], allow_type: bool) -> Result<ScanOpts, Reply> {
    let mut opts = ScanOpts { count: 10, pattern: None, type_filter: None };
    let mut i = 0;
    while i < args.len() {
        let more = i + 1 < args.len();
        if eq_ic(&args[i], "count") && more {
            let n = int_arg(&args[i + 1])?;
            if n < 1 {
                return Err(syntax_error());
            }
            opts.count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if eq_ic(&args[i], "match") && more {
            let p = &args[i + 1];
            opts.pattern = if &p[..] == b"*" { None } else { Some(p.clone()) };
        } else if allow_type && eq_ic(&args[i], "type") && more {
            opts.type_filter = Some(args[i + 1].clone());
        } else {
            return Err(syntax_error());
        }
        i += 2;
    }
    Ok(opts)
}

/// Picks the next batch of a hash-table scan: indexes (in scan order) of
/// the elements whose `scan_hash` is at least `cursor`, about `count` of
/// them, and the cursor to continue from (0 when done). Elements present
/// for a whole iteration are returned exactly once, whatever changes.
pub(crate) fn scan_batch<'a>(items: impl Iterator<Item = &'a Bytes>, cursor: u64, count: usize) -> (Vec<usize>, u64) {
    let mut cand: Vec<(u64, usize)> =
        items.enumerate().map(|(i, k)| (scan_hash(k), i)).filter(|(h, _)| *h >= cursor).collect();
    if cand.len() <= count {
        cand.sort_unstable();
        return (cand.into_iter().map(|(_, i)| i).collect(), 0);
    }
    cand.select_nth_unstable(count);
    let boundary = cand[count].0;
    let mut batch: Vec<(u64, usize)> = cand.iter().copied().filter(|(h, _)| *h < boundary).collect();
    let next = if batch.is_empty() {
        // Hash collision at the boundary: take the whole colliding group.
        batch = cand.iter().copied().filter(|(h, _)| *h == boundary).collect();
        cand.iter().map(|(h, _)| *h).filter(|h| *h > boundary).min().unwrap_or(0)
    } else {
        boundary
    };
    batch.sort_unstable();
    (batch.into_iter().map(|(_, i)| i).collect(), next)
}

/// The `[cursor, [elements...]]` reply.
pub(crate) fn scan_reply(cursor: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![Reply::Bulk(Bytes::from(cursor.to_string())), Reply::Array(items)])
}

/// Redis's `parseScanCursorOrReply`: the cursor as C's `strtoul` reads it
/// ([`strtoul_cursor`]), or `ERR invalid cursor`.
pub(crate) fn parse_cursor(b: &[u8]) -> Result<u64, Reply> {
    strtoul_cursor(c_str(b)).ok_or_else(|| Reply::error("ERR invalid cursor"))
}
