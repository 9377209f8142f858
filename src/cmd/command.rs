//! COMMAND: COUNT, INFO, DOCS, LIST, GETKEYS, GETKEYSANDFLAGS, HELP and bare
//! COMMAND, for the commands in the dispatch table.
//!
//! The metadata (flags, key specs, tips, docs) is Redis 7.0.15's own,
//! captured by `fixtures/commands/generate.py` as raw RESP3 replies and
//! parsed here once. RESP3 types carry over to RESP2 by the usual encoding
//! (maps and sets become arrays), which is exactly what Redis does.

use bytes::Bytes;

use super::server::help_reply;
use super::util::{eq_ic, syntax_error};
use super::{cmd, CommandSpec, Ctx};
use crate::catalog::{keys_with_flags, meta, name_of, resolve_variable_flags, KeysError};
use crate::protocol::Reply;
use crate::store::glob::glob_match;

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

/// The fake's top-level commands, sorted.
fn fake_commands() -> Vec<&'static CommandSpec> {
    let mut v: Vec<&'static CommandSpec> = super::table().values().collect();
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
    Reply::Int(super::table().values().count() as i64)
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
                Filter::AclCat(c) => crate::catalog::categories(s.name, s.acl).iter().any(|x| x == c),
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
        let all = crate::catalog::redis_commands();
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
