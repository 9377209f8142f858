//! The `HARNESS` admin namespace: fault rules and connection control over
//! RESP, for clients in other languages. Off unless enabled; when off the
//! name falls through to dispatch and gets Redis's unknown-command error.

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

/// What the host can do for the admin commands.
pub(crate) struct Ops<'a> {
    /// Closes every connection but the caller's; returns how many.
    pub kill_all: &'a dyn Fn() -> usize,
    /// Changes `requirepass`; `None` where there is no password to change (the proxy).
    pub set_password: Option<&'a dyn Fn(&str)>,
}

/// Runs one `HARNESS` command (the caller checked it is enabled).
pub(crate) fn run(hub: &Hub, args: &[Bytes], ops: Ops<'_>) -> Reply {
    let word = |i: usize| args.get(i).map(|a| String::from_utf8_lossy(a).to_ascii_uppercase()).unwrap_or_default();
    let arity = |name: &str| Reply::error(format!("ERR wrong number of arguments for 'harness|{name}' command"));
    match (word(1).as_str(), word(2).as_str()) {
        ("", _) => arity("help"),
        ("HELP", _) => Reply::Array(HELP.iter().map(|l| Reply::Status(Bytes::from_static(l.as_bytes()))).collect()),
        ("FAULT", "ADD") => {
            if args.len() < 4 {
                return arity("fault|add");
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
        ("KILL-ALL", _) => Reply::Int((ops.kill_all)() as i64),
        ("SET-PASSWORD", _) if args.len() == 3 => match ops.set_password {
            Some(set) => {
                set(&String::from_utf8_lossy(&args[2]));
                Reply::ok()
            }
            None => Reply::error("ERR SET-PASSWORD needs the fake server: the proxy does not own the password"),
        },
        ("SET-PASSWORD", _) => arity("set-password"),
        ("SEED", _) => Reply::Bulk(Bytes::from(hub.seed().to_string())),
        _ => {
            let sub = args[1..].iter().take(2).map(|a| String::from_utf8_lossy(a)).collect::<Vec<_>>().join(" ");
            Reply::error(format!("ERR unknown subcommand '{sub}'. Try HARNESS HELP.").replace(['\r', '\n'], " "))
        }
    }
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
                super::model::quote(&s)
            } else {
                s.into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
