//! The `HARNESS` admin namespace: fault rules and connection control over
//! RESP, for clients in other languages. Off unless enabled; when off the
//! name gets Redis's unknown-command error.
//!
//! On the fake server HARNESS is an ordinary command of dispatch (the
//! engine's admin command, the command layer's `harness` module; not listed in the command table so that COMMAND and ACL CAT
//! keep Redis's lists): refused with NOAUTH before authentication, subject
//! to ACL as a command in the `@admin`, `@dangerous` and `@slow` categories,
//! and queued inside MULTI. The proxy applies the same rules with the
//! upstream's verdict (see the proxy). docs/faults.md has the trust model.

use bytes::Bytes;

use super::engine::Hub;
use super::model::FaultRule;
use crate::protocol::Reply;

const HELP: &[&str] = &[
    "HARNESS <subcommand> [<arg> ...]. redis-harness test controls (enabled with --admin). Subcommands are:",
    "FAULT ADD <rule>",
    "    Install a fault rule (rule text as in docs/faults.md); replies with its id.",
    "FAULT LIST",
    "    List installed rules with their ids and hit counts.",
    "FAULT DEL <id>",
    "    Remove one rule; replies 1 if it existed.",
    "FAULT CLEAR",
    "    Remove every rule.",
    "KILL-ALL",
    "    Close every other client connection now; replies with how many.",
    "SET-PASSWORD <password>",
    "    Change requirepass for new connections (empty: none).",
    "SEED",
    "    The seed behind every random choice.",
    "HELP",
    "    Print this help.",
];

/// What a HARNESS command asks of its host, after [`run`].
pub(crate) enum Request {
    /// Done: send this reply.
    Reply(Reply),
    /// Close every connection but the caller's; reply with how many.
    KillAll,
    /// Change `requirepass` to this (empty: none); reply OK.
    SetPassword(String),
}

/// Runs one `HARNESS` command (the caller checked it is enabled and
/// allowed): the fault-rule subcommands here, the rest left to the host.
pub(crate) fn run(hub: &Hub, args: &[Bytes]) -> Request {
    Request::Reply(match run_rules(hub, args) {
        Ok(r) => r,
        Err(req) => return req,
    })
}

fn run_rules(hub: &Hub, args: &[Bytes]) -> Result<Reply, Request> {
    let word = |i: usize| args.get(i).map(|a| String::from_utf8_lossy(a).to_ascii_uppercase()).unwrap_or_default();
    let arity = |name: &str| Reply::error(format!("ERR wrong number of arguments for 'harness|{name}' command"));
    Ok(match (word(1).as_str(), word(2).as_str()) {
        ("", _) => arity("help"),
        ("HELP", _) => Reply::Array(HELP.iter().map(|l| Reply::Status(Bytes::from_static(l.as_bytes()))).collect()),
        ("FAULT", "ADD") => {
            if args.len() < 4 {
                return Ok(arity("fault|add"));
            }
            let text = rule_text(&args[3..]);
            match text.parse::<FaultRule>() {
                Ok(rule) => Reply::Int(hub.add(rule, false).0 as i64),
                Err(e) => Reply::error(format!("ERR {e}").replace(['\r', '\n'], " ")),
            }
        }
        ("FAULT", "LIST") => Reply::Array(
            hub.list()
                .into_iter()
                .map(|r| Reply::Bulk(Bytes::from(format!("id={} hits={} rule={}", r.id, r.hits, r.text))))
                .collect(),
        ),
        ("FAULT", "DEL") => match args.get(3).and_then(|a| std::str::from_utf8(a).ok()?.parse::<u64>().ok()) {
            Some(rid) if args.len() == 4 => Reply::Int(hub.remove(rid).is_some() as i64),
            _ if args.len() != 4 => arity("fault|del"),
            _ => Reply::error("ERR value is not an integer or out of range"),
        },
        ("FAULT", "CLEAR") => {
            hub.clear();
            Reply::ok()
        }
        ("KILL-ALL", _) => return Err(Request::KillAll),
        ("SET-PASSWORD", _) if args.len() == 3 => {
            return Err(Request::SetPassword(String::from_utf8_lossy(&args[2]).into_owned()))
        }
        ("SET-PASSWORD", _) => arity("set-password"),
        ("SEED", _) => Reply::Bulk(Bytes::from(hub.seed().to_string())),
        _ => {
            let sub = args[1..].iter().take(2).map(|a| String::from_utf8_lossy(a)).collect::<Vec<_>>().join(" ");
            Reply::error(format!("ERR unknown subcommand '{sub}'. Try HARNESS HELP.").replace(['\r', '\n'], " "))
        }
    })
}

/// The rule text of `HARNESS FAULT ADD`: one argument is the whole text;
/// several are words (quoted again where needed, so `error "BUSY x"` from
/// redis-cli arrives intact).
fn rule_text(args: &[Bytes]) -> String {
    if args.len() == 1 {
        return String::from_utf8_lossy(&args[0]).into_owned();
    }
    args.iter()
        .map(|a| {
            let s = String::from_utf8_lossy(a);
            if s.contains(char::is_whitespace) {
                super::display::quote(&s)
            } else {
                s.into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
