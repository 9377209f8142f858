//! COMMAND: COUNT, INFO, DOCS, LIST, GETKEYS, GETKEYSANDFLAGS, HELP and bare
//! COMMAND, for the commands in the dispatch table.
//!
//! The metadata (flags, key specs, tips, docs) is Redis 7.0.15's own,
//! captured by `fixtures/commands/generate.py` as raw RESP3 replies and
//! parsed here once. RESP3 types carry over to RESP2 by the usual encoding
//! (maps and sets become arrays), which is exactly what Redis does.

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;

use super::server::help_reply;
use super::util::{eq_ic, parse_i64, syntax_error};
use super::{cmd, CommandSpec, Ctx};
use crate::protocol::Reply;
use crate::store::glob::glob_match;

const INFO_RESP3: &[u8] = include_bytes!("../../fixtures/commands/info.resp3");
const DOCS_RESP3: &[u8] = include_bytes!("../../fixtures/commands/docs.resp3");

const FLAGS: &[&str] = &["loading", "stale"];
const ACL: &[&str] = &["slow", "connection"];

const COMMAND_SUBS: &[CommandSpec] = &[
    cmd("command|count", 2, FLAGS, (0, 0, 0), ACL, count),
    cmd("command|docs", -2, FLAGS, (0, 0, 0), ACL, docs),
    cmd("command|getkeys", -4, FLAGS, (0, 0, 0), ACL, getkeys),
    cmd("command|getkeysandflags", -4, FLAGS, (0, 0, 0), ACL, getkeysandflags),
    cmd("command|help", 2, FLAGS, (0, 0, 0), ACL, help),
    cmd("command|info", -2, FLAGS, (0, 0, 0), ACL, info),
    cmd("command|list", -2, FLAGS, (0, 0, 0), ACL, list),
];

pub(crate) const COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "command",
    arity: -1,
    flags: FLAGS,
    keys: (0, 0, 0),
    acl: ACL,
    handler: all_info,
    subcommands: COMMAND_SUBS,
}];

/// Redis's metadata, by full command name (`get`, `config|get`).
struct Meta {
    info: HashMap<String, Reply>,
    docs: HashMap<String, Reply>,
}

fn meta() -> &'static Meta {
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
fn items(r: Option<&Reply>) -> Option<&Vec<Reply>> {
    match r {
        Some(Reply::Array(v)) | Some(Reply::Set(v)) => Some(v),
        _ => None,
    }
}

fn name_of(r: &Reply) -> Option<String> {
    match r {
        Reply::Bulk(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

fn cats_of(fields: &[Reply]) -> Vec<String> {
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
pub(crate) fn categories(spec: &CommandSpec) -> Vec<String> {
    if let Some(Reply::Array(fields)) = meta().info.get(spec.name) {
        return cats_of(fields);
    }
    spec.acl.iter().map(|s| s.to_string()).collect()
}

fn map_get<'a>(m: &'a Reply, key: &str) -> Option<&'a Reply> {
    match m {
        Reply::Map(pairs) => pairs.iter().find(|(k, _)| name_of(k).as_deref() == Some(key)).map(|(_, v)| v),
        _ => None,
    }
}

fn int_of(r: Option<&Reply>) -> i64 {
    match r {
        Some(Reply::Int(n)) => *n,
        _ => 0,
    }
}

/// Why key extraction failed, in COMMAND GETKEYS's words.
enum KeysError {
    NoKeyArguments,
    InvalidArguments,
}

/// Key positions and each key's spec flags, following the command's key specs.
fn keys_with_flags(full_name: &str, args: &[Bytes]) -> Result<Vec<(usize, Reply)>, KeysError> {
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
pub(crate) fn key_access(spec: &CommandSpec, args: &[Bytes]) -> Vec<KeyAccess> {
    let Ok(mut keys) = keys_with_flags(spec.name, args) else { return Vec::new() };
    resolve_variable_flags(spec.name, args, &mut keys);
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
fn name_or_status(r: &Reply) -> Option<&str> {
    match r {
        Reply::Bulk(b) | Reply::Status(b) => std::str::from_utf8(b).ok(),
        _ => None,
    }
}

/// The fake's top-level commands, sorted.
fn fake_commands() -> Vec<&'static CommandSpec> {
    let mut v: Vec<&'static CommandSpec> = super::table().values().copied().collect();
    v.sort_by_key(|c| c.name);
    v
}

/// A COMMAND INFO entry for a fake command: Redis's, with its subcommands
/// limited to the ones the fake has; built from the spec if Redis has none.
fn info_entry(spec: &CommandSpec) -> Reply {
    match meta().info.get(spec.name) {
        Some(Reply::Array(fields)) => {
            let mut fields = fields.clone();
            if let Some(Reply::Array(subs) | Reply::Set(subs)) = fields.get_mut(9) {
                subs.retain(|s| match s {
                    Reply::Array(f) => {
                        f.first().and_then(name_of).is_some_and(|n| spec.subcommands.iter().any(|sc| sc.name == n))
                    }
                    _ => false,
                });
            }
            Reply::Array(fields)
        }
        _ => {
            let status = |s: &str| Reply::Status(Bytes::from(s.to_string()));
            Reply::Array(vec![
                Reply::Bulk(Bytes::from(spec.name.to_string())),
                Reply::Int(spec.arity as i64),
                Reply::Set(spec.flags.iter().map(|f| status(f)).collect()),
                Reply::Int(spec.keys.0 as i64),
                Reply::Int(spec.keys.1 as i64),
                Reply::Int(spec.keys.2 as i64),
                Reply::Set(spec.acl.iter().map(|c| status(&format!("@{c}"))).collect()),
                Reply::Set(vec![]),
                Reply::Array(vec![]),
                Reply::Array(spec.subcommands.iter().map(info_entry).collect()),
            ])
        }
    }
}

fn docs_entry(spec: &CommandSpec) -> Option<Reply> {
    let mut doc = meta().docs.get(spec.name)?.clone();
    if let Reply::Map(pairs) = &mut doc {
        for (k, v) in pairs.iter_mut() {
            if name_of(k).as_deref() == Some("subcommands") {
                if let Reply::Map(subs) = v {
                    subs.retain(|(n, _)| name_of(n).is_some_and(|n| spec.subcommands.iter().any(|sc| sc.name == n)));
                }
            }
        }
    }
    Some(doc)
}

/// Finds a fake command or subcommand by full name (`get`, `config|get`).
fn find(name: &[u8]) -> Option<&'static CommandSpec> {
    let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
    match lower.split_once('|') {
        Some((top, sub)) => {
            let spec = super::lookup(top.as_bytes())?;
            if sub.contains('|') {
                return None;
            }
            spec.subcommands.iter().find(|s| s.name == lower)
        }
        None => super::lookup(lower.as_bytes()),
    }
}

fn all_info(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    Reply::Array(fake_commands().into_iter().map(info_entry).collect())
}

fn count(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    Reply::Int(super::table().len() as i64)
}

fn info(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if args.len() == 2 {
        return all_info(ctx, args);
    }
    Reply::Array(args[2..].iter().map(|n| find(n).map(info_entry).unwrap_or(Reply::Nil)).collect())
}

fn docs(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let specs: Vec<&'static CommandSpec> =
        if args.len() == 2 { fake_commands() } else { args[2..].iter().filter_map(|n| find(n)).collect() };
    Reply::Map(
        specs
            .into_iter()
            .filter_map(|s| docs_entry(s).map(|d| (Reply::Bulk(Bytes::from(s.name.to_string())), d)))
            .collect(),
    )
}

fn list(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    enum Filter {
        All,
        Module,
        AclCat(String),
        Pattern(Bytes),
    }
    let filter = match args.len() {
        2 => Filter::All,
        5 if eq_ic(&args[2], "filterby") => {
            if eq_ic(&args[3], "module") {
                Filter::Module
            } else if eq_ic(&args[3], "aclcat") {
                Filter::AclCat(String::from_utf8_lossy(&args[4]).to_ascii_lowercase())
            } else if eq_ic(&args[3], "pattern") {
                Filter::Pattern(args[4].clone())
            } else {
                return syntax_error();
            }
        }
        _ => return syntax_error(),
    };
    let mut out = Vec::new();
    for spec in fake_commands() {
        for s in std::iter::once(spec).chain(spec.subcommands.iter()) {
            let keep = match &filter {
                Filter::All => true,
                Filter::Module => false,
                Filter::AclCat(c) => categories(s).iter().any(|x| x == c),
                Filter::Pattern(p) => glob_match(p, s.name.as_bytes(), true),
            };
            if keep {
                out.push(Reply::Bulk(Bytes::from(s.name.to_string())));
            }
        }
    }
    Reply::Array(out)
}

/// The command `args[2..]` names, after GETKEYS's checks.
fn target(args: &[Bytes]) -> Result<(&'static CommandSpec, &[Bytes]), Reply> {
    let cmd_args = &args[2..];
    let Some(mut spec) = super::lookup(&cmd_args[0]) else {
        return Err(Reply::error("ERR Invalid command specified"));
    };
    if !spec.subcommands.is_empty() && cmd_args.len() >= 2 {
        match super::lookup_sub(spec, &cmd_args[1]) {
            Some(s) => spec = s,
            None => return Err(Reply::error("ERR Invalid command specified")),
        }
    }
    let argc = cmd_args.len() as i32;
    if (spec.arity > 0 && argc != spec.arity) || argc < -spec.arity {
        return Err(Reply::error("ERR Invalid number of arguments specified for command"));
    }
    Ok((spec, cmd_args))
}

fn getkeys_common(args: &[Bytes], with_flags: bool) -> Reply {
    let (spec, cmd_args) = match target(args) {
        Ok(t) => t,
        Err(e) => return e,
    };
    match keys_with_flags(spec.name, cmd_args) {
        Ok(mut keys) => {
            resolve_variable_flags(spec.name, cmd_args, &mut keys);
            Reply::Array(
                keys.into_iter()
                    .map(|(i, flags)| {
                        let key = Reply::Bulk(cmd_args[i].clone());
                        if with_flags {
                            Reply::Array(vec![key, flags])
                        } else {
                            key
                        }
                    })
                    .collect(),
            )
        }
        Err(KeysError::NoKeyArguments) => Reply::error("ERR The command has no key arguments"),
        Err(KeysError::InvalidArguments) => Reply::error("ERR Invalid arguments specified for command"),
    }
}

/// Key specs flagged `variable_flags` get their real flags from the
/// arguments, as Redis's per-command key procs do (SET: `GET` makes it a read too).
fn resolve_variable_flags(name: &str, args: &[Bytes], keys: &mut [(usize, Reply)]) {
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

fn getkeys(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    getkeys_common(args, false)
}

fn getkeysandflags(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    getkeys_common(args, true)
}

fn help(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    help_reply(&[
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
        "HELP",
        "    Prints this help.",
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_parses() {
        let m = meta();
        assert!(m.info.len() > 300, "{}", m.info.len());
        assert!(m.docs.len() > 200);
        assert!(m.info.contains_key("config|get"));
        let all = redis_commands();
        assert_eq!(all.len(), 240);
        let config = all.iter().find(|c| c.0 == "config").unwrap();
        assert!(config.1.iter().any(|(n, cats)| n == "config|get" && cats.contains(&"admin".to_string())));
    }

    #[test]
    fn key_specs_find_keys() {
        let a = |v: &[&str]| v.iter().map(|s| Bytes::from(s.to_string())).collect::<Vec<_>>();
        let k = |n: &str, v: &[&str]| keys_with_flags(n, &a(v)).ok().map(|x| x.into_iter().map(|p| p.0).collect());
        assert_eq!(k("get", &["get", "a"]), Some(vec![1]));
        assert_eq!(k("mset", &["mset", "a", "1", "b", "2"]), Some(vec![1, 3]));
        assert_eq!(k("zunionstore", &["zunionstore", "d", "2", "a", "b"]), Some(vec![1, 3, 4]));
        assert_eq!(k("eval", &["eval", "s", "0"]), Some(vec![]));
        assert!(k("zunionstore", &["zunionstore", "d", "2", "a"]).is_none());
        assert_eq!(k("sort", &["sort", "k", "by", "store", "store", "d", "limit", "0", "1"]), Some(vec![1, 5]));
        assert_eq!(k("sort", &["sort", "k", "store", "store", "d"]), Some(vec![1, 4]));
        assert_eq!(k("sort", &["sort", "k", "get", "store", "store"]), Some(vec![1]));
        assert_eq!(k("sort_ro", &["sort_ro", "k", "store", "d"]), Some(vec![1]));
    }
}
