//! Keyspace notifications: the `notify-keyspace-events` flags and the
//! delivery of the events commands queue with `State::notify`.
//!
//! `Config::notify_flags` holds the flags in an internal form: every
//! enabled flag character once, `A` expanded, in the canonical order below.
//! It differs from what CONFIG GET shows because Redis prints `A` for the
//! full class set and then drops `n` from the text although it stays enabled.

use bytes::{BufMut, Bytes, BytesMut};

use super::config::Config;
use super::state::State;

/// Classes `A` stands for, in the order Redis prints classes.
const ALL_CLASSES: &str = "g$lshzxetd";

/// Every flag character in canonical order: classes, `n`, then `K`, `E`, `m`.
const CANONICAL: &str = "g$lshzxetdnKEm";

/// The reason CONFIG SET gives for a bad `notify-keyspace-events` value.
pub(crate) const NOTIFY_FLAGS_ERROR: &str = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";

/// Parses a `notify-keyspace-events` value into the internal form kept in
/// `Config::notify_flags`; `None` if a character is not a known flag.
pub(crate) fn parse_notify_flags(value: &str) -> Option<String> {
    let mut on = [false; CANONICAL.len()];
    for c in value.chars() {
        if c == 'A' {
            for a in ALL_CLASSES.chars() {
                on[CANONICAL.find(a)?] = true;
            }
        } else {
            on[CANONICAL.find(c)?] = true;
        }
    }
    Some(CANONICAL.chars().zip(on).filter(|(_, on)| *on).map(|(c, _)| c).collect())
}

/// The text CONFIG GET shows for internal flags (`A` when every class is on).
pub(crate) fn notify_flags_to_string(flags: &str) -> String {
    let mut out = String::new();
    if ALL_CLASSES.chars().all(|c| flags.contains(c)) {
        out.push('A');
    } else {
        out.extend(ALL_CLASSES.chars().chain(['n']).filter(|c| flags.contains(*c)));
    }
    out.extend(['K', 'E', 'm'].into_iter().filter(|c| flags.contains(*c)));
    out
}

impl Config {
    /// Sets `notify-keyspace-events` (the flags and the text CONFIG GET
    /// shows); `Err` carries Redis's reason for a bad value.
    pub(crate) fn set_notify_keyspace_events(&mut self, value: &str) -> Result<(), &'static str> {
        let flags = parse_notify_flags(value).ok_or(NOTIFY_FLAGS_ERROR)?;
        self.params.insert("notify-keyspace-events", notify_flags_to_string(&flags).into());
        self.notify_flags = flags;
        Ok(())
    }
}

impl State {
    /// Publishes the keyspace events queued by the last command (or expiry
    /// cycle) that `notify-keyspace-events` enables: `__keyspace@<db>__:<key>`
    /// carries the event name, `__keyevent@<db>__:<event>` the key.
    pub(crate) fn deliver_events(&mut self) {
        if self.events.is_empty() {
            return;
        }
        let events = std::mem::take(&mut self.events);
        #[cfg(test)]
        self.event_log.extend(events.iter().cloned());
        let flags = &self.config().notify_flags;
        let (keyspace, keyevent) = (flags.contains('K'), flags.contains('E'));
        if !(keyspace || keyevent) || !self.pubsub.has_subscribers() {
            return;
        }
        let enabled: Vec<bool> = events.iter().map(|e| flags.contains(e.class)).collect();
        for (e, on) in events.into_iter().zip(enabled) {
            if !on {
                continue;
            }
            let event = Bytes::from_static(e.event.as_bytes());
            if keyspace {
                let channel = channel_name("__keyspace@", e.db, &e.key);
                self.publish(&channel, &event);
            }
            if keyevent {
                let channel = channel_name("__keyevent@", e.db, &event);
                self.publish(&channel, &e.key);
            }
        }
    }
}

fn channel_name(prefix: &str, db: usize, suffix: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(prefix.len() + suffix.len() + 8);
    b.put_slice(prefix.as_bytes());
    b.put_slice(db.to_string().as_bytes());
    b.put_slice(b"__:");
    b.put_slice(suffix);
    b.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_and_print_as_redis() {
        let show = |v: &str| parse_notify_flags(v).map(|f| notify_flags_to_string(&f));
        assert_eq!(show("KEA").as_deref(), Some("AKE"));
        assert_eq!(show("g$lshzxetd").as_deref(), Some("A"));
        assert_eq!(show("Kg$lshzxetdmn").as_deref(), Some("AKm"));
        assert_eq!(show("AAEKmn").as_deref(), Some("AKEm"));
        assert_eq!(show("nm$g").as_deref(), Some("g$nm"));
        assert_eq!(show("ndtexKE").as_deref(), Some("xetdnKE"));
        assert_eq!(show("xxE").as_deref(), Some("xE"));
        assert_eq!(show("").as_deref(), Some(""));
        assert_eq!(show("Q"), None);
        assert_eq!(show("K E"), None);
        assert_eq!(show("a"), None);
        // `n` stays enabled under `A` although CONFIG GET hides it.
        assert_eq!(parse_notify_flags("AKn").as_deref(), Some("g$lshzxetdnK"));
    }
}
