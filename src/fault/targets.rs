//! What a rule's command filter can name: an exact command, an ACL category
//! (`@write`), a glob over command names (`SET*`), or a command family
//! (`SET` with its variants SETEX, PSETEX, SETNX, GETSET, MSET, MSETNX).
//!
//! Categories are Redis 7.0.15's own (`COMMAND INFO`'s ACL categories, from
//! `fixtures/commands/info.resp3`), so they mean the same in front of a real
//! Redis (the proxy) as in the fake; a container command is judged by its
//! subcommand's categories (`CLIENT KILL` is `@dangerous`, `CLIENT ID` is not).

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use bytes::Bytes;

use crate::catalog::CATEGORIES;
use crate::store::glob::glob_match;

/// Command families for [`FaultRule::on_family`](super::FaultRule::on_family)
/// and the rule text's `family=`: a command and the variants client libraries
/// send for the same operation (redis-rs's `set_ex` sends SETEX, `mset`
/// MSET). A name not listed here is a family of one.
pub const FAMILIES: &[(&str, &[&str])] = &[
    ("SET", &["SET", "SETEX", "PSETEX", "SETNX", "GETSET", "MSET", "MSETNX"]),
    ("GET", &["GET", "MGET", "GETEX", "GETDEL", "GETSET"]),
    ("DEL", &["DEL", "UNLINK", "GETDEL"]),
    ("INCR", &["INCR", "INCRBY", "INCRBYFLOAT", "DECR", "DECRBY"]),
    ("EXPIRE", &["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"]),
    ("TTL", &["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"]),
    ("HSET", &["HSET", "HMSET", "HSETNX"]),
    ("HGET", &["HGET", "HMGET"]),
    ("HINCRBY", &["HINCRBY", "HINCRBYFLOAT"]),
    ("LPUSH", &["LPUSH", "LPUSHX"]),
    ("RPUSH", &["RPUSH", "RPUSHX"]),
    ("LPOP", &["LPOP", "BLPOP", "LMPOP", "BLMPOP"]),
    ("RPOP", &["RPOP", "BRPOP", "LMPOP", "BLMPOP"]),
    ("LMOVE", &["LMOVE", "BLMOVE", "RPOPLPUSH", "BRPOPLPUSH"]),
    ("ZADD", &["ZADD", "ZINCRBY"]),
    ("ZPOPMIN", &["ZPOPMIN", "BZPOPMIN", "ZMPOP", "BZMPOP"]),
    ("ZPOPMAX", &["ZPOPMAX", "BZPOPMAX", "ZMPOP", "BZMPOP"]),
    (
        "ZRANGE",
        &["ZRANGE", "ZRANGEBYSCORE", "ZRANGEBYLEX", "ZREVRANGE", "ZREVRANGEBYSCORE", "ZREVRANGEBYLEX", "ZRANGESTORE"],
    ),
    ("SUBSCRIBE", &["SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE"]),
    ("PUBLISH", &["PUBLISH", "SPUBLISH"]),
    ("EVAL", &["EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO"]),
];

/// The members of `base`'s family (upper case), `base` itself if it has no listed variants.
pub(crate) fn family_members(base: &str) -> Vec<String> {
    FAMILIES
        .iter()
        .find(|(b, _)| b.eq_ignore_ascii_case(base))
        .map(|(_, m)| m.iter().map(|s| s.to_string()).collect())
        .unwrap_or_else(|| vec![base.to_ascii_uppercase()])
}

/// One entry of a rule's command filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CommandTarget {
    /// Exactly this command (upper case).
    Name(String),
    /// Any command in this ACL category (lower case, without `@`), as a bit of [`CATEGORIES`].
    Category(String, u32),
    /// Command names matching this Redis glob (upper case), `SET*`.
    Glob(String),
    /// This family's base name (upper case) and its members.
    Family(String, Vec<String>),
}

/// Whether a word of a command filter is a glob rather than a name.
fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// The bit of ACL category `cat` (without `@`, any case), if Redis has it.
pub(crate) fn category_bit(cat: &str) -> Option<u32> {
    CATEGORIES.iter().position(|c| c.eq_ignore_ascii_case(cat)).map(|i| 1u32 << i)
}

impl CommandTarget {
    /// Reads one word of `cmd=`: `@category`, a glob, or a name.
    pub(crate) fn parse(word: &str) -> Result<CommandTarget, String> {
        if let Some(cat) = word.strip_prefix('@') {
            return match category_bit(cat) {
                Some(bit) => Ok(CommandTarget::Category(cat.to_ascii_lowercase(), bit)),
                None => Err(format!("`@{cat}` is not a Redis ACL category (one of @{})", CATEGORIES.join(", @"))),
            };
        }
        if word.is_empty() {
            return Err("an empty command name".into());
        }
        let upper = word.to_ascii_uppercase();
        Ok(if is_glob(word) { CommandTarget::Glob(upper) } else { CommandTarget::Name(upper) })
    }

    /// The family of `base`.
    pub(crate) fn family(base: &str) -> CommandTarget {
        CommandTarget::Family(base.to_ascii_uppercase(), family_members(base))
    }

    /// Whether the command `args` (`args[0]` the name as sent) is targeted.
    pub(crate) fn matches(&self, args: &[Bytes]) -> bool {
        let Some(name) = args.first() else { return false };
        match self {
            CommandTarget::Name(n) => n.as_bytes().eq_ignore_ascii_case(name),
            CommandTarget::Glob(p) => glob_match(p.as_bytes(), name, true),
            CommandTarget::Family(_, members) => members.iter().any(|m| m.as_bytes().eq_ignore_ascii_case(name)),
            CommandTarget::Category(_, bit) => categories_of(args) & bit != 0,
        }
    }
}

impl fmt::Display for CommandTarget {
    /// As the rule text writes it (a family shows its base name, under `family=`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandTarget::Name(n) | CommandTarget::Glob(n) | CommandTarget::Family(n, _) => f.write_str(n),
            CommandTarget::Category(c, _) => write!(f, "@{c}"),
        }
    }
}

/// Categories of every command and subcommand, by lower-case full name
/// (`get`, `client|kill`), as bits of [`CATEGORIES`]: Redis 7.0.15's
/// metadata, and HARNESS's.
fn category_table() -> &'static HashMap<String, u32> {
    static TABLE: OnceLock<HashMap<String, u32>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let bits = |cats: &[String]| cats.iter().filter_map(|c| category_bit(c)).fold(0, |a, b| a | b);
        let mut t = HashMap::new();
        // The one command the fake has and Redis lacks.
        let harness: Vec<String> = crate::catalog::HARNESS_CATEGORIES.iter().map(|c| c.to_string()).collect();
        t.insert(crate::catalog::HARNESS.to_string(), bits(&harness));
        for (name, subs, cats) in crate::catalog::redis_commands() {
            t.insert(name.to_ascii_lowercase(), bits(&cats));
            for (sub, cats) in subs {
                t.insert(sub.to_ascii_lowercase(), bits(&cats));
            }
        }
        t
    })
}

/// The category bits of a command as sent: its subcommand's when `args[1]`
/// names one, else the command's; 0 for a command Redis does not know.
pub(crate) fn categories_of(args: &[Bytes]) -> u32 {
    let Some(name) = args.first() else { return 0 };
    let name = String::from_utf8_lossy(name).to_ascii_lowercase();
    let table = category_table();
    if let Some(sub) = args.get(1) {
        let full = format!("{name}|{}", String::from_utf8_lossy(sub).to_ascii_lowercase());
        if let Some(bits) = table.get(&full) {
            return *bits;
        }
    }
    table.get(&name).copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<Bytes> {
        a.iter().map(|s| Bytes::from(s.to_string())).collect()
    }

    #[test]
    fn every_family_member_is_a_redis_command() {
        for (base, members) in FAMILIES {
            assert!(members.contains(base), "family {base} must contain {base}");
            for m in *members {
                assert!(crate::catalog::is_redis_command(m), "family {base}: {m} is not a Redis 7.0 command");
            }
        }
    }

    #[test]
    fn docs_list_every_family() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/faults.md");
        let text = std::fs::read_to_string(&path).unwrap();
        for (base, members) in FAMILIES {
            let row = format!("| `{base}` | {} |", members.join(", "));
            assert!(text.contains(&row), "docs/faults.md lacks the row:\n{row}");
        }
    }

    #[test]
    fn categories_follow_redis_metadata() {
        let write = CommandTarget::parse("@write").unwrap();
        assert!(write.matches(&args(&["setex", "k", "1", "v"])));
        assert!(write.matches(&args(&["HSET", "h", "f", "v"])));
        assert!(!write.matches(&args(&["GET", "k"])));
        // A Redis command the fake lacks still has its categories (the proxy needs them).
        assert!(write.matches(&args(&["XADD", "s", "*", "f", "v"])));
        let blocking = CommandTarget::parse("@blocking").unwrap();
        assert!(blocking.matches(&args(&["BLPOP", "l", "0"])));
        assert!(!blocking.matches(&args(&["LPOP", "l"])));
        // Subcommands: CLIENT KILL is dangerous, CLIENT ID is not.
        let dangerous = CommandTarget::parse("@dangerous").unwrap();
        assert!(dangerous.matches(&args(&["CLIENT", "KILL", "ID", "1"])));
        assert!(!dangerous.matches(&args(&["client", "id"])));
        assert!(!dangerous.matches(&args(&["NOSUCHCOMMAND"])));
        assert!(CommandTarget::parse("@wirte").unwrap_err().contains("not a Redis ACL category"));
    }

    #[test]
    fn globs_and_families() {
        let glob = CommandTarget::parse("set*").unwrap();
        assert_eq!(glob, CommandTarget::Glob("SET*".into()));
        assert!(glob.matches(&args(&["setex"])) && glob.matches(&args(&["SET"])) && !glob.matches(&args(&["PSETEX"])));
        let fam = CommandTarget::family("set");
        for m in ["SET", "setex", "PSETEX", "SETNX", "GETSET", "MSET", "MSETNX"] {
            assert!(fam.matches(&args(&[m])), "{m}");
        }
        assert!(!fam.matches(&args(&["SETRANGE"])) && !fam.matches(&args(&["HSET"])));
        assert_eq!(CommandTarget::family("ping"), CommandTarget::Family("PING".into(), vec!["PING".into()]));
    }
}
