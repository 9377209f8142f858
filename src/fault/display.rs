//! How the fault model prints: the rule text (`FaultRule`'s `Display`,
//! which the rule parser in `rules` reads back, so a printed rule is a
//! valid rule), and the duration and string forms it uses.

use std::fmt;
use std::time::Duration;

use super::model::{ConnTarget, Fault, FaultRule, LatencyPhase};
use super::targets::CommandTarget;

impl fmt::Debug for FaultRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultRule({self})")
    }
}

/// `100ms`, `2s`, `1500us`: the shortest exact form the rule text parses back.
pub(crate) fn fmt_duration(d: Duration) -> String {
    let us = d.as_micros();
    if us.is_multiple_of(1_000_000) {
        format!("{}s", us / 1_000_000)
    } else if us.is_multiple_of(1000) {
        format!("{}ms", us / 1000)
    } else {
        format!("{us}us")
    }
}

/// Quotes a word for the rule text if it needs it.
pub(crate) fn quote(s: &str) -> String {
    if !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || c == '"' || c == '\\' || c == '=') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

impl fmt::Display for Fault {
    /// The fault in rule-text syntax (see [`FaultRule`]'s `FromStr`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Latency { delay, jitter, phase } => {
                write!(f, "latency {}", fmt_duration(*delay))?;
                if !jitter.is_zero() {
                    write!(f, " jitter={}", fmt_duration(*jitter))?;
                }
                if *phase == LatencyPhase::BeforeCommand {
                    f.write_str(" phase=command")?;
                }
                Ok(())
            }
            Fault::Stall => f.write_str("stall"),
            Fault::Close { after_bytes: 0 } => f.write_str("close"),
            Fault::Close { after_bytes } => write!(f, "close after={after_bytes}"),
            Fault::Reset { after_bytes: 0 } => f.write_str("reset"),
            Fault::Reset { after_bytes } => write!(f, "reset after={after_bytes}"),
            Fault::SlowClose { delay } => write!(f, "slow-close {}", fmt_duration(*delay)),
            Fault::Partial { chunk, delay } => write!(f, "partial {chunk} delay={}", fmt_duration(*delay)),
            Fault::Bandwidth { bytes_per_sec } => write!(f, "bandwidth {bytes_per_sec}"),
            Fault::Error(text) => write!(f, "error {}", quote(text)),
            Fault::DropReply => f.write_str("drop-reply"),
            Fault::RefuseConnections => f.write_str("refuse"),
            Fault::StopAccepting => f.write_str("stop-accepting"),
            Fault::MaxClients => f.write_str("max-clients"),
            Fault::SlowScript { delay } => write!(f, "slow-script {}", fmt_duration(*delay)),
            Fault::TlsHandshakeStall => f.write_str("tls-stall"),
            Fault::TlsCloseDuringHandshake => f.write_str("tls-close"),
            Fault::TlsBadCertificate(c) => write!(f, "tls-bad-cert {}", c.name()),
        }
    }
}

impl fmt::Display for FaultRule {
    /// The rule in the text syntax `FromStr` parses (a [`FaultRule::when`]
    /// predicate shows as `when=<closure>` and does not parse back).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(l) = &self.label {
            return f.write_str(l);
        }
        write!(f, "{}", self.fault)?;
        let join = |family: bool| {
            let words: Vec<String> = self
                .commands
                .iter()
                .filter(|c| matches!(c, CommandTarget::Family(..)) == family)
                .map(|c| c.to_string())
                .collect();
            words.join(",")
        };
        let (cmds, families) = (join(false), join(true));
        if !cmds.is_empty() {
            write!(f, " cmd={}", quote(&cmds))?;
        }
        if !families.is_empty() {
            write!(f, " family={}", quote(&families))?;
        }
        if self.predicate.is_some() {
            f.write_str(" when=<closure>")?;
        }
        match &self.connection {
            ConnTarget::Any => {}
            ConnTarget::Id(id) => write!(f, " client-id={id}")?,
            ConnTarget::Name(n) => write!(f, " client-name={}", quote(n))?,
            ConnTarget::New => f.write_str(" new-connections")?,
        }
        if let Some(o) = self.occurrences {
            if o.min == 1 {
                write!(f, " times={}", o.max)?;
            } else if o.min == o.max {
                write!(f, " nth={}", o.min)?;
            } else {
                write!(f, " times={o}")?;
            }
        }
        if self.probability < 1.0 {
            write!(f, " prob={}", self.probability)?;
        }
        if let Some(d) = self.from {
            write!(f, " from={}", fmt_duration(d))?;
        }
        if let Some(d) = self.until {
            write!(f, " until={}", fmt_duration(d))?;
        }
        if let Some(e) = self.expect {
            write!(f, " expect={e}")?;
        }
        if self.in_script {
            f.write_str(" in-script")?;
        }
        Ok(())
    }
}
