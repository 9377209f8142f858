//! CONFIG parameters: every parameter `CONFIG GET *` of a stock Redis
//! 7.0.15 returns, with its default and the way CONFIG SET validates it.
//!
//! The table between the GENERATED markers comes from a real server
//! (`fixtures/config/generate.py`). The fake overrides a few defaults to
//! describe itself rather than a stock install: `port` (the bound port),
//! `unixsocket` (when one is requested), `dir` (the process's working
//! directory), `save` (empty: the fake never persists) and
//! `enable-debug-command` (`local`: DEBUG SLEEP works from local
//! connections, which every connection to the fake is).

mod params;

pub(crate) use params::PARAMS;

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::store::EncodingLimits;

/// How CONFIG SET validates a parameter (learned from a real server).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// Any string.
    Str,
    /// `yes` or `no`.
    Bool,
    /// An integer (Redis's string2ll) within a range.
    Int { min: i128, max: i128 },
    /// A memory value (`1gb`, `10k`, plain bytes) within a range.
    Mem { min: i128, max: i128 },
    /// A memory value or a percentage (`maxmemory-clients`).
    MemPct,
    /// One of these words.
    Enum(&'static [&'static str]),
    /// Several of these words, space separated.
    Flags(&'static [&'static str]),
    /// A parameter with its own syntax, validated by name.
    Special,
}

/// Whether CONFIG SET may change a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mutability {
    Mutable,
    /// Only settable in the config file or on the command line.
    Immutable,
    /// Refused while `enable-protected-configs` is `no` (the default).
    Protected,
}

/// One CONFIG parameter.
#[derive(Debug)]
pub(crate) struct Param {
    pub name: &'static str,
    pub default: &'static str,
    pub kind: Kind,
    pub mutability: Mutability,
    /// The other name of the same setting (`slave-read-only` for `replica-read-only`), or "".
    pub alias: &'static str,
}

/// Server configuration as CONFIG GET/SET sees it.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Parameter name -> value, as CONFIG GET prints it (aliases hold a
    /// copy). Defaults borrow the static table, so a server start copies
    /// no strings.
    pub params: BTreeMap<&'static str, Cow<'static, str>>,
    /// `notify-keyspace-events` expanded for the notification code: the
    /// class characters (`g $ l s h z x e t d m n`, with `A` already
    /// expanded) plus `K` and/or `E`. Empty when no event can be delivered
    /// (no class, or neither `K` nor `E`), which turns notifications off.
    pub notify_flags: String,
    /// ACL users; the default user follows `requirepass` until ACL SETUSER changes it.
    pub acl: super::acl::Users,
    /// `proto-max-bulk-len` parsed, read by every command; kept in step by
    /// [`Config::store`] and [`Config::sync_derived`].
    pub(crate) max_bulk_len: u64,
    /// The `maxmemory*` and `lfu-*` parameters parsed, read by every
    /// command; kept in step like `max_bulk_len`.
    pub(crate) mm: super::evict::MaxMemory,
    /// The compact-encoding thresholds (the one place every command and
    /// OBJECT ENCODING read them), kept by `sync_derived`.
    pub(crate) encoding: EncodingLimits,
    /// `client-output-buffer-limit` parsed, per class (normal, replica, pubsub).
    pub(crate) obuf: [ObufLimit; 3],
    /// `client-query-buffer-limit` in bytes.
    pub(crate) query_buffer_limit: u64,
    /// `maxclients`.
    pub(crate) maxclients: u64,
    /// `timeout` in seconds (0: idle clients are never closed).
    pub(crate) timeout: u64,
}

/// A client class's output buffer limit (`client-output-buffer-limit`):
/// over `hard` bytes the client is closed at once; over `soft` bytes for
/// more than `soft_seconds` seconds, too. 0 disables a limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ObufLimit {
    /// Bytes at which the client is closed at once (0: none).
    pub hard: u64,
    /// Bytes the client may stay at or over for `soft_seconds` (0: none).
    pub soft: u64,
    /// How long (seconds) the soft limit may be exceeded.
    pub soft_seconds: u64,
}

impl ObufLimit {
    /// Whether either limit is set.
    pub(crate) fn is_set(&self) -> bool {
        self.hard != 0 || self.soft != 0
    }
}

/// The client classes of `client-output-buffer-limit`, in its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientClass {
    /// Every client that is neither a replica nor subscribed.
    Normal = 0,
    // 1 is the replica class: the fake has no replicas.
    /// Clients subscribed to at least one channel, pattern or shard channel.
    PubSub = 2,
}

/// Default for `proto-max-bulk-len` if the stored value does not parse.
const DEFAULT_MAX_BULK_LEN: u64 = 512 * 1024 * 1024;

impl Default for Config {
    fn default() -> Self {
        // Every server start needs this table; build it once per process.
        type Params = BTreeMap<&'static str, Cow<'static, str>>;
        static DEFAULTS: std::sync::OnceLock<Params> = std::sync::OnceLock::new();
        let params = DEFAULTS
            .get_or_init(|| {
                let mut params: Params = PARAMS.iter().map(|p| (p.name, Cow::Borrowed(p.default))).collect();
                params.insert("port", Cow::Borrowed("6379"));
                params.insert("save", Cow::Borrowed(""));
                params.insert("enable-debug-command", Cow::Borrowed("local"));
                params
            })
            .clone();
        let mut config = Config {
            params,
            notify_flags: String::new(),
            acl: Default::default(),
            max_bulk_len: 0,
            mm: Default::default(),
            encoding: Default::default(),
            obuf: Default::default(),
            query_buffer_limit: 0,
            maxclients: 0,
            timeout: 0,
        };
        config.sync_derived();
        config
    }
}

/// Finds a parameter by name, case-insensitively.
pub(crate) fn param(name: &str) -> Option<&'static Param> {
    let lower = name.to_ascii_lowercase();
    PARAMS.binary_search_by(|p| p.name.cmp(lower.as_str())).ok().map(|i| &PARAMS[i])
}

impl Config {
    /// A parameter's current value.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(|v| v.as_ref())
    }

    /// A parameter's value as CONFIG GET prints it: `dir` is the process's
    /// working directory at the time, as Redis reads it with getcwd (it is
    /// a protected parameter, so CONFIG SET cannot change it).
    pub(crate) fn shown(&self, name: &str) -> Option<Cow<'_, str>> {
        if name == "dir" {
            let dir = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_else(|_| "/".into());
            return Some(Cow::Owned(dir));
        }
        self.get(name).map(Cow::Borrowed)
    }

    /// The password clients must AUTH with, if any. `Some("")` when the
    /// default user was changed (ACL SETUSER) so that it needs AUTH but has
    /// no password `requirepass` knows of.
    pub(crate) fn requirepass(&self) -> Option<&str> {
        let pw = self.get("requirepass").filter(|p| !p.is_empty());
        match self.acl.default_autoauth() {
            None => pw,
            Some(true) => None,
            Some(false) => Some(pw.unwrap_or("")),
        }
    }

    /// `proto-max-bulk-len` as a number.
    pub(crate) fn max_bulk_len(&self) -> u64 {
        self.max_bulk_len
    }

    /// The output buffer limit of a client class.
    pub(crate) fn obuf_limit(&self, class: ClientClass) -> ObufLimit {
        self.obuf[class as usize]
    }

    /// `client-query-buffer-limit`: a client whose unparsed input passes it is closed.
    pub(crate) fn query_buffer_limit(&self) -> u64 {
        self.query_buffer_limit
    }

    /// `maxclients`: connections beyond it are refused.
    pub(crate) fn maxclients(&self) -> u64 {
        self.maxclients
    }

    /// `timeout`: seconds after which an idle client is closed (0: never).
    pub(crate) fn idle_timeout(&self) -> u64 {
        self.timeout
    }

    /// Recomputes the cached values after `params` was written directly
    /// (the builder does, before the server starts).
    pub(crate) fn sync_derived(&mut self) {
        let num = |c: &Config, name: &str, default: u64| c.get(name).and_then(|v| v.parse().ok()).unwrap_or(default);
        self.max_bulk_len = num(self, "proto-max-bulk-len", DEFAULT_MAX_BULK_LEN);
        self.query_buffer_limit = num(self, "client-query-buffer-limit", 1 << 30);
        self.maxclients = num(self, "maxclients", 10_000);
        self.timeout = num(self, "timeout", 0);
        // Stored normalized: "normal H S T slave H S T pubsub H S T".
        let mut obuf = [ObufLimit::default(); 3];
        let words: Vec<&str> = self.get("client-output-buffer-limit").unwrap_or_default().split(' ').collect();
        for (limit, class) in obuf.iter_mut().zip(words.chunks(4)) {
            let n = |j: usize| class.get(j).and_then(|v| v.parse().ok()).unwrap_or(0);
            *limit = ObufLimit { hard: n(1), soft: n(2), soft_seconds: n(3) };
        }
        self.obuf = obuf;
        self.mm = super::evict::MaxMemory::from_config(self);
        self.encoding = self.read_encoding_limits();
    }

    /// The compact-encoding thresholds as configured (each parameter under
    /// either of its names), Redis's defaults for any unset.
    fn read_encoding_limits(&self) -> EncodingLimits {
        let d = EncodingLimits::default();
        let get = |names: &[&str], default: usize| {
            names.iter().find_map(|n| self.get(n).and_then(|v| v.parse::<usize>().ok())).unwrap_or(default)
        };
        EncodingLimits {
            hash_entries: get(&["hash-max-listpack-entries", "hash-max-ziplist-entries"], d.hash_entries),
            hash_value: get(&["hash-max-listpack-value", "hash-max-ziplist-value"], d.hash_value),
            set_intset_entries: get(&["set-max-intset-entries"], d.set_intset_entries),
            zset_entries: get(&["zset-max-listpack-entries", "zset-max-ziplist-entries"], d.zset_entries),
            zset_value: get(&["zset-max-listpack-value", "zset-max-ziplist-value"], d.zset_value),
        }
    }

    /// Validates `value` for `p` and returns the value CONFIG GET will print
    /// afterwards, or the reason Redis gives (the text after
    /// `possibly related to argument 'x' - `).
    pub(crate) fn normalize(&self, p: &Param, value: &[u8]) -> Result<String, String> {
        let v = String::from_utf8_lossy(value).into_owned();
        match p.kind {
            Kind::Str => Ok(v),
            Kind::Bool => {
                if v.eq_ignore_ascii_case("yes") {
                    Ok("yes".into())
                } else if v.eq_ignore_ascii_case("no") {
                    Ok("no".into())
                } else {
                    Err("argument must be 'yes' or 'no'".into())
                }
            }
            Kind::Int { min, max } => {
                let n = parse_ll(&v).ok_or_else(|| "argument couldn't be parsed into an integer".to_string())?;
                in_range(n as i128, min, max).map(|n| n.to_string())
            }
            Kind::Mem { min, max } => {
                let n = parse_memory(&v).ok_or_else(|| "argument must be a memory value".to_string())?;
                in_range(n as i128, min, max).map(|n| n.to_string())
            }
            Kind::MemPct => {
                if let Some(pct) = v.strip_suffix('%') {
                    match parse_ll(pct) {
                        Some(n) if n > 100 => Err("percentage argument must be less or equal to 100".into()),
                        Some(n) if n >= 0 => Ok(if n == 0 { "0".into() } else { format!("{n}%") }),
                        _ => Err("argument must be a memory or percent value".into()),
                    }
                } else {
                    let n = parse_memory(&v).ok_or_else(|| "argument must be a memory or percent value".to_string())?;
                    if n > i64::MAX as u64 {
                        return Err(format!("argument must be between 0 and {} inclusive", i64::MAX));
                    }
                    Ok(n.to_string())
                }
            }
            Kind::Enum(opts) => opts
                .iter()
                .find(|o| o.eq_ignore_ascii_case(&v))
                .map(|o| o.to_string())
                .ok_or_else(|| format!("argument(s) must be one of the following: {}", opts.join(", "))),
            Kind::Flags(opts) => normalize_flags(&v, opts),
            Kind::Special => self.normalize_special(p.name, &v),
        }
    }

    fn normalize_special(&self, name: &str, v: &str) -> Result<String, String> {
        match name {
            "notify-keyspace-events" => {
                let flags = super::notify::parse_notify_flags(v)
                    .ok_or_else(|| super::notify::NOTIFY_FLAGS_ERROR.to_string())?;
                Ok(super::notify::notify_flags_to_string(&flags))
            }
            "save" => normalize_save(v).ok_or_else(|| "Invalid save parameters".to_string()),
            "oom-score-adj-values" => {
                let parts: Vec<&str> = v.split(' ').collect();
                if parts.len() != 3 {
                    return Err("wrong number of arguments".into());
                }
                let mut out = Vec::new();
                for part in parts {
                    match parse_ll(part) {
                        Some(n) if (-2000..=2000).contains(&n) => out.push(n.to_string()),
                        _ => {
                            return Err("Invalid oom-score-adj-values, elements must be between -2000 and 2000.".into())
                        }
                    }
                }
                Ok(out.join(" "))
            }
            "latency-tracking-info-percentiles" => {
                let mut out = Vec::new();
                for part in v.split(' ').filter(|s| !s.is_empty()) {
                    let f: f64 = part
                        .parse()
                        .ok()
                        .filter(|f: &f64| f.is_finite())
                        .ok_or_else(|| "Invalid latency-tracking-info-percentiles parameters".to_string())?;
                    if !(0.0..=100.0).contains(&f) {
                        return Err(
                            "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into()
                        );
                    }
                    let s = format!("{f:.6}");
                    out.push(s.trim_end_matches('0').trim_end_matches('.').to_string());
                }
                Ok(out.join(" "))
            }
            "client-output-buffer-limit" => self.normalize_obuf(v),
            // `bind`: the fake keeps its listening socket; it records the value only.
            _ => Ok(v.to_string()),
        }
    }

    fn normalize_obuf(&self, v: &str) -> Result<String, String> {
        let parts: Vec<&str> = v.split(' ').filter(|s| !s.is_empty()).collect();
        if !parts.len().is_multiple_of(4) {
            return Err("Wrong number of arguments in buffer limit configuration.".into());
        }
        let current = self.get("client-output-buffer-limit").unwrap_or_default();
        let cur: Vec<&str> = current.split(' ').collect();
        // [normal, slave, pubsub] x [hard, soft, seconds]
        let mut classes: Vec<[String; 3]> = cur
            .chunks(4)
            .map(|c| [c.get(1), c.get(2), c.get(3)].map(|x| x.copied().unwrap_or("0").to_string()))
            .collect();
        classes.resize(3, ["0".into(), "0".into(), "0".into()]);
        for chunk in parts.chunks(4) {
            let idx = match chunk[0].to_ascii_lowercase().as_str() {
                "normal" => 0,
                "slave" | "replica" => 1,
                "pubsub" => 2,
                _ => return Err("Invalid client class specified in buffer limit configuration.".into()),
            };
            let bad = || "Error in hard, soft or soft_seconds setting in buffer limit configuration.".to_string();
            let hard = parse_memory(chunk[1]).ok_or_else(bad)?;
            let soft = parse_memory(chunk[2]).ok_or_else(bad)?;
            let secs = parse_ll(chunk[3]).filter(|s| *s >= 0).ok_or_else(bad)?;
            classes[idx] = [hard.to_string(), soft.to_string(), secs.to_string()];
        }
        let names = ["normal", "slave", "pubsub"];
        Ok(names
            .iter()
            .zip(&classes)
            .map(|(n, c)| format!("{n} {} {} {}", c[0], c[1], c[2]))
            .collect::<Vec<_>>()
            .join(" "))
    }

    /// Sets `requirepass` the one way CONFIG SET, `FakeRedis::set_password`
    /// and `HARNESS SET-PASSWORD` all take: as in Redis
    /// (`ACLUpdateDefaultUserPassword`), the default user's passwords become
    /// exactly `pw` (`nopass` when empty), also after ACL SETUSER changed
    /// that user; its other rules stay.
    pub(crate) fn set_requirepass(&mut self, pw: &str) {
        if let Some(p) = param("requirepass") {
            self.store(p, pw.to_string());
        }
    }

    /// Stores an already normalized value under `p` and its alias, keeping
    /// derived state (`notify_flags`, the default user's password) in step.
    pub(crate) fn store(&mut self, p: &Param, value: String) {
        if p.name == "requirepass" {
            self.acl.set_requirepass(&value);
        }
        if p.name == "notify-keyspace-events" {
            self.notify_flags = super::notify::parse_notify_flags(&value).unwrap_or_default();
        }
        if !p.alias.is_empty() {
            self.params.insert(p.alias, Cow::Owned(value.clone()));
        }
        self.params.insert(p.name, Cow::Owned(value));
        if matches!(
            p.name,
            "proto-max-bulk-len"
                | "client-output-buffer-limit"
                | "client-query-buffer-limit"
                | "maxclients"
                | "timeout"
        ) || super::evict::MaxMemory::depends_on(p.name)
            || p.name.contains("-max-listpack-")
            || p.name.contains("-max-ziplist-")
            || p.name == "set-max-intset-entries"
        {
            self.sync_derived();
        }
    }
}

fn in_range(n: i128, min: i128, max: i128) -> Result<i128, String> {
    if n < min || n > max {
        Err(format!("argument must be between {min} and {max} inclusive"))
    } else {
        Ok(n)
    }
}

/// Redis's string2ll: no spaces, no '+', no leading zeros.
fn parse_ll(s: &str) -> Option<i64> {
    crate::num::parse_i64(s.as_bytes())
}

/// Redis's memtoull: digits with an optional unit (b, k, kb, m, mb, g, gb,
/// case-insensitive; k = 1000, kb = 1024). Like Redis, a number too large
/// saturates and the unit multiplication wraps.
pub(crate) fn parse_memory(s: &str) -> Option<u64> {
    let lower = s.to_ascii_lowercase();
    let units: [(&str, u64); 7] = [
        ("gb", 1 << 30),
        ("mb", 1 << 20),
        ("kb", 1 << 10),
        ("g", 1_000_000_000),
        ("m", 1_000_000),
        ("k", 1000),
        ("b", 1),
    ];
    let (digits, mul) =
        units.iter().find_map(|(u, m)| lower.strip_suffix(u).map(|d| (d, *m))).unwrap_or((lower.as_str(), 1));
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let n = digits.bytes().fold(0u64, |acc, d| acc.saturating_mul(10).saturating_add((d - b'0') as u64));
    Some(n.wrapping_mul(mul))
}

fn normalize_flags(v: &str, opts: &[&str]) -> Result<String, String> {
    let err = || format!("argument(s) must be one of the following: {}", opts.join(", "));
    let mut picked = Vec::new();
    for word in v.split(' ').filter(|w| !w.is_empty()) {
        let o = opts.iter().find(|o| o.eq_ignore_ascii_case(word)).ok_or_else(err)?;
        if !picked.contains(o) {
            picked.push(*o);
        }
    }
    if picked.is_empty() {
        return Err(err());
    }
    if picked.contains(&"save") && picked.contains(&"nosave") {
        return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into());
    }
    // Redis prints the flags in its table order.
    Ok(opts.iter().filter(|o| picked.contains(o)).copied().collect::<Vec<_>>().join(" "))
}

fn normalize_save(v: &str) -> Option<String> {
    if v.is_empty() {
        return Some(String::new());
    }
    let parts: Vec<&str> = v.split(' ').collect();
    if !parts.len().is_multiple_of(2) {
        return None;
    }
    let mut out = Vec::new();
    for p in parts {
        let digits = p.strip_prefix('+').unwrap_or(p);
        if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        out.push(digits.parse::<i64>().ok()?.to_string());
    }
    Some(out.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_for_binary_search() {
        assert!(PARAMS.windows(2).all(|w| w[0].name < w[1].name));
        assert!(param("MAXMEMORY").is_some());
    }

    #[test]
    fn derived_limits_follow_the_parameters() {
        let mut c = Config::default();
        assert_eq!(c.obuf_limit(ClientClass::Normal), ObufLimit::default());
        assert_eq!(c.obuf_limit(ClientClass::PubSub), ObufLimit { hard: 32 << 20, soft: 8 << 20, soft_seconds: 60 });
        assert_eq!((c.query_buffer_limit(), c.maxclients(), c.idle_timeout()), (1 << 30, 10_000, 0));
        let p = param("client-output-buffer-limit").unwrap();
        let v = c.normalize(p, b"pubsub 1mb 512kb 5 normal 10 0 0").unwrap();
        c.store(p, v);
        assert_eq!(c.obuf_limit(ClientClass::PubSub), ObufLimit { hard: 1 << 20, soft: 512 << 10, soft_seconds: 5 });
        assert_eq!(c.obuf_limit(ClientClass::Normal), ObufLimit { hard: 10, soft: 0, soft_seconds: 0 });
        for (name, value) in [("maxclients", "7"), ("timeout", "3"), ("client-query-buffer-limit", "2mb")] {
            let p = param(name).unwrap();
            let v = c.normalize(p, value.as_bytes()).unwrap();
            c.store(p, v);
        }
        assert_eq!((c.query_buffer_limit(), c.maxclients(), c.idle_timeout()), (2 << 20, 7, 3));
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1K"), Some(1000));
        assert_eq!(parse_memory("1kB"), Some(1024));
        assert_eq!(parse_memory("01"), Some(1));
        assert_eq!(parse_memory("+1"), None);
        assert_eq!(parse_memory("1 k"), None);
    }
}
