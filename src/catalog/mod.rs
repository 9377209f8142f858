//! Facts about Redis 7.0.15's commands, as captured from a real server in
//! `fixtures/commands/` (COMMAND INFO and COMMAND DOCS in RESP3): which
//! commands and subcommands exist, their ACL categories, and where their
//! keys are with the access each needs (key specs).
//!
//! Used by COMMAND, the ACL model, the fault rules' command targets and the
//! unknown-command log. It sits just above `protocol/` and imports nothing
//! else of the crate.

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;

use crate::num::parse_i64;
use crate::protocol::Reply;

/// The fake's admin command (`--admin`), as ACL rules name it.
pub(crate) const HARNESS: &str = "harness";
/// HARNESS's ACL categories: `+@all` and `+@admin` grant it, `+@read` does not.
pub(crate) const HARNESS_CATEGORIES: &[&str] = &["admin", "slow", "dangerous"];

/// Redis 7.0's ACL categories, in ACL CAT's order.
pub(crate) const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

const INFO_RESP3: &[u8] = include_bytes!("../../fixtures/commands/info.resp3");
const DOCS_RESP3: &[u8] = include_bytes!("../../fixtures/commands/docs.resp3");

/// Redis's metadata, by full command name (`get`, `config|get`).
pub(crate) struct Meta {
    pub(crate) info: HashMap<String, Reply>,
    pub(crate) docs: HashMap<String, Reply>,
}

pub(crate) fn meta() -> &'static Meta {
    static META: OnceLock<Meta> = OnceLock::new();
    META.get_or_init(|| {
        let mut info = HashMap::new();
        if let Some((Reply::Array(items), _)) = parse_resp3(INFO_RESP3) {
            for item in items {
                if let Reply::Array(fields) = &item {
                    if let Some(Reply::Bulk(name)) = fields.first() {
                        info.insert(String::from_utf8_lossy(name).into_owned(), item.clone());
                    }
                }
            }
        }
        let mut docs = HashMap::new();
        if let Some((Reply::Map(pairs), _)) = parse_resp3(DOCS_RESP3) {
            for (k, v) in pairs {
                if let Reply::Bulk(name) = k {
                    docs.insert(String::from_utf8_lossy(&name).into_owned(), v);
                }
            }
        }
        Meta { info, docs }
    })
}

/// Parses one RESP3 value (the subset Redis uses in COMMAND replies).
fn parse_resp3(b: &[u8]) -> Option<(Reply, usize)> {
    let end = b.windows(2).position(|w| w == b"\r\n")?;
    let head = std::str::from_utf8(&b[1..end]).ok()?;
    let mut pos = end + 2;
    let many = |n: usize, b: &[u8], pos: &mut usize| -> Option<Vec<Reply>> {
        let mut v = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            let (r, used) = parse_resp3(&b[*pos..])?;
            *pos += used;
            v.push(r);
        }
        Some(v)
    };
    let r = match b.first()? {
        b'+' => Reply::Status(Bytes::copy_from_slice(head.as_bytes())),
        b'-' => Reply::Error(Bytes::copy_from_slice(head.as_bytes())),
        b':' => Reply::Int(head.parse().ok()?),
        b'_' => Reply::Nil,
        b'#' => Reply::Bool(head == "t"),
        b',' => Reply::Double(head.parse().ok()?),
        b'$' => {
            let n: usize = head.parse().ok()?;
            let data = b.get(pos..pos + n)?;
            pos += n + 2;
            Reply::Bulk(Bytes::copy_from_slice(data))
        }
        b'*' => Reply::Array(many(head.parse().ok()?, b, &mut pos)?),
        b'~' => Reply::Set(many(head.parse().ok()?, b, &mut pos)?),
        b'%' => {
            let n: usize = head.parse().ok()?;
            let flat = many(2 * n, b, &mut pos)?;
            let mut it = flat.into_iter();
            let mut pairs = Vec::with_capacity(n.min(1024));
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((k, v));
            }
            Reply::Map(pairs)
        }
        _ => return None,
    };
    Some((r, pos))
}

/// Elements of an array or a set (Redis sends key specs and subcommands as sets in RESP3).
pub(crate) fn items(r: Option<&Reply>) -> Option<&Vec<Reply>> {
    match r {
        Some(Reply::Array(v)) | Some(Reply::Set(v)) => Some(v),
        _ => None,
    }
}

pub(crate) fn name_of(r: &Reply) -> Option<String> {
    match r {
        Reply::Bulk(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

pub(crate) fn cats_of(fields: &[Reply]) -> Vec<String> {
    items(fields.get(6))
        .map(|cats| {
            cats.iter()
                .filter_map(|c| match c {
                    Reply::Status(s) => Some(String::from_utf8_lossy(s).trim_start_matches('@').to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A Redis command, its subcommands and their categories: (full name, categories).
pub(crate) type RedisCommand = (String, Vec<(String, Vec<String>)>, Vec<String>);

/// Whether Redis 7.0 has a command or subcommand of this full name
/// (`xadd`, `client|tracking`; any case).
pub(crate) fn is_redis_command(name: &str) -> bool {
    meta().info.contains_key(name.to_ascii_lowercase().as_str())
}

/// Every top-level Redis 7.0 command with its subcommands and ACL categories
/// (the universe ACL rules are written against).
pub(crate) fn redis_commands() -> Vec<RedisCommand> {
    let mut out = Vec::new();
    for (name, entry) in &meta().info {
        if name.contains('|') {
            continue;
        }
        let Reply::Array(fields) = entry else { continue };
        let mut subs = Vec::new();
        for s in items(fields.get(9)).into_iter().flatten() {
            if let Reply::Array(f) = s {
                if let Some(n) = f.first().and_then(name_of) {
                    subs.push((n, cats_of(f)));
                }
            }
        }
        out.push((name.clone(), subs, cats_of(fields)));
    }
    out
}

/// The ACL categories (without `@`) of a command or subcommand spec.
pub(crate) fn categories(name: &str, fallback: &[&str]) -> Vec<String> {
    if let Some(Reply::Array(fields)) = meta().info.get(name) {
        return cats_of(fields);
    }
    fallback.iter().map(|s| s.to_string()).collect()
}

pub(crate) fn map_get<'a>(m: &'a Reply, key: &str) -> Option<&'a Reply> {
    match m {
        Reply::Map(pairs) => pairs.iter().find(|(k, _)| name_of(k).as_deref() == Some(key)).map(|(_, v)| v),
        _ => None,
    }
}

pub(crate) fn int_of(r: Option<&Reply>) -> i64 {
    match r {
        Some(Reply::Int(n)) => *n,
        _ => 0,
    }
}

/// Why key extraction failed, in COMMAND GETKEYS's words.
pub(crate) enum KeysError {
    NoKeyArguments,
    InvalidArguments,
}

/// Key positions and each key's spec flags, following the command's key specs.
pub(crate) fn keys_with_flags(full_name: &str, args: &[Bytes]) -> Result<Vec<(usize, Reply)>, KeysError> {
    if full_name == "sort" {
        // SORT's STORE key spec is "unknown" (incomplete): Redis falls back to its key proc.
        return Ok(sort_keys(args));
    }
    let Some(Reply::Array(fields)) = meta().info.get(full_name) else {
        return Err(KeysError::NoKeyArguments);
    };
    let Some(specs) = items(fields.get(8)) else { return Err(KeysError::NoKeyArguments) };
    if specs.is_empty() {
        return Err(KeysError::NoKeyArguments);
    }
    let argc = args.len() as i64;
    let mut out = Vec::new();
    for ks in specs {
        let flags = map_get(ks, "flags").cloned().unwrap_or(Reply::Set(vec![]));
        let (Some(bs), Some(fk)) = (map_get(ks, "begin_search"), map_get(ks, "find_keys")) else { continue };
        let bs_type = map_get(bs, "type").and_then(name_of).unwrap_or_default();
        let bs_spec = map_get(bs, "spec");
        let first = match bs_type.as_str() {
            "index" => int_of(bs_spec.and_then(|s| map_get(s, "index"))),
            "keyword" => {
                let kw = bs_spec.and_then(|s| map_get(s, "keyword")).and_then(name_of).unwrap_or_default();
                let from = int_of(bs_spec.and_then(|s| map_get(s, "startfrom")));
                let found = if from >= 0 {
                    (from..argc).find(|&i| eq_ic(&args[i as usize], &kw))
                } else {
                    let start = argc + from;
                    (1..=start.max(0)).rev().find(|&i| i < argc && eq_ic(&args[i as usize], &kw))
                };
                match found {
                    Some(i) => i + 1,
                    None => continue,
                }
            }
            _ => continue,
        };
        let fk_type = map_get(fk, "type").and_then(name_of).unwrap_or_default();
        let fk_spec = map_get(fk, "spec");
        let field = |k: &str| int_of(fk_spec.and_then(|s| map_get(s, k)));
        let (first, last, step) = match fk_type.as_str() {
            "range" => {
                let (lastkey, step, limit) = (field("lastkey"), field("keystep").max(1), field("limit"));
                let last = if lastkey >= 0 {
                    first + lastkey
                } else if limit <= 1 {
                    argc + lastkey
                } else {
                    first + ((argc - first) / limit + lastkey)
                };
                (first, last, step)
            }
            "keynum" => {
                let idx = first + field("keynumidx");
                if idx >= argc {
                    return Err(KeysError::InvalidArguments);
                }
                let Some(n) = parse_i64(&args[idx as usize]) else { return Err(KeysError::InvalidArguments) };
                if n < 0 {
                    return Err(KeysError::InvalidArguments);
                }
                let step = field("keystep").max(1);
                let first = first + field("firstkey");
                (first, first + (n - 1) * step, step)
            }
            _ => continue,
        };
        if last >= argc || (last < first && fk_type != "keynum") {
            if last >= argc {
                return Err(KeysError::InvalidArguments);
            }
            continue;
        }
        let mut i = first;
        while i <= last {
            out.push((i as usize, flags.clone()));
            i += step;
        }
    }
    Ok(out)
}

/// SORT's keys as Redis's `sortGetKeys` finds them: the sorted key (RO,
/// access), and the argument after the last `STORE` (OW, update). Like
/// Redis, it skips the arguments of LIMIT, GET and BY, and after a STORE
/// goes on from the argument right after it (`STORE STORE d` stores to `d`).
fn sort_keys(args: &[Bytes]) -> Vec<(usize, Reply)> {
    let status = |s: &'static str| Reply::Status(Bytes::from_static(s.as_bytes()));
    let mut keys = vec![(1, Reply::Set(vec![status("RO"), status("access")]))];
    let mut store = None;
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if eq_ic(a, "limit") {
            i += 2;
        } else if eq_ic(a, "get") || eq_ic(a, "by") {
            i += 1;
        } else if eq_ic(a, "store") && i + 1 < args.len() {
            store = Some(i + 1);
        }
        i += 1;
    }
    if let Some(pos) = store {
        keys.push((pos, Reply::Set(vec![status("OW"), status("update")])));
    }
    keys
}

/// What a key argument needs from an ACL key pattern: read and/or write
/// permission, from its key spec's flags as Redis's `ACLSelectorCheckKey`
/// reads them (ACCESS needs read; INSERT, DELETE and UPDATE need write; a
/// key spec with none of them, like EXISTS's, needs only a matching pattern).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyAccess {
    /// Position of the key in the arguments.
    pub pos: usize,
    /// The command may return or otherwise reveal the key's value.
    pub read: bool,
    /// The command may change the key.
    pub write: bool,
}

/// The keys `args` names for `spec` with the access each needs, leaving out
/// key specs flagged `not_key` (Redis's ACL skips them too) (empty when
/// the command has no keys or its arguments are invalid, as in Redis: the
/// command itself then replies with its syntax or arity error).
pub(crate) fn key_access(name: &str, args: &[Bytes]) -> Vec<KeyAccess> {
    let Ok(mut keys) = keys_with_flags(name, args) else { return Vec::new() };
    resolve_variable_flags(name, args, &mut keys);
    keys.into_iter()
        .filter_map(|(pos, flags)| {
            let has = |f: &str| items(Some(&flags)).is_some_and(|v| v.iter().any(|x| name_or_status(x) == Some(f)));
            // The shard channel of SPUBLISH/SSUBSCRIBE is a key spec flagged
            // not_key: channel rules govern it, key patterns do not.
            (!has("not_key")).then(|| KeyAccess {
                pos,
                read: has("access"),
                write: has("insert") || has("delete") || has("update"),
            })
        })
        .collect()
}

/// The text of a bulk or status reply.
pub(crate) fn name_or_status(r: &Reply) -> Option<&str> {
    match r {
        Reply::Bulk(b) | Reply::Status(b) => std::str::from_utf8(b).ok(),
        _ => None,
    }
}

/// Key specs flagged `variable_flags` get their real flags from the
/// arguments, as Redis's per-command key procs do (SET: `GET` makes it a read too).
pub(crate) fn resolve_variable_flags(name: &str, args: &[Bytes], keys: &mut [(usize, Reply)]) {
    let status = |s: &'static str| Reply::Status(Bytes::from_static(s.as_bytes()));
    for (_, flags) in keys.iter_mut() {
        let variable = matches!(flags, Reply::Set(f) if f.contains(&status("variable_flags")));
        if !variable {
            continue;
        }
        if name == "set" {
            let get = args.iter().skip(3).any(|a| eq_ic(a, "get"));
            *flags = Reply::Set(if get {
                vec![status("RW"), status("access"), status("update")]
            } else {
                vec![status("OW"), status("update")]
            });
        }
    }
}

/// ASCII case-insensitive comparison of an argument with a keyword.
fn eq_ic(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}
