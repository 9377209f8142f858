//! The rule text syntax shared by the CLI flags, `HARNESS FAULT ADD` and
//! [`FaultRule`]'s `Display`:
//!
//! ```text
//! rule    = fault option*
//! fault   = "latency" DUR | "stall" | "close" | "reset" | "slow-close" DUR
//!         | "partial" BYTES | "bandwidth" BYTES_PER_SEC | "error" TEXT
//!         | "drop-reply" | "refuse" | "stop-accepting" | "max-clients"
//!         | "auth-fail" N | "slow-script" DUR | "tls-stall" | "tls-close" | "tls-bad-cert" CERT
//! option  = "cmd=" TARGET("," TARGET)* | "family=" NAME("," NAME)*
//!         | "client-id=" N | "client-name=" NAME
//!         | "new-connections" | "in-script" (error) | "nth=" N | "times=" COUNT | "prob=" P
//!         | "from=" DUR | "until=" DUR | "expect=" COUNT
//!         | "jitter=" DUR | "phase=" ("command"|"reply")      (latency)
//!         | "after=" BYTES                                    (close, reset)
//!         | "delay=" DUR                                      (partial)
//! DUR     = number with unit: 250us, 100ms, 1.5s, 2m
//! TARGET  = NAME (exactly that command) | "@" CATEGORY (an ACL category:
//!           @write, @read, @string, @blocking, ...) | GLOB (SET*, H?ET)
//! COUNT   = N | A..B | A..=B | A..
//! CERT    = "expired" | "not-yet-valid" | "wrong-host" | "unknown-ca"
//! TEXT    = a word, a "quoted string", or one of NOSCRIPT LOADING BUSY READONLY
//!           OOM MASTERDOWN CLUSTERDOWN WRONGPASS for Redis's full text
//! ```
//!
//! Words may be double-quoted (`client-name="a b"`, backslash escapes).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::model::{errors, BadCertificate, ConnTarget, Fault, FaultRule, LatencyPhase, Times};
use super::targets::CommandTarget;

/// A rule text that does not parse, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleParseError {
    text: String,
    reason: String,
}

impl fmt::Display for RuleParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid fault rule `{}`: {}", self.text, self.reason)
    }
}

impl std::error::Error for RuleParseError {}

impl RuleParseError {
    /// Why the rule was rejected.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// Splits on whitespace, honouring double quotes and backslash escapes inside them.
fn tokenize(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_token = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                in_token = true;
                loop {
                    match chars.next() {
                        None => return Err("unterminated quote".into()),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e) => cur.push(e),
                            None => return Err("unterminated quote".into()),
                        },
                        Some(o) => cur.push(o),
                    }
                }
            }
            c if c.is_whitespace() => {
                if in_token {
                    out.push(std::mem::take(&mut cur));
                    in_token = false;
                }
            }
            c => {
                in_token = true;
                cur.push(c);
            }
        }
    }
    if in_token {
        out.push(cur);
    }
    Ok(out)
}

/// Parses `250us`, `100ms`, `1.5s`, `2m`.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("`{s}` is not a duration (like 100ms, 2s)"))?;
    let secs = match unit {
        "us" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("`{s}` needs a unit: us, ms, s or m")),
    };
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(format!("`{s}` is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn parse_u64(what: &str, s: &str) -> Result<u64, String> {
    s.parse().map_err(|_| format!("{what} must be a non-negative integer, got `{s}`"))
}

/// Parses `3`, `2..5`, `2..=4`, `2..`.
pub(crate) fn parse_times(s: &str) -> Result<Times, String> {
    let bad = || format!("`{s}` is not a count or range (3, 2..5, 2..=4, 2..)");
    let Some((a, b)) = s.split_once("..") else {
        return Ok(Times::from(parse_u64("a count", s)?));
    };
    let lo: u64 = if a.is_empty() { 0 } else { a.parse().map_err(|_| bad())? };
    if let Some(b) = b.strip_prefix('=') {
        let hi: u64 = b.parse().map_err(|_| bad())?;
        return Ok(Times::from(lo..=hi));
    }
    if b.is_empty() {
        return Ok(Times::from(lo..));
    }
    let hi: u64 = b.parse().map_err(|_| bad())?;
    Ok(Times::from(lo..hi))
}

fn error_text(word: &str) -> String {
    errors::NAMED.iter().find(|(name, _)| name.eq_ignore_ascii_case(word)).map_or(word, |(_, t)| t).to_string()
}

fn parse_rule(s: &str) -> Result<FaultRule, String> {
    let tokens = tokenize(s)?;
    let mut it = tokens.iter().map(String::as_str).peekable();
    let kind = it.next().ok_or("empty rule: name a fault (latency, error, close, ...)")?;
    let mut arg = |what: &str| it.next().map(str::to_string).ok_or_else(|| format!("`{kind}` needs {what}"));
    let mut rule = match kind.to_ascii_lowercase().as_str() {
        "latency" => FaultRule::latency(parse_duration(&arg("a duration")?)?),
        "stall" => FaultRule::stall(),
        "close" => FaultRule::close(),
        "reset" => FaultRule::reset(),
        "slow-close" => FaultRule::slow_close(parse_duration(&arg("a duration")?)?),
        "partial" => {
            let n = parse_u64("the chunk size", &arg("a chunk size in bytes")?)?;
            if n == 0 {
                return Err("the chunk size must be at least 1".into());
            }
            FaultRule::partial(n.min(usize::MAX as u64) as usize, Duration::from_millis(10))
        }
        "bandwidth" => {
            let n = parse_u64("the bandwidth", &arg("bytes per second")?)?;
            if n == 0 {
                return Err("the bandwidth must be at least 1 byte per second".into());
            }
            FaultRule::bandwidth(n)
        }
        "error" => {
            let t = arg("an error text")?;
            if t.trim().is_empty() {
                return Err("the error text is empty".into());
            }
            FaultRule::error(error_text(&t))
        }
        "drop-reply" => FaultRule::drop_reply(),
        "refuse" => FaultRule::refuse_connections(),
        "stop-accepting" => FaultRule::stop_accepting(),
        "max-clients" => FaultRule::max_clients(),
        "auth-fail" => FaultRule::auth_failures(parse_u64("auth-fail", &arg("a count")?)?),
        "slow-script" => FaultRule::slow_script(parse_duration(&arg("a duration")?)?),
        "tls-stall" => FaultRule::tls_handshake_stall(),
        "tls-close" => FaultRule::tls_close_during_handshake(),
        "tls-bad-cert" => {
            let name = arg("a certificate kind (expired, not-yet-valid, wrong-host, unknown-ca)")?;
            match BadCertificate::ALL.into_iter().find(|c| c.name().eq_ignore_ascii_case(&name)) {
                Some(c) => FaultRule::tls_bad_certificate(c),
                None => {
                    return Err(format!(
                        "`{name}` is not a certificate kind: use expired, not-yet-valid, wrong-host or unknown-ca"
                    ))
                }
            }
        }
        other => return Err(format!("unknown fault `{other}`")),
    };
    for opt in it {
        if opt.eq_ignore_ascii_case("new-connections") {
            rule.connection = ConnTarget::New;
            continue;
        }
        if opt.eq_ignore_ascii_case("in-script") {
            if !matches!(rule.fault, Fault::Error(_)) {
                return Err(format!("`in-script` applies to error faults only, not to `{kind}`"));
            }
            rule.in_script = true;
            continue;
        }
        let Some((key, value)) = opt.split_once('=') else {
            return Err(format!("`{opt}` is not an option (key=value)"));
        };
        let wrong = || format!("`{key}=` does not apply to `{kind}`");
        match key.to_ascii_lowercase().as_str() {
            "cmd" => {
                let names: Vec<&str> = value.split(',').filter(|c| !c.is_empty()).collect();
                if names.is_empty() {
                    return Err("cmd= needs at least one command name".into());
                }
                for n in names {
                    rule.commands.push(CommandTarget::parse(n)?);
                }
            }
            "family" => {
                let names: Vec<&str> = value.split(',').filter(|c| !c.is_empty()).collect();
                if names.is_empty() {
                    return Err("family= needs at least one command name".into());
                }
                for n in names {
                    rule = rule.on_family(n);
                }
            }
            "client-id" => rule.connection = ConnTarget::Id(parse_u64("client-id", value)?),
            "client-name" => rule.connection = ConnTarget::Name(value.to_string()),
            "nth" => {
                let n = parse_u64("nth", value)?;
                if n == 0 {
                    return Err("nth counts from 1".into());
                }
                rule = rule.nth(n);
            }
            "times" => rule = rule.times(parse_times(value)?),
            "prob" => {
                let p: f64 = value.parse().map_err(|_| format!("prob must be a number from 0 to 1, got `{value}`"))?;
                if !(0.0..=1.0).contains(&p) {
                    return Err(format!("prob must be from 0 to 1, got `{value}`"));
                }
                rule = rule.probability(p);
            }
            "from" => rule = rule.from(parse_duration(value)?),
            "until" => rule = rule.until(parse_duration(value)?),
            "expect" => rule = rule.expect(parse_times(value)?),
            "jitter" => match &mut rule.fault {
                Fault::Latency { jitter, .. } => *jitter = parse_duration(value)?,
                _ => return Err(wrong()),
            },
            "phase" => match &mut rule.fault {
                Fault::Latency { phase, .. } => {
                    *phase = match value.to_ascii_lowercase().as_str() {
                        "command" => LatencyPhase::BeforeCommand,
                        "reply" => LatencyPhase::BeforeReply,
                        _ => return Err(format!("phase must be `command` or `reply`, got `{value}`")),
                    }
                }
                _ => return Err(wrong()),
            },
            "after" => match &mut rule.fault {
                Fault::Close { after_bytes } | Fault::Reset { after_bytes } => {
                    *after_bytes = parse_u64("after", value)?.min(usize::MAX as u64) as usize
                }
                _ => return Err(wrong()),
            },
            "delay" => match &mut rule.fault {
                Fault::Partial { delay, .. } => *delay = parse_duration(value)?,
                _ => return Err(wrong()),
            },
            other => return Err(format!("unknown option `{other}=`")),
        }
    }
    Ok(rule)
}

impl FromStr for FaultRule {
    type Err = RuleParseError;

    /// Parses the rule text syntax (see the `fault` module docs):
    ///
    /// ```
    /// use redis_harness::fault::FaultRule;
    /// let rule: FaultRule = "error LOADING cmd=get times=2".parse().unwrap();
    /// assert_eq!(rule.to_string(), "error \"LOADING Redis is loading the dataset in memory\" cmd=GET times=2");
    /// assert!("latency soon".parse::<FaultRule>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<FaultRule, RuleParseError> {
        parse_rule(s).map_err(|reason| RuleParseError { text: s.to_string(), reason })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(s: &str) {
        let rule: FaultRule = s.parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rule.to_string(), s);
        let again: FaultRule = rule.to_string().parse().unwrap();
        assert_eq!(again.to_string(), s);
    }

    #[test]
    fn display_parses_back() {
        round_trip("latency 100ms");
        round_trip("latency 1s jitter=250us phase=command cmd=GET,SET prob=0.25");
        round_trip("stall cmd=BLPOP client-name=\"worker 1\"");
        round_trip("close after=7 nth=3");
        round_trip("reset client-id=4 times=2..=5");
        round_trip("slow-close 2s new-connections");
        round_trip("partial 3 delay=5ms times=2");
        round_trip("bandwidth 1000 from=1s until=120s");
        assert_eq!("stall until=2m".parse::<FaultRule>().unwrap().until, Some(Duration::from_secs(120)));
        round_trip("error \"BUSY custom text\" expect=1..");
        round_trip("error ERRX");
        round_trip("drop-reply cmd=SET expect=2");
        round_trip("refuse");
        round_trip("stop-accepting");
        round_trip("max-clients");
        round_trip("auth-fail 2");
        round_trip("tls-stall times=1");
        round_trip("tls-close prob=0.5 expect=1..");
        for cert in BadCertificate::ALL {
            round_trip(&format!("tls-bad-cert {} nth=2", cert.name()));
        }
        assert!("tls-bad-cert self-signed"
            .parse::<FaultRule>()
            .unwrap_err()
            .reason()
            .contains("not a certificate kind"));
        round_trip("latency 200ms cmd=@write");
        round_trip("close cmd=@read,GET,SET* family=SET,HSET nth=2");
        round_trip("error ERRX family=INCR");
    }

    #[test]
    fn named_errors_expand() {
        let r: FaultRule = "error masterdown".parse().unwrap();
        assert_eq!(r.fault, Fault::Error(errors::MASTERDOWN.into()));
    }

    #[test]
    fn errors_say_why() {
        let e = "latency".parse::<FaultRule>().unwrap_err();
        assert_eq!(e.to_string(), "invalid fault rule `latency`: `latency` needs a duration");
        assert!("close jitter=1ms".parse::<FaultRule>().unwrap_err().reason().contains("does not apply"));
        assert!("explode".parse::<FaultRule>().unwrap_err().reason().contains("unknown fault"));
        assert!("latency 5".parse::<FaultRule>().unwrap_err().reason().contains("unit"));
        assert!("error \"open".parse::<FaultRule>().unwrap_err().reason().contains("quote"));
        assert!("stall prob=2".parse::<FaultRule>().is_err());
        assert!("stall nth=0".parse::<FaultRule>().is_err());
        assert!("partial 0".parse::<FaultRule>().is_err());
        assert!("".parse::<FaultRule>().is_err());
        assert!("stall cmd=@wirte".parse::<FaultRule>().unwrap_err().reason().contains("not a Redis ACL category"));
        assert!("stall family=".parse::<FaultRule>().is_err());
    }

    #[test]
    fn times_ranges() {
        assert_eq!(parse_times("3").unwrap(), Times::from(3));
        assert_eq!(parse_times("2..5").unwrap(), Times::from(2..5));
        assert_eq!(parse_times("2..=5").unwrap(), Times::from(2..=5));
        assert_eq!(parse_times("2..").unwrap(), Times::from(2..));
        assert!(parse_times("x..").is_err());
    }
}
