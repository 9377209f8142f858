//! The ACL model: users, their passwords, command, key and channel
//! permissions, and the check the engine makes before every command
//! ([`check_permissions`]). The ACL command's handlers are in
//! the command layer's `acl` module.
//!
//! The default user follows `requirepass` until ACL SETUSER changes it, as
//! in Redis, where `requirepass` is just the default user's password: after
//! that, setting `requirepass` (CONFIG SET, `FakeRedis::set_password`,
//! `HARNESS SET-PASSWORD`) still resets that user's passwords to exactly the
//! new one (`nopass` when empty).

mod log;

use std::collections::BTreeMap;

use bytes::Bytes;

pub(crate) use log::{log_denial, log_entry, AclLog, LogContext, LogReason};

use super::command::{CommandSpec, Ctx};
use super::config::Config;
use crate::catalog::{KeyAccess, CATEGORIES, HARNESS, HARNESS_CATEGORIES};
use crate::protocol::Reply;
use crate::store::glob::glob_match;

/// One ACL user.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub(crate) enabled: bool,
    pub(crate) nopass: bool,
    /// SHA-256 hex digests, in the order they were added.
    pub(crate) passwords: Vec<String>,
    /// Set by `+@all`: commands Redis does not know (7.2 additions) are allowed too.
    pub(crate) all_commands: bool,
    /// Allowed leaf commands (commands without subcommands, and `container|sub`).
    pub(crate) allowed: std::collections::BTreeSet<String>,
    /// First-argument rules (`+get|x`), as written.
    pub(crate) first_args: Vec<(String, String)>,
    /// Key patterns as printed (`~*`, `~k*`, `%R~r*`).
    pub(crate) keys: Vec<String>,
    /// Channel patterns (`*` for allchannels).
    pub(crate) channels: Vec<String>,
    /// `sanitize-payload` or `skip-sanitize-payload` once set (only shown:
    /// the fake has no RESTORE payloads to sanitize).
    pub(crate) sanitize: Option<&'static str>,
}

impl User {
    pub(crate) fn new() -> User {
        User {
            enabled: false,
            nopass: false,
            passwords: Vec::new(),
            all_commands: false,
            allowed: Default::default(),
            first_args: Vec::new(),
            keys: Vec::new(),
            channels: Vec::new(),
            sanitize: None,
        }
    }

    /// The default user of a server whose `requirepass` is `pw`.
    pub(crate) fn default_for(pw: &str) -> User {
        let mut u = User::new();
        u.enabled = true;
        u.set_all(true);
        u.keys.push("~*".into());
        u.channels.push("*".into());
        u.set_requirepass(pw);
        u
    }

    pub(crate) fn set_requirepass(&mut self, pw: &str) {
        self.passwords.clear();
        if pw.is_empty() {
            self.nopass = true;
        } else {
            self.nopass = false;
            self.passwords.push(sha256_hex(pw.as_bytes()));
        }
    }

    /// The command rules as Redis 7.0 prints them: rebuilt from the
    /// permission bitmap (`+@all`/`-@all`, then the categories that shrink the
    /// difference, then single commands), not the rules as typed.
    pub(crate) fn commands_text(&self) -> String {
        let u = universe();
        let mut parts = vec![String::from(if self.all_commands { "+@all" } else { "-@all" })];
        let mut fake: std::collections::BTreeSet<&str> =
            if self.all_commands { u.leaves.iter().map(String::as_str).collect() } else { Default::default() };
        for cat in CATEGORIES {
            let Some(members) = u.by_category.get(*cat) else { continue };
            let on = members.iter().filter(|m| self.allowed.contains(*m)).count();
            let off = members.len() - on;
            if !self.all_commands && on > off {
                fake.extend(members.iter().map(String::as_str));
                parts.push(format!("+@{cat}"));
            } else if self.all_commands && off > on {
                for m in members {
                    fake.remove(m.as_str());
                }
                parts.push(format!("-@{cat}"));
            }
        }
        for (top, subs) in &u.commands {
            if subs.is_empty() {
                let mine = self.allowed.contains(top);
                if mine != fake.contains(top.as_str()) {
                    parts.push(format!("{}{top}", if mine { '+' } else { '-' }));
                }
                continue;
            }
            let differing: Vec<(&String, bool)> = subs
                .iter()
                .filter_map(|s| {
                    let mine = self.allowed.contains(s);
                    (mine != fake.contains(s.as_str())).then_some((s, mine))
                })
                .collect();
            if differing.len() == subs.len() && differing.iter().all(|d| d.1 == differing[0].1) {
                parts.push(format!("{}{top}", if differing[0].1 { '+' } else { '-' }));
            } else {
                parts.extend(differing.iter().map(|(s, on)| format!("{}{s}", if *on { '+' } else { '-' })));
            }
        }
        parts.extend(self.first_args.iter().map(|(c, a)| format!("+{c}|{a}")));
        parts.join(" ")
    }

    pub(crate) fn describe(&self, name: &str) -> String {
        let mut parts = vec!["user".to_string(), name.to_string(), (if self.enabled { "on" } else { "off" }).into()];
        if self.nopass {
            parts.push("nopass".into());
        }
        parts.extend(self.sanitize.map(String::from));
        parts.extend(self.passwords.iter().map(|p| format!("#{p}")));
        parts.extend(self.keys.iter().cloned());
        if self.all_channels() {
            parts.push("&*".into());
        } else {
            parts.push("resetchannels".into());
            parts.extend(self.channels.iter().map(|c| format!("&{c}")));
        }
        parts.push(self.commands_text());
        parts.join(" ")
    }

    /// Whether the user may run `full` (`get`, `config|get`); `first_arg` is
    /// the first argument of a plain command, for first-argument rules.
    pub(crate) fn may_run(&self, full: &str, first_arg: Option<&str>) -> bool {
        if !universe().known.contains(full) {
            return self.all_commands;
        }
        self.allowed.contains(full)
            || first_arg.is_some_and(|a| self.first_args.iter().any(|(c, x)| c == full && x == a))
    }

    /// Whether the user may touch `key` as `need` says (Redis's
    /// `ACLSelectorCheckKey`): some pattern must match the key and grant
    /// every permission the key needs (`~p` grants both, `%R~p` read,
    /// `%W~p` write).
    pub(crate) fn may_access(&self, key: &[u8], need: KeyAccess) -> bool {
        self.keys.iter().any(|p| {
            let (perm, pat) = match p.split_once('~') {
                Some((perm, pat)) => (perm, pat),
                None => ("", p.as_str()),
            };
            let (read, write) = match perm.strip_prefix('%') {
                None => (true, true),
                Some(rw) => (rw.contains(['R', 'r']), rw.contains(['W', 'w'])),
            };
            (read || !need.read) && (write || !need.write) && glob_match(pat.as_bytes(), key, false)
        })
    }

    /// Whether the user may publish or subscribe to `channel` (Redis's
    /// `ACLCheckChannelAgainstList`): a channel name is matched against the
    /// user's channel patterns, a PSUBSCRIBE pattern (`pattern`) must equal
    /// one of them literally.
    pub(crate) fn may_use_channel(&self, channel: &[u8], pattern: bool) -> bool {
        self.all_channels()
            || self.channels.iter().any(|c| {
                if pattern {
                    c.as_bytes() == channel
                } else {
                    glob_match(c.as_bytes(), channel, false)
                }
            })
    }

    /// `allchannels` (or `&*`): no channel is checked.
    pub(crate) fn all_channels(&self) -> bool {
        self.channels.iter().any(|c| c == "*")
    }

    pub(crate) fn unrestricted(&self) -> bool {
        self.all_commands
            && self.allowed.len() == universe().leaves.len()
            && self.keys.iter().any(|k| k == "~*")
            && self.all_channels()
    }

    /// Applies one ACL SETUSER rule, or returns why it is invalid.
    pub(crate) fn apply(&mut self, op: &str) -> Result<(), String> {
        let lower = op.to_ascii_lowercase();
        match lower.as_str() {
            "on" => self.enabled = true,
            "off" => self.enabled = false,
            "nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            "resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            "allkeys" => self.keys = vec!["~*".into()],
            "resetkeys" => self.keys.clear(),
            "allchannels" => self.channels = vec!["*".into()],
            "resetchannels" => self.channels.clear(),
            "allcommands" => self.set_all(true),
            "nocommands" => self.set_all(false),
            "reset" => {
                *self = User::new();
                self.sanitize = Some("sanitize-payload");
            }
            "sanitize-payload" => self.sanitize = Some("sanitize-payload"),
            "skip-sanitize-payload" => self.sanitize = Some("skip-sanitize-payload"),
            _ => return self.apply_prefixed(op),
        }
        Ok(())
    }

    pub(crate) fn set_all(&mut self, allow: bool) {
        self.all_commands = allow;
        self.first_args.clear();
        self.allowed = if allow { universe().leaves.clone() } else { Default::default() };
    }

    pub(crate) fn set_leaves<'a>(&mut self, leaves: impl Iterator<Item = &'a String>, allow: bool) {
        for l in leaves {
            if allow {
                self.allowed.insert(l.clone());
            } else {
                self.allowed.remove(l);
            }
        }
    }

    pub(crate) fn apply_prefixed(&mut self, op: &str) -> Result<(), String> {
        let bytes = op.as_bytes();
        match bytes.first() {
            Some(b'>') => {
                let h = sha256_hex(&bytes[1..]);
                if !self.passwords.contains(&h) {
                    self.passwords.push(h);
                }
                self.nopass = false;
            }
            Some(b'#') => {
                let h = &op[1..];
                if h.len() != 64 || !h.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
                    return Err("The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters".into());
                }
                if !self.passwords.iter().any(|p| p == h) {
                    self.passwords.push(h.to_string());
                }
                self.nopass = false;
            }
            Some(b'<') | Some(b'!') => {
                let h = if bytes[0] == b'<' { sha256_hex(&bytes[1..]) } else { op[1..].to_string() };
                let before = self.passwords.len();
                self.passwords.retain(|p| *p != h);
                if self.passwords.len() == before {
                    return Err("The password you are trying to remove from the user does not exist".into());
                }
            }
            // `~*` and `&*` are `allkeys` and `allchannels`, also after them.
            Some(b'~') if op == "~*" => self.keys = vec![op.to_string()],
            Some(b'&') if op == "&*" => self.channels = vec!["*".into()],
            Some(b'~') | Some(b'%') => {
                // Redis's ACLSetSelector: after `allkeys` nothing may be added,
                // then `%` takes R and W once each up to the `~`, and the
                // pattern may hold no whitespace or NUL.
                if self.keys.iter().any(|k| k == "~*") {
                    return Err("Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns".into());
                }
                let pattern = if bytes[0] == b'%' {
                    let Some((perm, pattern)) = op.split_once('~') else {
                        return Err("Syntax error".into());
                    };
                    let (mut read, mut write) = (false, false);
                    for c in perm[1..].bytes() {
                        match c.to_ascii_uppercase() {
                            b'R' if !read => read = true,
                            b'W' if !write => write = true,
                            _ => return Err("Syntax error".into()),
                        }
                    }
                    if !read && !write {
                        return Err("Syntax error".into());
                    }
                    pattern
                } else {
                    &op[1..]
                };
                if has_spaces(pattern.as_bytes()) {
                    return Err("Syntax error".into());
                }
                let pat = op.to_string();
                if !self.keys.contains(&pat) {
                    self.keys.push(pat);
                }
            }
            Some(b'&') => {
                let pat = op[1..].to_string();
                if self.channels.iter().any(|c| c == "*") {
                    return Err("Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels".into());
                }
                if has_spaces(pat.as_bytes()) {
                    return Err("Syntax error".into());
                }
                if !self.channels.contains(&pat) {
                    self.channels.push(pat);
                }
            }
            Some(b'+') | Some(b'-') => {
                let allow = bytes[0] == b'+';
                let body = op[1..].to_ascii_lowercase();
                let unknown = || "Unknown command or category name in ACL".to_string();
                let u = universe();
                if let Some(cat) = body.strip_prefix('@') {
                    if cat == "all" {
                        self.set_all(allow);
                        return Ok(());
                    }
                    if !CATEGORIES.contains(&cat) {
                        return Err(unknown());
                    }
                    if let Some(members) = u.by_category.get(cat) {
                        self.set_leaves(members.iter(), allow);
                    }
                } else if let Some((c, sub)) = body.split_once('|') {
                    let Some(subs) = u.commands.get(c) else { return Err(unknown()) };
                    if sub.is_empty() || sub.contains('|') {
                        return Err(unknown());
                    }
                    if subs.is_empty() {
                        // A first-argument rule on a plain command.
                        if !allow {
                            return Err("Allowing first-arg of a subcommand is not supported".into());
                        }
                        let rule = (c.to_string(), sub.to_string());
                        if !self.first_args.contains(&rule) {
                            self.first_args.push(rule);
                        }
                    } else if subs.contains(&body) {
                        self.set_leaves(std::iter::once(&body), allow);
                    } else {
                        return Err(unknown());
                    }
                } else {
                    let Some(subs) = u.commands.get(&body) else { return Err(unknown()) };
                    self.first_args.retain(|(c, _)| *c != body);
                    if subs.is_empty() {
                        self.set_leaves(std::iter::once(&body), allow);
                    } else {
                        self.set_leaves(subs.iter(), allow);
                    }
                }
            }
            _ => return Err("Syntax error".into()),
        }
        Ok(())
    }
}

/// Redis's `ACLStringHasSpaces`: whether `s` holds C whitespace (space,
/// `\t`, `\n`, `\v`, `\f`, `\r`) or a NUL, which usernames and key and
/// channel patterns may not.
pub(crate) fn has_spaces(s: &[u8]) -> bool {
    s.iter().any(|&c| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0))
}

/// What C's `%s` prints of `s`: everything before the first NUL.
pub(crate) fn c_str(s: &str) -> &str {
    s.split('\0').next().unwrap_or_default()
}

/// Redis's command table as ACL rules see it.
struct Universe {
    /// Top-level name -> full names of its subcommands (empty for plain commands), sorted.
    pub(crate) commands: BTreeMap<String, Vec<String>>,
    /// Plain commands and subcommands: the bits of Redis's permission bitmap.
    pub(crate) leaves: std::collections::BTreeSet<String>,
    /// Every name, containers included.
    pub(crate) known: std::collections::HashSet<String>,
    /// Category -> leaves in it.
    pub(crate) by_category: std::collections::HashMap<String, Vec<String>>,
}

fn universe() -> &'static Universe {
    static U: std::sync::OnceLock<Universe> = std::sync::OnceLock::new();
    U.get_or_init(|| {
        let mut commands = BTreeMap::new();
        let mut leaves = std::collections::BTreeSet::new();
        let mut known = std::collections::HashSet::new();
        let mut by_category: std::collections::HashMap<String, Vec<String>> = Default::default();
        for (name, subs, cats) in crate::catalog::redis_commands() {
            known.insert(name.clone());
            if name.contains('|') {
                continue;
            }
            let mut sub_names: Vec<String> = subs.iter().map(|(n, _)| n.clone()).collect();
            sub_names.sort();
            let mut entries = subs;
            if entries.is_empty() {
                entries.push((name.clone(), cats));
            }
            for (leaf, cats) in entries {
                leaves.insert(leaf.clone());
                known.insert(leaf.clone());
                for c in cats {
                    by_category.entry(c).or_default().push(leaf.clone());
                }
            }
            commands.insert(name, sub_names);
        }
        // The fake's HARNESS admin command is one more bit, in its categories
        // (`+@all`, `+@admin` grant it; see docs/faults.md).
        let harness = HARNESS.to_string();
        for c in HARNESS_CATEGORIES {
            by_category.entry(c.to_string()).or_default().push(harness.clone());
        }
        leaves.insert(harness.clone());
        known.insert(harness.clone());
        commands.insert(harness, Vec::new());
        Universe { commands, leaves, known, by_category }
    })
}

/// Every ACL user; lives in [`Config`] so that `requirepass` and the
/// default user stay one setting.
#[derive(Debug, Clone)]
pub(crate) struct Users {
    pub(crate) users: BTreeMap<String, User>,
    /// While true the default user is derived from `requirepass`.
    pub(crate) default_derived: bool,
}

impl Default for Users {
    fn default() -> Self {
        Users { users: BTreeMap::new(), default_derived: true }
    }
}

impl Users {
    /// The user `name` as it stands now.
    pub(crate) fn get(&self, cfg_pass: &str, name: &str) -> Option<User> {
        if name == "default" && self.default_derived {
            return Some(User::default_for(cfg_pass));
        }
        self.users.get(name).cloned()
    }

    /// `CONFIG SET requirepass`: the default user's password becomes `pw`.
    pub(crate) fn set_requirepass(&mut self, pw: &str) {
        if let Some(u) = self.users.get_mut("default").filter(|_| !self.default_derived) {
            u.set_requirepass(pw);
        }
    }

    /// Whether the default user logs connections in without AUTH (`on nopass`),
    /// once it has been changed by ACL SETUSER; `None` while it follows `requirepass`.
    pub(crate) fn default_autoauth(&self) -> Option<bool> {
        if self.default_derived {
            return None;
        }
        self.users.get("default").map(|u| u.enabled && u.nopass)
    }
}

pub(crate) fn cfg_pass(cfg: &Config) -> String {
    cfg.get("requirepass").unwrap_or_default().to_string()
}

/// Checks `user`/`pass` against the ACL users.
pub(crate) fn authenticate(cfg: &Config, user: &[u8], pass: &[u8]) -> bool {
    let name = String::from_utf8_lossy(user);
    match cfg.acl.get(&cfg_pass(cfg), &name) {
        Some(u) => u.enabled && (u.nopass || u.passwords.contains(&sha256_hex(pass))),
        None => false,
    }
}

/// Whether an ACL user called `name` exists.
pub(crate) fn user_exists(cfg: &Config, name: &str) -> bool {
    name == "default" || cfg.acl.users.contains_key(name)
}

/// Whether the default user is `nopass` (AUTH <password> then says no password is configured).
pub(crate) fn default_nopass(cfg: &Config) -> bool {
    cfg.acl.get(&cfg_pass(cfg), "default").is_some_and(|u| u.nopass)
}

/// The NOPERM check `dispatch` runs before a command: the connection's user
/// must be allowed the command and every key it names.
pub(crate) fn check_permissions(ctx: &mut Ctx<'_>, spec: &'static CommandSpec, args: &[Bytes]) -> Result<(), Reply> {
    let Some(denied) = denial(ctx, spec, args) else {
        return Ok(());
    };
    let text = match &denied {
        Denied::Command(name) => format!("NOPERM this user has no permissions to run the '{name}' command"),
        Denied::Key(_) => "NOPERM this user has no permissions to access one of the keys used as arguments".into(),
        Denied::Channel(_) => {
            "NOPERM this user has no permissions to access one of the channels used as arguments".into()
        }
    };
    let (reason, object) = denied.logged();
    log_denial(ctx, reason, object, None);
    Err(Reply::error(text))
}

/// What the connection's user may not do in this command, if anything.
fn denial(ctx: &Ctx<'_>, spec: &'static CommandSpec, args: &[Bytes]) -> Option<Denied> {
    // The fast path: an unrestricted default user (the usual case) needs no work.
    if &ctx.conn.user[..] == b"default" && ctx.st.config().acl.default_derived {
        return None;
    }
    let name = String::from_utf8_lossy(&ctx.conn.user);
    let cfg = ctx.st.config();
    let user = cfg.acl.get(&cfg_pass(cfg), &name)?;
    if user.unrestricted() {
        return None;
    }
    user_may_run(&user, spec, args).err()
}

/// The ACL check of one `redis.call` (Redis's `scriptVerifyACL`): the
/// script's error names what was refused in the script's words, and the
/// ACL LOG entry's context is `lua`.
pub(crate) fn check_script_permissions(
    ctx: &mut Ctx<'_>,
    spec: &'static CommandSpec,
    args: &[Bytes],
) -> Result<(), Reply> {
    let Some(denied) = denial(ctx, spec, args) else {
        return Ok(());
    };
    let text = match &denied {
        Denied::Command(_) => "ERR The user executing the script can't run this command or subcommand",
        Denied::Key(_) => {
            "ERR The user executing the script can't access at least one of the keys mentioned in the command arguments"
        }
        Denied::Channel(_) => "ERR The user executing the script can't publish to the channel mentioned in the command",
    };
    let (reason, object) = denied.logged();
    log_entry(ctx, reason, LogContext::Lua, object, None);
    Err(Reply::error(text))
}

/// Whether the connection's user reads every key: Redis's
/// `ACLUserCheckCmdWithUnrestrictedKeyAccess` with `CMD_KEY_ACCESS`, which
/// SORT consults before accepting a BY or GET pattern (the keys those name
/// come from the data, so no key pattern short of `*` can vouch for them).
/// True for `allkeys`, `~*`, or a `%R~*` / `%RW~*` pattern.
pub(crate) fn full_key_read_access(ctx: &Ctx<'_>) -> bool {
    if &ctx.conn.user[..] == b"default" && ctx.st.config().acl.default_derived {
        return true;
    }
    let name = String::from_utf8_lossy(&ctx.conn.user);
    let cfg = ctx.st.config();
    let Some(user) = cfg.acl.get(&cfg_pass(cfg), &name) else {
        return true;
    };
    user.keys.iter().any(|p| match p.split_once('~') {
        Some(("", "*")) => true,
        Some((perm, "*")) => perm.strip_prefix('%').is_some_and(|rw| rw.contains(['R', 'r'])),
        _ => false,
    })
}

/// Why a user may not run a command.
pub(crate) enum Denied {
    /// The command itself (its full name, `config|get`).
    Command(&'static str),
    /// A key the user's patterns do not grant the access it needs.
    Key(Bytes),
    /// A channel (or PSUBSCRIBE pattern) the user's channel patterns do not allow.
    Channel(Bytes),
}

impl Denied {
    /// The ACL LOG's reason and object for this refusal.
    fn logged(self) -> (LogReason, Bytes) {
        match self {
            Denied::Command(name) => (LogReason::Command, Bytes::from_static(name.as_bytes())),
            Denied::Key(k) => (LogReason::Key, k),
            Denied::Channel(c) => (LogReason::Channel, c),
        }
    }

    /// How ACL DRYRUN words it.
    pub(crate) fn dryrun_text(&self) -> String {
        match self {
            Denied::Command(name) => format!("This user has no permissions to run the '{name}' command"),
            Denied::Key(k) => {
                format!("This user has no permissions to access the '{}' key", String::from_utf8_lossy(k))
            }
            Denied::Channel(c) => {
                format!("This user has no permissions to access the '{}' channel", String::from_utf8_lossy(c))
            }
        }
    }
}

/// The channel arguments of a pub/sub command that ACL channel rules
/// govern (Redis's `commands_with_channels` with a PUBLISH or SUBSCRIBE
/// flag; the unsubscribe commands are not checked), and whether they are
/// patterns.
fn channel_args<'a>(spec: &CommandSpec, args: &'a [Bytes]) -> Option<(&'a [Bytes], bool)> {
    match spec.name {
        "publish" | "spublish" => Some((&args[1..2.min(args.len())], false)),
        "subscribe" | "ssubscribe" => Some((&args[1..], false)),
        "psubscribe" => Some((&args[1..], true)),
        _ => None,
    }
}

/// Whether `user` may run `args` with `spec`, in Redis's order: the
/// command (commands flagged `no_auth`, AUTH and HELLO, are open to
/// everyone), then each key with the access its key spec needs, then the
/// channels.
pub(crate) fn user_may_run(user: &User, spec: &'static CommandSpec, args: &[Bytes]) -> Result<(), Denied> {
    if !spec.has_flag("no_auth") {
        let first_arg = if spec.name.contains('|') || args.len() < 2 {
            None
        } else {
            Some(String::from_utf8_lossy(&args[1]).to_ascii_lowercase())
        };
        if !user.may_run(spec.name, first_arg.as_deref()) {
            return Err(Denied::Command(spec.name));
        }
    }
    if !user.keys.iter().any(|k| k == "~*") {
        for need in crate::catalog::key_access(spec.name, args) {
            if !user.may_access(&args[need.pos], need) {
                return Err(Denied::Key(args[need.pos].clone()));
            }
        }
    }
    if let Some((channels, pattern)) = channel_args(spec, args) {
        if let Some(c) = channels.iter().find(|c| !user.may_use_channel(c, pattern)) {
            return Err(Denied::Channel(c.clone()));
        }
    }
    Ok(())
}

/// SHA-256 of `data` as lower-case hex (how Redis stores ACL passwords).
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest as _;
    use std::fmt::Write as _;
    sha2::Sha256::digest(data).iter().fold(String::with_capacity(64), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

#[cfg(test)]
mod tests;
