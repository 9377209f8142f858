//! Fuzzing that runs with the test suite (stable Rust, proptest, no extra
//! toolchain): the request parser and command dispatch of the fake server.
//!
//! - `dispatch_in_process`: batches of random commands from the fake's own
//!   command table (COMMAND DOCS: arguments, option keywords) with edge-value
//!   arguments, run through [`FakeRedis::run`]; every reply must encode to
//!   well-formed RESP2 and RESP3, exactly the frames it holds, with no CR/LF
//!   in an error or status text, and no handler may panic.
//! - `dispatch_over_socket`: fewer, pipelined batches over TCP, in RESP2 or
//!   RESP3, ended by RESET; every byte on the wire must be well-formed frames
//!   up to `+RESET`, and a PING from another connection must answer after
//!   each batch (within 10 s).
//! - `parser_over_socket`: random byte streams (valid and broken headers,
//!   inline requests, CR/LF/NUL) in random writes; the replies must be
//!   well-formed frames and the server must stay responsive.
//! - `corpus_replays`: every `fixtures/fuzz/*.resp` byte input, the same way.
//!
//! Volume: `PROPTEST_CASES` (defaults below keep the run to about a minute in
//! a debug build); `FUZZ_SEED=N` replays a printed seed; failures are
//! persisted in `proptest-regressions/fuzz.txt` (committed: replayed first).
//! Long run: `just fuzz-long`. Exclusions: [`model::EXCLUDED`]. `FUZZ_SHOW=1`
//! prints each in-process command (with `-- --nocapture`).

#[path = "../common/mod.rs"]
mod common;
mod model;
mod resp;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use redis_harness::{FakeRedis, Reply};

use model::{edge_values, generate, script_line, Command};
use resp::{frame_len, frames, Proto};

/// Where failures are kept as regression cases (replayed before new ones).
const REGRESSIONS: &str = "proptest-regressions/fuzz.txt";
/// How long a reply, or the responsiveness PING, may take.
const BOUND: Duration = Duration::from_secs(10);

/// The command table and the edge values, read once from a fake server.
fn table() -> &'static (Vec<Command>, Vec<Vec<u8>>) {
    static TABLE: OnceLock<(Vec<Command>, Vec<Vec<u8>>)> = OnceLock::new();
    TABLE.get_or_init(|| {
        let server = FakeRedis::builder().start_blocking();
        (model::commands(&server), edge_values())
    })
}

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A runner with a printed seed (`FUZZ_SEED` replays it).
fn runner(test: &str, default_cases: u32) -> TestRunner {
    let seed = std::env::var("FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| fastrand::u64(..));
    eprintln!("{test}: seed {seed} (replay with FUZZ_SEED={seed})");
    let config = Config {
        cases: cases(default_cases),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(REGRESSIONS))),
        max_shrink_iters: 2000,
        ..Config::default()
    };
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// A batch: each command is a sequence of choice words for [`generate`].
fn batch(max_cmds: usize) -> impl Strategy<Value = Vec<Vec<u32>>> {
    prop::collection::vec(prop::collection::vec(any::<u32>(), 0..24), 1..max_cmds)
}

fn run_case<T: std::fmt::Debug>(
    test: &str,
    default_cases: u32,
    strategy: impl Strategy<Value = T>,
    f: impl Fn(&T) -> Result<(), String>,
) {
    let mut runner = runner(test, default_cases);
    let result = runner.run(&strategy, |case| f(&case).map_err(TestCaseError::fail));
    if let Err(e) = result {
        panic!("{test}: {e}");
    }
}

/// Whether `reply`, or anything inside it, is an error or status whose text has a CR or LF.
fn multiline_text(reply: &Reply) -> Option<&[u8]> {
    match reply {
        Reply::Status(t) | Reply::Error(t) if t.iter().any(|&c| c == b'\r' || c == b'\n') => Some(t),
        Reply::Array(v) | Reply::Set(v) | Reply::Push(v) | Reply::Multi(v) => v.iter().find_map(multiline_text),
        Reply::Map(p) => p.iter().find_map(|(k, v)| multiline_text(k).or_else(|| multiline_text(v))),
        _ => None,
    }
}

/// Checks one in-process reply: RESP2 and RESP3 encodings are exactly the
/// frames the reply holds, each strictly well-formed.
fn check_reply(reply: &Reply) -> Result<(), String> {
    if let Some(t) = multiline_text(reply) {
        return Err(format!("a status or error text with CR/LF: {:?}", String::from_utf8_lossy(t)));
    }
    let want = match reply {
        Reply::None => 0,
        Reply::Multi(v) => v.len(),
        _ => 1,
    };
    for (resp, proto) in [(2, Proto::Resp2), (3, Proto::Resp3)] {
        let bytes = reply.to_bytes(resp);
        let got = frames(&bytes, proto).map_err(|e| format!("RESP{resp}: {e} in {:?}", show(&bytes)))?;
        if got != want {
            return Err(format!("RESP{resp}: {got} frames, want {want}: {:?}", show(&bytes)));
        }
    }
    Ok(())
}

fn show(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(400)]).into_owned();
    if b.len() > 400 {
        format!("{s}...({} bytes)", b.len())
    } else {
        s
    }
}

/// Runs a batch in process on a fresh server: no panic, every reply well-formed.
fn run_in_process(words: &[Vec<u32>]) -> Result<(), String> {
    let (table, edges) = table();
    let server = FakeRedis::builder().seed(1).start_blocking();
    let mut done = Vec::new();
    for w in words {
        let args = generate(table, edges, w);
        let line = script_line(&args);
        if std::env::var("FUZZ_SHOW").is_ok() {
            eprintln!("{line}");
        }
        let reply = catch_unwind(AssertUnwindSafe(|| server.run(&args)))
            .map_err(|_| format!("the server panicked on `{line}` after:\n{}", done.join("\n")))?;
        check_reply(&reply).map_err(|e| format!("`{line}`: {e}\nafter:\n{}", done.join("\n")))?;
        done.push(line);
    }
    // Still serving: the lock is not poisoned, the store answers.
    match catch_unwind(AssertUnwindSafe(|| server.run(["PING"]))) {
        Ok(r) if r == Reply::status("PONG") => Ok(()),
        other => Err(format!("PING after the batch: {other:?}\nbatch:\n{}", done.join("\n"))),
    }
}

#[test]
fn dispatch_in_process() {
    run_case("dispatch_in_process", 3000, batch(24), |w| run_in_process(w));
}

/// Reads one frame (any protocol) within [`BOUND`]; `None` at EOF.
fn read_frame(s: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Option<Vec<u8>>, String> {
    loop {
        if !buf.is_empty() {
            if let Some(n) = frame_len(buf, Proto::Any)? {
                return Ok(Some(buf.drain(..n).collect()));
            }
        }
        let mut tmp = [0u8; 65536];
        match s.read(&mut tmp) {
            Ok(0) => {
                return if buf.is_empty() { Ok(None) } else { Err(format!("EOF inside a frame: {:?}", show(buf))) }
            }
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(None),
            Err(e) => return Err(format!("no complete reply within {BOUND:?} ({e}); have {:?}", show(buf))),
        }
    }
}

fn connect(server: &FakeRedis) -> TcpStream {
    let s = TcpStream::connect(server.addr()).expect("connecting to the fake");
    s.set_read_timeout(Some(BOUND)).unwrap();
    s.set_write_timeout(Some(BOUND)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// A PING from a new connection answers within [`BOUND`] (any well-formed
/// reply counts: a batch may have set a password or a client limit).
fn responsive(server: &FakeRedis, what: &str) -> Result<(), String> {
    let mut s = connect(server);
    s.write_all(b"*1\r\n$4\r\nPING\r\n").map_err(|e| format!("PING after {what}: {e}"))?;
    match read_frame(&mut s, &mut Vec::new()) {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(format!("PING after {what}: connection closed without a reply")),
        Err(e) => Err(format!("PING after {what}: {e}")),
    }
}

/// Writes `chunks` from another thread (replies may be large: the reader must
/// not wait for the writer), reads frames until one satisfies `last` or EOF.
/// Returns the frames and whether the stream ended at EOF.
fn exchange(
    server: &FakeRedis,
    chunks: Vec<Vec<u8>>,
    last: impl Fn(&[u8]) -> bool,
) -> Result<(Vec<Vec<u8>>, bool), String> {
    let mut s = connect(server);
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        for c in chunks {
            if w.write_all(&c).is_err() {
                break; // the server closed the connection (QUIT, CLIENT KILL, a protocol error)
            }
        }
    });
    let mut buf = Vec::new();
    let mut got = Vec::new();
    let eof = loop {
        match read_frame(&mut s, &mut buf)? {
            None => break true,
            Some(f) => {
                let done = last(&f);
                got.push(f);
                if done {
                    break false;
                }
            }
        }
    };
    drop(s);
    writer.join().unwrap();
    Ok((got, eof))
}

fn run_over_socket(resp3: bool, words: &[Vec<u32>]) -> Result<(), String> {
    let (table, edges) = table();
    let server = FakeRedis::builder().seed(1).start_blocking();
    let mut lines = Vec::new();
    let mut wire = Vec::new();
    if resp3 {
        wire.extend(common::multibulk(&[b"HELLO".to_vec(), b"3".to_vec()]));
        lines.push("HELLO 3".to_string());
    }
    let mut may_close = false;
    for w in words {
        let args = generate(table, edges, w);
        let name = args[0].to_ascii_lowercase();
        may_close |=
            name == b"quit" || (name == b"client" && args.get(1).is_some_and(|a| a.eq_ignore_ascii_case(b"kill")));
        lines.push(script_line(&args));
        wire.extend(common::multibulk(&args));
    }
    // RESET leaves MULTI, pub/sub, CLIENT REPLY OFF and RESP3, and answers +RESET in any state.
    wire.extend(common::multibulk(&[b"RESET".to_vec()]));
    let batch = lines.join("\n");
    let (_, eof) =
        exchange(&server, vec![wire], |f| f == b"+RESET\r\n").map_err(|e| format!("{e}\nbatch:\n{batch}"))?;
    if eof && !may_close {
        return Err(format!("the connection closed before +RESET\nbatch:\n{batch}"));
    }
    responsive(&server, &format!("the batch:\n{batch}"))
}

#[test]
fn dispatch_over_socket() {
    run_case("dispatch_over_socket", 600, (any::<bool>(), batch(16)), |(resp3, w)| run_over_socket(*resp3, w));
}

/// Pieces of request streams: commands (some with CR/LF and NUL in their
/// arguments), broken and over-limit headers, inline requests with quotes.
const FRAGMENTS: &[&[u8]] = &[
    b"*1\r\n$4\r\nPING\r\n",
    b"*2\r\n$4\r\nECHO\r\n$5\r\na\r\nb\0\r\n",
    b"*3\r\n$3\r\nACL\r\n$3\r\nCAT\r\n$12\r\nx\r\n+OK\r\n:66\r\n",
    b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
    b"PING\r\n",
    b"ECHO \"a\\r\\nb\"\r\n",
    b"SET k 'v w'\n",
    b"\r\n",
    b"\n",
    b"*0\r\n",
    b"*-1\r\n",
    b"*",
    b"$",
    b"\r",
    b"\0",
    b"1",
    b"-1",
    b"*2147483648\r\n",
    b"*1\r\n$536870913\r\n",
    b"*1\r\n$-2\r\n",
    b"*1\r\n:1\r\n",
    b"*1\r\n\n\r\n",
    b"*1\r\n\xff\r\n",
    b"*01\r\n",
    b"\"unbalanced\r\n",
    b"HELLO 3\r\n",
    b"MULTI\r\n",
    b"SUBSCRIBE c\r\n",
    b"CLIENT REPLY OFF\r\n",
    b"x\r\n+OK\r\n:666\r\n",
];

/// Padding past the stream: enough bytes to end whatever request it left
/// open (see [`run_stream`]); a megabyte at most, since streams declaring a
/// longer bulk are not generated.
const MAX_PADDING: usize = 1 << 20;

/// The largest bulk length (Redis accepts up to 512 MB) a stream declares.
fn longest_bulk(input: &[u8]) -> usize {
    let mut longest = 0;
    for (i, _) in input.iter().enumerate().filter(|(_, &c)| c == b'$') {
        let digits: Vec<u8> = input[i + 1..].iter().take_while(|c| c.is_ascii_digit()).take(12).copied().collect();
        if let Ok(n) = String::from_utf8(digits).unwrap_or_default().parse::<usize>() {
            if n <= 512 << 20 {
                longest = longest.max(n);
            }
        }
    }
    longest
}

fn stream() -> impl Strategy<Value = (Vec<Vec<u8>>, Vec<usize>)> {
    let piece = prop_oneof![
        6 => prop::sample::select(FRAGMENTS).prop_map(|f| f.to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..12),
    ];
    (prop::collection::vec(piece, 1..24), prop::collection::vec(1usize..40, 1..6))
        .prop_filter("declares a bulk longer than the padding", |(parts, _)| {
            longest_bulk(&parts.concat()) + 2 * PAD_LINE < MAX_PADDING
        })
}

/// Inline requests (and headers) stop at a NUL, as Redis's strchr does: a
/// line with a NUL never ends, and waits for more until the 64 KB limit.
const PAD_LINE: usize = 70_000;

/// Sends a byte stream cut into writes, then RESET and PING, then padding;
/// every reply must be a well-formed frame until the PING's +PONG, or until
/// the server closes the connection after a protocol error; then another
/// connection's PING answers.
///
/// The padding ends any request the stream left open: a bulk still waiting
/// for its bytes gets them, and a line that never ends (a NUL in an inline
/// request or header: Redis's strchr stops there, so does the fake) grows
/// past the 64 KB limit and gets its protocol error.
fn run_stream(parts: &[Vec<u8>], cuts: &[usize]) -> Result<(), String> {
    let server = FakeRedis::builder().seed(1).start_blocking();
    let mut input = parts.concat();
    // RESET first so the PING is answered +PONG whatever state the stream left.
    input.extend_from_slice(b"\r\n*1\r\n$5\r\nRESET\r\n*1\r\n$4\r\nPING\r\n");
    let pad = longest_bulk(&input) + 2 * PAD_LINE;
    let mut chunks = Vec::new();
    let (mut at, mut cut) = (0, cuts.iter().cycle());
    while at < input.len() {
        let n = (*cut.next().unwrap()).min(input.len() - at);
        chunks.push(input[at..at + n].to_vec());
        at += n;
    }
    let what = format!("the stream {:?}", show(&input));
    chunks.push(vec![b'x'; pad]);
    let (got, eof) = exchange(&server, chunks, |f| f == b"+PONG\r\n").map_err(|e| format!("{e}\nafter {what}"))?;
    if eof && !got.last().is_some_and(|f| f.starts_with(b"-ERR Protocol error")) {
        return Err(format!(
            "closed without a protocol error; replies {:?}\nafter {what}",
            got.iter().map(|f| show(f)).collect::<Vec<_>>()
        ));
    }
    responsive(&server, &what)
}

#[test]
fn parser_over_socket() {
    run_case("parser_over_socket", 800, stream(), |(parts, cuts)| run_stream(parts, cuts));
}

/// Every byte input kept in `fixtures/fuzz/` (inputs that once broke the
/// server, and the forged-reply inputs of issue 17) is replayed whole and
/// byte by byte.
#[test]
fn corpus_replays() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/fuzz");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "resp"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures/fuzz/*.resp inputs");
    for f in files {
        let input = std::fs::read(&f).unwrap();
        for cuts in [&[usize::MAX][..], &[1]] {
            if let Err(e) = run_stream(std::slice::from_ref(&input), cuts) {
                panic!("{} (writes of {:?} bytes): {e}", f.display(), cuts[0]);
            }
        }
    }
}

/// The forgery of issue 17 finding 6, over the socket: each command gets
/// exactly one reply, a one-line error, and the next command's reply follows.
#[test]
fn error_texts_quoting_crlf_are_one_line() {
    let server = FakeRedis::builder().start_blocking();
    let forged = b"x\r\n+OK\r\n:666".to_vec();
    let cmds: Vec<Vec<&[u8]>> = vec![
        vec![b"ACL", b"CAT", &forged],
        vec![b"HELLO", b"3", &forged],
        vec![b"ACL", b"DRYRUN", b"default", &forged],
        vec![b"ACL", b"DRYRUN", &forged, b"get"],
        vec![b"ACL", b"SETUSER", b"u", &forged],
        vec![b"CONFIG", b"SET", &forged, b"1"],
        vec![b"CLIENT", b"KILL", b"TYPE", &forged],
        vec![b"CLIENT", b"LIST", b"TYPE", &forged],
        vec![b"CLIENT", b"KILL", b"USER", &forged],
        vec![b"CLIENT", b"SETINFO", &forged, b"v"],
        vec![b"DEBUG", &forged],
        vec![&forged, b"a"],
    ];
    for resp3 in [false, true] {
        let mut wire = Vec::new();
        if resp3 {
            wire.extend(common::multibulk(&[b"HELLO".to_vec(), b"3".to_vec()]));
        }
        for c in &cmds {
            wire.extend(common::multibulk(&c.iter().map(|a| a.to_vec()).collect::<Vec<_>>()));
        }
        wire.extend(common::multibulk(&[b"PING".to_vec()]));
        let (got, eof) = exchange(&server, vec![wire], |f| f == b"+PONG\r\n").unwrap();
        assert!(!eof, "closed early: {got:?}");
        let errors: Vec<_> = got.iter().skip(usize::from(resp3)).collect();
        assert_eq!(errors.len(), cmds.len() + 1, "one reply per command: {errors:?}");
        for (c, e) in cmds.iter().zip(&errors) {
            assert!(
                e.starts_with(b"-ERR ") && e.windows(6).any(|w| w == b"x  +OK"),
                "{:?} -> {:?}",
                script_line(&c.iter().map(|a| a.to_vec()).collect::<Vec<_>>()),
                show(e)
            );
        }
    }
}
