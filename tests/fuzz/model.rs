//! The command table the dispatch fuzzer draws from, read from the fake's
//! own `COMMAND DOCS` and `COMMAND INFO` (so a command added to the table is
//! fuzzed without touching this file), and a generator that turns a
//! sequence of choice words into a command.
//!
//! Choice words make shrinking work: proptest shrinks each word towards 0,
//! and 0 always picks the plainest option (optional arguments left out, the
//! first alternative, a typed value rather than an edge value), so a failing
//! case shrinks to a short, plain command.

use redis_harness::{FakeRedis, Reply};

/// Commands the fuzzer never sends, and why.
///
/// Everything else in the table is fuzzed. SHUTDOWN, MONITOR, CLIENT PAUSE,
/// WAIT and FAILOVER would stop or stall the server or the connection by
/// design; the fake has none of them today, they are listed so a later
/// addition does not turn the fuzzer into a hang. Not excluded but tamed:
/// blocking commands get timeouts of 10-20 ms (or invalid ones), never 0;
/// DEBUG SLEEP sleeps 0 or 1 ms ([`blocking_safe`]).
pub const EXCLUDED: &[(&str, &str)] = &[
    ("shutdown", "stops the server"),
    ("monitor", "turns the connection into a MONITOR feed"),
    ("client|pause", "stalls every client for the timeout"),
    ("wait", "waits for replicas"),
    ("failover", "coordinates replicas"),
    ("replicaof", "reconfigures replication"),
    ("slaveof", "reconfigures replication"),
    ("sync", "starts a replication stream"),
    ("psync", "starts a replication stream"),
];

/// One argument of a command, from COMMAND DOCS.
#[derive(Clone, Debug)]
pub struct Arg {
    pub name: String,
    pub kind: String,
    pub token: Option<Vec<u8>>,
    pub optional: bool,
    pub multiple: bool,
    pub children: Vec<Arg>,
}

/// A command or subcommand: the words that name it and its arguments.
#[derive(Clone, Debug)]
pub struct Command {
    /// `client|kill`.
    pub full: String,
    /// `["CLIENT", "KILL"]`.
    pub words: Vec<Vec<u8>>,
    pub args: Vec<Arg>,
    /// Every option keyword of the command (its tokens), sent as edge values too.
    pub tokens: Vec<Vec<u8>>,
    /// The command blocks (BLPOP ...): its timeout is kept tiny.
    pub blocking: bool,
}

fn field<'a>(pairs: &'a [(Reply, Reply)], name: &str) -> Option<&'a Reply> {
    pairs
        .iter()
        .find(|(k, _)| matches!(k, Reply::Bulk(b) | Reply::Status(b) if b.as_ref() == name.as_bytes()))
        .map(|(_, v)| v)
}

fn text(r: Option<&Reply>) -> Option<String> {
    match r {
        Some(Reply::Bulk(b)) | Some(Reply::Status(b)) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

fn list(r: Option<&Reply>) -> &[Reply] {
    match r {
        Some(Reply::Array(v)) | Some(Reply::Set(v)) => v,
        _ => &[],
    }
}

fn parse_arg(r: &Reply) -> Option<Arg> {
    let Reply::Map(p) = r else { return None };
    let flags: Vec<String> = list(field(p, "flags")).iter().filter_map(|f| text(Some(f))).collect();
    Some(Arg {
        name: text(field(p, "name")).unwrap_or_default(),
        kind: text(field(p, "type")).unwrap_or_default(),
        token: text(field(p, "token")).map(String::into_bytes),
        optional: flags.iter().any(|f| f == "optional"),
        multiple: flags.iter().any(|f| f == "multiple"),
        children: list(field(p, "arguments")).iter().filter_map(parse_arg).collect(),
    })
}

fn collect_tokens(args: &[Arg], out: &mut Vec<Vec<u8>>) {
    for a in args {
        if let Some(t) = &a.token {
            if !out.contains(t) {
                out.push(t.clone());
            }
        }
        collect_tokens(&a.children, out);
    }
}

/// The fake's command table, subcommands flattened, exclusions left out.
pub fn commands(server: &FakeRedis) -> Vec<Command> {
    let Reply::Map(docs) = server.run(["COMMAND", "DOCS"]) else { panic!("COMMAND DOCS is not a map") };
    let mut blocking = Vec::new();
    if let Reply::Array(infos) = server.run(["COMMAND", "INFO"]) {
        for info in infos {
            if let Reply::Array(f) = info {
                if list(f.get(2)).iter().any(|x| text(Some(x)).as_deref() == Some("blocking")) {
                    blocking.extend(text(f.first()));
                }
            }
        }
    }
    let mut out = Vec::new();
    for (name, doc) in &docs {
        let (Some(name), Reply::Map(doc)) = (text(Some(name)), doc) else { continue };
        let mut push = |full: String, doc: &[(Reply, Reply)]| {
            if EXCLUDED.iter().any(|(n, _)| *n == full) {
                return;
            }
            let args: Vec<Arg> = list(field(doc, "arguments")).iter().filter_map(parse_arg).collect();
            let mut tokens = Vec::new();
            collect_tokens(&args, &mut tokens);
            if full == "debug" {
                // DEBUG's docs list no arguments: its subcommands are the keywords.
                tokens.extend([b"SLEEP".to_vec(), b"SET-ACTIVE-EXPIRE".to_vec(), b"OBJECT".to_vec()]);
            }
            let words = full.split('|').map(|w| w.to_ascii_uppercase().into_bytes()).collect();
            out.push(Command { blocking: blocking.contains(&full), full, words, args, tokens });
        };
        match field(doc, "subcommands") {
            Some(Reply::Map(subs)) => {
                for (sub, sdoc) in subs {
                    if let (Some(sub), Reply::Map(sdoc)) = (text(Some(sub)), sdoc) {
                        push(sub, sdoc);
                    }
                }
                // The container alone, with nonsense after it.
                push(name, doc);
            }
            _ => push(name, doc),
        }
    }
    out.sort_by(|a, b| a.full.cmp(&b.full));
    assert!(out.len() > 100, "COMMAND DOCS listed only {} commands", out.len());
    out
}

/// Values that break parsers and handlers: empty, the edges of the number
/// types and past them, special floats, CR/LF (the error-forging input of
/// issue 17), NUL, non-UTF-8, range syntax, glob syntax, long strings.
pub fn edge_values() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = [
        "",
        "0",
        "-0",
        "1",
        "-1",
        "2",
        "9223372036854775807",
        "-9223372036854775808",
        "9223372036854775808",
        "-9223372036854775809",
        "18446744073709551615",
        "4294967296",
        "nan",
        "-nan",
        "NaN",
        "inf",
        "-inf",
        "+inf",
        "infinity",
        "1e308",
        "-1e308",
        "1e400",
        "4.9e-324",
        "0.1",
        "1.5",
        " 1",
        "1 ",
        "0x10",
        "1e",
        ".",
        "+",
        "-",
        "(",
        "[",
        "(1",
        "[a",
        "(inf",
        "*",
        "?",
        "[^",
        "\\",
        "\"",
        "'",
        "\r\n",
        "\r",
        "\n",
        "x\r\n+OK\r\n:666",
        "\r\n-ERR forged\r\n",
        "\0",
        "a\0b",
        "default",
        "nosuchuser",
        "k0",
        "-2147483648",
        "2147483648",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    v.push(vec![0xff, 0xfe, 0x80]);
    v.push(vec![b'x'; 300]);
    v.push(vec![b'y'; 70_000]);
    v
}

const KEYS: &[&str] = &["k0", "k1", "k2", "{t}k3", "{t}k4"];
const INTS: &[&str] = &["0", "1", "2", "3", "-1", "10", "100"];
const DOUBLES: &[&str] = &["0", "1", "1.5", "-2", "inf", "-inf", "(1", "3e2"];
const STRINGS: &[&str] = &["v", "a", "b", "f1", "hello", "1", "2.5"];
const PATTERNS: &[&str] = &["*", "k*", "?0", "[a-z]*", "*1*", "h[^e]llo"];
/// Timeouts for blocking commands: none rounds to 0 (which blocks forever).
const TIMEOUTS: &[&str] = &["0.01", "0.02", "-1", "nan", "x", "inf", ""];

/// Reads choice words; past the end every choice is 0 (the plainest).
pub struct Choices<'a> {
    words: &'a [u32],
    at: usize,
}

impl<'a> Choices<'a> {
    pub fn new(words: &'a [u32]) -> Self {
        Choices { words, at: 0 }
    }
    /// A number below `n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        let w = self.words.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        w as usize % n.max(1)
    }
    /// True with `pct` percent chance; word 0 gives false.
    pub fn flip(&mut self, pct: usize) -> bool {
        self.below(100) >= 100 - pct
    }
    fn pick<T: Clone>(&mut self, from: &[T]) -> T {
        from[self.below(from.len())].clone()
    }
}

/// Generates one command: a table entry picked by the first word, its
/// arguments following its docs, some replaced by edge values.
pub fn generate(table: &[Command], edges: &[Vec<u8>], words: &[u32]) -> Vec<Vec<u8>> {
    let mut c = Choices::new(words);
    let cmd = &table[c.below(table.len())];
    let mut out = cmd.words.clone();
    if c.flip(3) {
        // The name itself mangled: case, CR/LF appended.
        let w = &mut out[0];
        *w = if c.flip(50) { w.to_ascii_lowercase() } else { [&w[..], b"\r\n"].concat() };
    }
    for a in &cmd.args {
        arg(cmd, a, edges, &mut c, &mut out, 0);
    }
    if !cmd.blocking {
        // Sometimes one argument too many or too few.
        if c.flip(5) {
            let v = value(cmd, "string", "", edges, &mut c);
            out.push(v);
        } else if c.flip(5) && out.len() > cmd.words.len() {
            out.pop();
        }
    }
    blocking_safe(&mut out);
    out
}

fn arg(cmd: &Command, a: &Arg, edges: &[Vec<u8>], c: &mut Choices, out: &mut Vec<Vec<u8>>, depth: usize) {
    if a.optional && !c.flip(60) {
        return;
    }
    let reps = if a.multiple { 1 + c.below(3) } else { 1 };
    for _ in 0..reps {
        if let Some(t) = &a.token {
            let t = if c.flip(4) { c.pick(edges) } else { t.clone() };
            out.push(t);
        }
        match a.kind.as_str() {
            "pure-token" => {}
            "oneof" if !a.children.is_empty() && depth < 8 => {
                let child = c.pick(&a.children);
                arg(cmd, &child, edges, c, out, depth + 1);
            }
            "block" if depth < 8 => {
                for child in &a.children {
                    arg(cmd, child, edges, c, out, depth + 1);
                }
            }
            kind => {
                let v = value(cmd, kind, &a.name, edges, c);
                out.push(v);
            }
        }
    }
}

fn value(cmd: &Command, kind: &str, name: &str, edges: &[Vec<u8>], c: &mut Choices) -> Vec<u8> {
    if cmd.blocking && name == "timeout" {
        return c.pick(TIMEOUTS).as_bytes().to_vec();
    }
    if c.flip(25) {
        // An edge value, or one of this command's own option keywords.
        if !cmd.tokens.is_empty() && c.flip(30) {
            return c.pick(&cmd.tokens);
        }
        return c.pick(edges);
    }
    let from = match kind {
        "key" => KEYS,
        "integer" | "unix-time" => INTS,
        "double" => DOUBLES,
        "pattern" => PATTERNS,
        _ => STRINGS,
    };
    c.pick(from).as_bytes().to_vec()
}

/// Keeps a command from stalling the server or the connection for long:
/// DEBUG SLEEP only sleeps 0 or a millisecond (the fake sleeps up to an
/// hour). Blocking commands got tiny timeouts from the generator.
pub fn blocking_safe(args: &mut [Vec<u8>]) {
    if args.len() >= 3 && args[0].eq_ignore_ascii_case(b"debug") && args[1].eq_ignore_ascii_case(b"sleep") {
        args[2] = if args[2].len().is_multiple_of(2) { b"0".to_vec() } else { b"0.001".to_vec() };
    }
}

/// The command as a `fixtures/diff` script line (for failure reports).
pub fn script_line(args: &[Vec<u8>]) -> String {
    let words: Vec<String> = args
        .iter()
        .map(|a| {
            if !a.is_empty() && a.len() <= 60 && a.iter().all(|&c| c.is_ascii_graphic() && !b"\"'\\".contains(&c)) {
                return String::from_utf8_lossy(a).into_owned();
            }
            let mut s = String::from("\"");
            for &c in a.iter().take(60) {
                match c {
                    b'"' => s.push_str("\\\""),
                    b'\\' => s.push_str("\\\\"),
                    b' '..=b'~' => s.push(c as char),
                    _ => s.push_str(&format!("\\x{c:02x}")),
                }
            }
            if a.len() > 60 {
                s.push_str(&format!("...({} bytes)", a.len()));
            }
            s.push('"');
            s
        })
        .collect();
    words.join(" ")
}
