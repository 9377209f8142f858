//! Differential tests: every script under `fixtures/diff/` runs against the
//! fake server and a real Redis, in RESP2 and RESP3, and the raw replies must
//! match byte for byte (see `fixtures/diff/README.md` for the script format).
//!
//! The real side is a `redis-server` process, or the backend
//! `REDIS_HARNESS_BACKEND` names if it is a real one (`container`);
//! `scripts_match_container_subset` also runs some scripts on a container.

#[path = "../common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{pairs_sorted, raw_to, reference_on_or_skip, reference_redis_or_skip, render, try_decode, RawConn};
use redis_harness::backend::{Backend, BackendKind};
use redis_harness::fault::FaultRule;
use redis_harness::FakeRedis;

/// How a reply is compared.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Compare {
    /// Byte for byte.
    Exact,
    /// Top-level elements in any order (Redis leaves the order undefined).
    Unordered,
    /// Top-level (field, value) pairs of a flat array in any order.
    Pairs,
    /// Only the reply's type.
    Type,
    /// Exactly, except the values of the fields `!mask` names (only their types).
    Masked,
}

/// One script line.
#[derive(Debug)]
struct Step {
    line: usize,
    conn: String,
    compare: Compare,
    send: Option<Vec<Vec<u8>>>,
    raw: Option<Vec<u8>>,
    read: bool,
    expect_eof: bool,
    only_resp: Option<u8>,
    /// Fields whose values `!mask FIELD` compares by type only.
    masked: Vec<Vec<u8>>,
    text: String,
}

fn parse_script(path: &Path) -> Vec<Step> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut steps = Vec::new();
    for (i, raw_line) in text.lines().enumerate() {
        let line = raw_line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut tokens = split_line(line).unwrap_or_else(|| panic!("{}:{}: unbalanced quotes", path.display(), i + 1));
        let mut step = Step {
            line: i + 1,
            conn: "main".into(),
            compare: Compare::Exact,
            send: None,
            raw: None,
            read: true,
            expect_eof: false,
            only_resp: None,
            masked: Vec::new(),
            text: line.to_string(),
        };
        let mut read_only = false;
        while let Some(t) = tokens.first() {
            let t = String::from_utf8_lossy(t).into_owned();
            if let Some(name) = t.strip_prefix('@') {
                step.conn = name.to_string();
            } else if t.starts_with('!') {
                match t.as_str() {
                    "!unordered" => step.compare = Compare::Unordered,
                    "!pairs" => step.compare = Compare::Pairs,
                    "!type" => step.compare = Compare::Type,
                    "!noreply" => step.read = false,
                    "!read" => read_only = true,
                    "!eof" => step.expect_eof = true,
                    "!resp2" => step.only_resp = Some(2),
                    "!resp3" => step.only_resp = Some(3),
                    "!mask" => {
                        tokens.remove(0);
                        let field = tokens
                            .first()
                            .cloned()
                            .unwrap_or_else(|| panic!("{}:{}: !mask needs a field name", path.display(), i + 1));
                        step.masked.push(field);
                        step.compare = Compare::Masked;
                    }
                    "!raw" => {
                        tokens.remove(0);
                        let payload = tokens
                            .first()
                            .cloned()
                            .unwrap_or_else(|| panic!("{}:{}: !raw needs a payload", path.display(), i + 1));
                        step.raw = Some(payload);
                    }
                    other => panic!("{}:{}: unknown directive {other}", path.display(), i + 1),
                }
            } else {
                break;
            }
            tokens.remove(0);
        }
        if step.raw.is_none() && !read_only {
            // A bare `!eof` only waits for the close; `!eof CMD` sends CMD,
            // compares its reply, then waits for the close.
            if !tokens.is_empty() {
                step.send = Some(tokens);
            } else {
                assert!(step.expect_eof, "{}:{}: no command", path.display(), i + 1);
                step.read = false;
            }
        }
        steps.push(step);
    }
    steps
}

/// Splits like redis-cli: whitespace, "double quotes" with C escapes, 'single quotes'.
fn split_line(line: &str) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let mut cur = Vec::new();
        if b[i] == b'"' {
            i += 1;
            loop {
                if i >= b.len() {
                    return None;
                }
                match b[i] {
                    b'"' => break,
                    b'\\' if i + 1 < b.len() => {
                        i += 1;
                        match b[i] {
                            b'n' => cur.push(b'\n'),
                            b'r' => cur.push(b'\r'),
                            b't' => cur.push(b'\t'),
                            b'0' => cur.push(0),
                            b'x' if i + 2 < b.len() => {
                                let h = std::str::from_utf8(&b[i + 1..i + 3]).ok()?;
                                cur.push(u8::from_str_radix(h, 16).ok()?);
                                i += 2;
                            }
                            c => cur.push(c),
                        }
                    }
                    c => cur.push(c),
                }
                i += 1;
            }
            i += 1;
        } else if b[i] == b'\'' {
            i += 1;
            while i < b.len() && b[i] != b'\'' {
                cur.push(b[i]);
                i += 1;
            }
            if i >= b.len() {
                return None;
            }
            i += 1;
        } else {
            while i < b.len() && !b[i].is_ascii_whitespace() {
                cur.push(b[i]);
                i += 1;
            }
        }
        out.push(cur);
    }
    Some(out)
}

/// Whether two raw replies match under `how`. A reply redis-protocol
/// cannot decode (a RESP3 set of maps) is compared byte for byte whatever `how` says.
fn same(a: &[u8], b: &[u8], how: Compare, masked: &[Vec<u8>], resp: u8) -> bool {
    let decoded = || Some((try_decode(a, resp)?, try_decode(b, resp)?));
    match how {
        Compare::Masked => decoded().map_or(a == b, |(mut x, mut y)| {
            mask(&mut x, masked);
            mask(&mut y, masked);
            render(&x, false) == render(&y, false)
        }),
        Compare::Exact => a == b,
        Compare::Type => a.first() == b.first(),
        Compare::Unordered => decoded().map_or(a == b, |(x, y)| render(&x, true) == render(&y, true)),
        Compare::Pairs => decoded().map_or(a == b, |(x, y)| pairs_sorted(&x) == pairs_sorted(&y)),
    }
}

/// Replaces, anywhere in `f`, the value of each field named in `fields` (a
/// map's value, or the element after the name in an array) with a marker of
/// its type: `!mask age-seconds` compares ACL LOG entries but for their ages.
fn mask(f: &mut redis_protocol::resp3::types::OwnedFrame, fields: &[Vec<u8>]) {
    use redis_protocol::resp3::types::OwnedFrame as F;
    let named = |x: &F| match x {
        F::BlobString { data, .. } | F::SimpleString { data, .. } => fields.iter().any(|n| n[..] == data[..]),
        _ => false,
    };
    let marker = |v: &F| {
        let kind = render(v, false).chars().next().unwrap_or('?');
        F::SimpleString { data: format!("masked {kind}").into_bytes(), attributes: None }
    };
    match f {
        F::Map { data, .. } => {
            for (k, v) in data.iter_mut() {
                if named(k) {
                    *v = marker(v);
                } else {
                    mask(v, fields);
                }
            }
        }
        F::Array { data, .. } | F::Push { data, .. } => {
            let mut i = 0;
            while i < data.len() {
                if named(&data[i]) && i + 1 < data.len() {
                    data[i + 1] = marker(&data[i + 1]);
                    i += 2;
                } else {
                    mask(&mut data[i], fields);
                    i += 1;
                }
            }
        }
        _ => {}
    }
}

/// A reply for a failure message: decoded where possible, always with its raw bytes.
fn show(reply: &Option<Vec<u8>>, resp: u8) -> String {
    match reply {
        Some(b) => match try_decode(b, resp) {
            Some(f) => format!("{}   raw: {}", render(&f, false), b.escape_ascii()),
            None => format!("(not decodable by redis-protocol)   raw: {}", b.escape_ascii()),
        },
        None => "connection closed".to_string(),
    }
}

struct Pair {
    fake: RawConn,
    real: RawConn,
}

/// Runs one script against a fresh fake and a fresh real Redis of `kind`
/// (default: the reference [`reference_redis_or_skip`] picks).
fn run_script(path: &Path, resp: u8, kind: Option<BackendKind>, failures: &mut Vec<String>) {
    let real = match kind {
        Some(k) => reference_on_or_skip(k, "differential"),
        None => reference_redis_or_skip("differential"),
    };
    let Some(real) = real else { return };
    let fake = FakeRedis::builder().start_blocking();
    run_script_with(path, resp, &fake, &real, failures);
}

/// Runs one script against these two servers, appending each mismatch.
fn run_script_with(path: &Path, resp: u8, fake: &FakeRedis, real: &Backend, failures: &mut Vec<String>) {
    let steps = parse_script(path);
    let mut conns: BTreeMap<String, Pair> = BTreeMap::new();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    for step in steps {
        if step.only_resp.is_some_and(|r| r != resp) {
            continue;
        }
        let pair = conns.entry(step.conn.clone()).or_insert_with(|| {
            let mut p = Pair { fake: RawConn::tcp(fake.addr()), real: raw_to(real) };
            if resp == 3 {
                p.fake.hello3();
                p.real.hello3();
            }
            p
        });
        if let Some(args) = &step.send {
            pair.fake.send(args);
            pair.real.send(args);
        }
        if let Some(raw) = &step.raw {
            pair.fake.send_raw(raw);
            pair.real.send_raw(raw);
        }
        if step.read {
            let f = pair.fake.read_reply();
            let r = pair.real.read_reply();
            let ok = match (&f, &r) {
                (Some(f), Some(r)) => same(f, r, step.compare, &step.masked, resp),
                (None, None) => true,
                _ => false,
            };
            if !ok {
                failures.push(format!(
                    "{name}:{} (RESP{resp}) `{}`\n    fake: {}\n    real: {}",
                    step.line,
                    step.text,
                    show(&f, resp),
                    show(&r, resp)
                ));
                // A desynchronised connection would make every later line fail; stop this script.
                return;
            }
        }
        if step.expect_eof {
            let f = pair.fake.read_reply();
            let r = pair.real.read_reply();
            if f.is_some() || r.is_some() {
                failures.push(format!(
                    "{name}:{} (RESP{resp}) expected both connections closed; fake gave {:?}, real gave {:?}",
                    step.line,
                    f.map(|b| b.escape_ascii().to_string()),
                    r.map(|b| b.escape_ascii().to_string())
                ));
                return;
            }
            conns.remove(&step.conn);
        }
    }
}

fn scripts() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/diff");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "redis"))
        .filter(|p| cfg!(feature = "scripting") || !uses_scripting(p))
        .collect();
    files.sort();
    files
}

/// Whether a script sends scripting commands (skipped when the crate is
/// built without its `scripting` feature: the fake answers them as unknown).
fn uses_scripting(path: &Path) -> bool {
    let text = std::fs::read_to_string(path).unwrap_or_default().to_ascii_lowercase();
    text.lines().filter(|l| !l.trim_start().starts_with('#')).any(|l| {
        l.split_whitespace().find(|w| !w.starts_with('@') && !w.starts_with('!')).is_some_and(|w| {
            ["eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro", "function", "script"].contains(&w)
        })
    })
}

fn run_all(resp: u8) {
    run_scripts(resp, None, |_| true);
}

/// Runs the scripts `pick` accepts (and `REDIS_HARNESS_DIFF` lets through) on `kind`.
fn run_scripts(resp: u8, kind: Option<BackendKind>, pick: impl Fn(&str) -> bool) {
    let files: Vec<PathBuf> =
        scripts().into_iter().filter(|f| pick(&f.file_name().unwrap_or_default().to_string_lossy())).collect();
    assert!(!files.is_empty(), "no scripts under fixtures/diff");
    // Optional filter: REDIS_HARNESS_DIFF=strings runs only files whose name contains it.
    let filter = std::env::var("REDIS_HARNESS_DIFF").ok();
    let mut failures = Vec::new();
    let mut ran = 0;
    for f in &files {
        if filter.as_deref().is_some_and(|flt| !f.to_string_lossy().contains(flt)) {
            continue;
        }
        run_script(f, resp, kind, &mut failures);
        ran += 1;
    }
    assert!(
        failures.is_empty(),
        "{} mismatch(es) between the fake and the {} Redis over {ran} script(s):\n{}",
        failures.len(),
        kind.map_or_else(|| "reference".to_string(), |k| k.to_string()),
        failures.join("\n")
    );
}

#[test]
fn scripts_match_real_redis_resp2() {
    run_all(2);
}

#[test]
fn scripts_match_real_redis_resp3() {
    run_all(3);
}

/// Scripts also run on a container by `scripts_match_container_subset`: one
/// per command family, so CI time stays reasonable (each script needs a
/// fresh container per protocol). All of them run on a container with
/// `REDIS_HARNESS_BACKEND=container` (`just test-container`).
const CONTAINER_SUBSET: &[&str] = &[
    "acl.redis",
    "blocking.redis",
    "connection.redis",
    "core.redis",
    "expire.redis",
    "geo.redis",
    "hashes.redis",
    "keys.redis",
    "lists.redis",
    "multi_watch.redis",
    "pubsub.redis",
    "sets.redis",
    "strings.redis",
    "zsets_range.redis",
];

#[test]
fn scripts_match_container_subset() {
    if BackendKind::from_env_or(BackendKind::Process) == BackendKind::Container {
        eprintln!(
            "skipped scripts_match_container_subset: REDIS_HARNESS_BACKEND=container already runs every script there"
        );
        return;
    }
    let container = Backend::builder(BackendKind::Container).fault_proxy(false);
    if !Backend::available_or_skip(&container, "scripts_match_container_subset") {
        return;
    }
    for resp in [2, 3] {
        run_scripts(resp, Some(BackendKind::Container), |name| CONTAINER_SUBSET.contains(&name));
    }
}

/// The harness must catch a fake that answers wrong: the same runner, with a
/// fake whose INCR reply is replaced (through its own fault rules) by a
/// plausible but wrong one, must report that line on each real backend.
#[test]
fn deliberately_broken_fake_reply_is_caught_on_process_and_container() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("broken.redis");
    std::fs::write(&script, "SET counter 10\nINCR counter\nGET counter\n").unwrap();
    for kind in [BackendKind::Process, BackendKind::Container] {
        let Some(real) = reference_on_or_skip(kind, "deliberately_broken_fake_reply_is_caught") else { continue };
        for resp in [2, 3] {
            // Control: the honest fake matches, so a failure below is the corruption's.
            let fake = FakeRedis::builder().start_blocking();
            let mut failures = Vec::new();
            run_script_with(&script, resp, &fake, &real, &mut failures);
            assert!(failures.is_empty(), "{kind} RESP{resp}: the honest fake should match: {failures:?}");
            raw_to(&real).call(&["FLUSHALL"]);

            let fake = FakeRedis::builder().start_blocking();
            let _broken = fake.fault(
                FaultRule::error("WRONGTYPE Operation against a key holding the wrong kind of value")
                    .on(["INCR"])
                    .nth(1),
            );
            let mut failures = Vec::new();
            run_script_with(&script, resp, &fake, &real, &mut failures);
            assert_eq!(failures.len(), 1, "{kind} RESP{resp}: {failures:?}");
            let f = &failures[0];
            assert!(f.contains("broken.redis:2") && f.contains("`INCR counter`"), "{kind}: {f}");
            assert!(f.contains("fake: -WRONGTYPE") && f.contains("real: :11"), "{kind}: {f}");
            raw_to(&real).call(&["FLUSHALL"]);
        }
    }
}

#[test]
fn script_parser_reads_directives() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.redis");
    std::fs::write(
        &p,
        "# c\n@c2 !unordered SMEMBERS s\n!raw \"PING\\r\\n\"\n!resp3 SET 'a b' \"x\\x41\"\n@q !eof QUIT\n@q2 !eof\n",
    )
    .unwrap();
    let steps = parse_script(&p);
    assert_eq!(steps.len(), 5);
    assert_eq!(steps[0].conn, "c2");
    assert_eq!(steps[0].compare, Compare::Unordered);
    assert_eq!(steps[1].raw.as_deref(), Some(&b"PING\r\n"[..]));
    assert_eq!(steps[2].send.as_ref().unwrap()[2], b"xA".to_vec());
    assert_eq!(steps[2].only_resp, Some(3));
    // `!eof CMD` sends CMD and reads its reply before expecting the close.
    assert_eq!(steps[3].send.as_deref(), Some(&[b"QUIT".to_vec()][..]));
    assert!(steps[3].read && steps[3].expect_eof);
    // A bare `!eof` sends and reads nothing.
    assert!(steps[4].send.is_none() && !steps[4].read && steps[4].expect_eof);
}

#[test]
fn undecodable_replies_compare_raw() {
    // A RESP3 set holding a map: valid RESP3 that redis-protocol refuses.
    let set_of_maps = b"~1\r\n%1\r\n+a\r\n:1\r\n".to_vec();
    assert_eq!(common::raw_frame_len(&set_of_maps), Ok(Some(set_of_maps.len())));
    assert_eq!(common::raw_frame_len(&set_of_maps[..set_of_maps.len() - 1]), Ok(None));
    assert!(try_decode(&set_of_maps, 3).is_none());
    let other = b"~1\r\n%1\r\n+a\r\n:2\r\n".to_vec();
    for how in [Compare::Exact, Compare::Unordered, Compare::Pairs] {
        assert!(same(&set_of_maps, &set_of_maps, how, &[], 3));
        assert!(!same(&set_of_maps, &other, how, &[], 3));
    }
    assert!(show(&Some(set_of_maps), 3).contains("raw: ~1\\r\\n%1"));
}

#[test]
fn masked_fields_compare_by_type_only() {
    let masked = [b"age".to_vec()];
    // RESP2: a flat field/value array; RESP3: a map.
    let a2 = b"*4\r\n$3\r\nage\r\n$3\r\n0.5\r\n$1\r\nn\r\n:1\r\n";
    let b2 = b"*4\r\n$3\r\nage\r\n$1\r\n7\r\n$1\r\nn\r\n:1\r\n";
    let c2 = b"*4\r\n$3\r\nage\r\n$1\r\n7\r\n$1\r\nn\r\n:2\r\n";
    assert!(same(a2, b2, Compare::Masked, &masked, 2));
    assert!(!same(a2, c2, Compare::Masked, &masked, 2));
    let a3 = b"*1\r\n%2\r\n$3\r\nage\r\n,0.5\r\n$1\r\nn\r\n:1\r\n";
    let b3 = b"*1\r\n%2\r\n$3\r\nage\r\n,9\r\n$1\r\nn\r\n:1\r\n";
    let c3 = b"*1\r\n%2\r\n$3\r\nage\r\n:9\r\n$1\r\nn\r\n:1\r\n";
    assert!(same(a3, b3, Compare::Masked, &masked, 3));
    // The type still counts.
    assert!(!same(a3, c3, Compare::Masked, &masked, 3));
}
