//! The `redis-harness serve` binary, driven by redis-cli and redis-benchmark
//! (Debian's redis-tools), then stopped with SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use redis_harness::backend::require_real;

const WAIT: Duration = Duration::from_secs(20);

struct Served {
    child: Child,
    port: u16,
    lines: mpsc::Receiver<String>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `redis-harness serve --port 0` and reads the port it prints.
fn serve(extra: &[&str]) -> Served {
    serve_under(&[], extra)
}

/// [`serve`] run through a wrapper command (`prlimit --nofile=...`), if any.
fn serve_under(wrapper: &[&str], extra: &[&str]) -> Served {
    let bin = env!("CARGO_BIN_EXE_redis-harness");
    let mut cmd = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    let mut child = cmd
        .args(["serve", "--port", "0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn redis-harness serve");
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let first = lines.recv_timeout(WAIT).expect("serve prints its address");
    let port =
        first.rsplit(':').next().and_then(|p| p.trim().parse().ok()).unwrap_or_else(|| panic!("no port in {first:?}"));
    Served { child, port, lines }
}

fn tool(name: &str) -> bool {
    let found = Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            !require_real(),
            "REDIS_HARNESS_REQUIRE_REAL=1 but {name} is not installed (apt-get install redis-tools)"
        );
        eprintln!("skipped: {name} is not installed (apt-get install redis-tools)");
    }
    found
}

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli").args(["-p", &port.to_string()]).args(args).output().expect("run redis-cli");
    assert!(out.status.success(), "redis-cli {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

fn sigterm_and_wait(mut served: Served) {
    let status = Command::new("kill").args(["-TERM", &served.child.id().to_string()]).status().expect("run kill");
    assert!(status.success());
    let (tx, rx) = mpsc::channel();
    let mut child = std::mem::replace(&mut served.child, Command::new("true").spawn().unwrap());
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let exit = rx.recv_timeout(WAIT).expect("serve exits within the bound after SIGTERM").unwrap();
    assert!(exit.success(), "serve must exit 0 after SIGTERM, got {exit}");
    // The reader thread ends when the process's stdout closes.
    let mut last = Vec::new();
    while let Ok(line) = served.lines.recv_timeout(WAIT) {
        last.push(line);
    }
    assert!(last.iter().any(|l| l.contains("stopped; closed")), "{last:?}");
}

#[test]
fn redis_cli_talks_to_serve_and_sigterm_exits_zero() {
    if !tool("redis-cli") {
        return;
    }
    let served = serve(&[]);
    let p = served.port;
    assert_eq!(cli(p, &["PING"]), "PONG");
    assert_eq!(cli(p, &["SET", "k", "v"]), "OK");
    assert_eq!(cli(p, &["GET", "k"]), "v");
    assert_eq!(cli(p, &["-3", "HSET", "h", "f", "1"]), "1");
    // RESP3 map, as redis-cli prints it when its output is not a terminal.
    assert_eq!(cli(p, &["-3", "HGETALL", "h"]), "f 1");
    sigterm_and_wait(served);
}

#[test]
fn redis_benchmark_runs_against_serve() {
    if !tool("redis-benchmark") {
        return;
    }
    let served = serve(&[]);
    let out = Command::new("redis-benchmark")
        .args([
            "-p",
            &served.port.to_string(),
            "-t",
            "ping,set,get,incr,lpush,mset",
            "-n",
            "2000",
            "-c",
            "10",
            "-P",
            "4",
            "--csv",
        ])
        .output()
        .expect("run redis-benchmark");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for t in ["SET", "GET", "INCR", "LPUSH", "MSET"] {
        assert!(
            text.lines().any(|l| l.starts_with(&format!("\"{t}")) && !l.contains(",\"0.00\"")),
            "no {t} result in {text}"
        );
    }
    sigterm_and_wait(served);
}

#[test]
fn requirepass_on_the_command_line() {
    if !tool("redis-cli") {
        return;
    }
    let served = serve(&["--requirepass", "s3cret"]);
    let p = served.port;
    assert_eq!(cli(p, &["PING"]), "NOAUTH Authentication required.");
    assert_eq!(cli(p, &["--no-auth-warning", "-a", "s3cret", "PING"]), "PONG");
    sigterm_and_wait(served);
}

/// redis-py (`tests/clients/redis_py.py`) runs the same calls — commands,
/// pipelines, a transaction, WATCH, Pub/Sub, scans, errors — against
/// `serve` and a real redis-server, with RESP2 and RESP3, and must get the
/// same Python results from both.
#[test]
fn redis_py_gets_the_same_results_from_serve_and_redis_server() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/clients/redis_py.py");
    let probe = Command::new("python3").args(["-c", "import redis"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        let why = "python3 with redis-py is not installed (python3 -m pip install redis)";
        assert!(!require_real(), "REDIS_HARNESS_REQUIRE_REAL=1 but {why}");
        eprintln!("skipped: {why}");
        return;
    }
    if redis_harness::backend::process::find_redis_server().is_none() {
        let why = "no redis-server on PATH and REDIS_HARNESS_SERVER_BIN unset";
        assert!(!require_real(), "REDIS_HARNESS_REQUIRE_REAL=1 but {why}");
        eprintln!("skipped: {why}");
        return;
    }
    let real = redis_harness::backend::RedisProcess::start().expect("start redis-server");
    let served = serve(&[]);
    let out = Command::new("python3")
        .args([script, &served.port.to_string(), &real.addr().port().to_string()])
        .output()
        .expect("run python3");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "redis-py saw differences between the fake and redis-server:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("steps gave the same result"), "{text}");
    sigterm_and_wait(served);
}

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_redis-harness")).args(args).output().expect("run redis-harness")
}

#[test]
fn every_subcommand_has_help() {
    for (sub, flags) in [
        ("serve", &["--port", "--bind", "--unix", "--requirepass", "--fault", "--admin", "--seed"][..]),
        ("proxy", &["--upstream", "--port", "--bind", "--fault", "--admin", "--seed"][..]),
        ("chaos", &["--backend", "--seed", "--json", "--report", "--dir", "--skip-unavailable"][..]),
        ("certs", &["--out"][..]),
    ] {
        let out = run(&[sub, "--help"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{sub} --help: {text}{}", String::from_utf8_lossy(&out.stderr));
        for f in flags {
            assert!(text.contains(f), "{sub} --help does not mention {f}:\n{text}");
        }
    }
    let out = run(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for sub in ["serve", "proxy", "chaos", "certs"] {
        assert!(text.contains(sub), "--help does not list {sub}:\n{text}");
    }
    assert!(!text.contains("example-service"), "the example service is hidden:\n{text}");
}

#[test]
fn a_bad_flag_is_named_in_the_error() {
    for (args, named) in [
        (&["serve", "--bogus"][..], "--bogus"),
        (&["serve", "--port", "70000"][..], "--port"),
        (&["serve", "--bind", "localhost"][..], "--bind"),
        (&["serve", "--fault", "latency soon"][..], "--fault"),
        (&["serve", "--seed", "soon"][..], "--seed"),
        (&["proxy"][..], "--upstream"),
        (&["chaos", "--backend", "podman"][..], "--backend"),
        (&["certs"][..], "--out"),
    ] {
        let out = run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(named), "{args:?}: the error does not name {named}: {err}");
    }
}

#[test]
fn certs_writes_the_test_pki() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["certs", "--out", &dir.path().display().to_string()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for (name, _) in redis_harness::tls::FILES {
        let text = std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert!(text.contains("-----BEGIN"), "{name} is not PEM");
    }
}

/// One inline command, one reply line (the replies read this way are one line).
fn inline(s: &mut std::net::TcpStream, command: &str) -> String {
    use std::io::Write;
    s.write_all(format!("{command}\r\n").as_bytes()).unwrap();
    reply_line(s)
}

/// Reads one reply line, CRLF included (byte by byte: nothing past it is consumed).
#[allow(clippy::unbuffered_bytes)] // unbuffered on purpose: a buffer would swallow the next reply
fn reply_line(s: &mut std::net::TcpStream) -> String {
    use std::io::Read;
    let mut line = Vec::new();
    for byte in s.bytes() {
        line.push(byte.unwrap_or_else(|e| panic!("reading a reply line: {e} (got {line:?})")));
        if line.ends_with(b"\r\n") {
            break;
        }
    }
    String::from_utf8_lossy(&line).into_owned()
}

/// Issue 17 finding 8 at start-up: `maxclients` is lowered to what the
/// descriptor limit allows (minus Redis's 32 reserved), the client past it
/// gets the error rather than hanging, and running out of descriptors anyway
/// (a `maxclients` raised past the limit) does not make the accept loop spin.
#[test]
fn serve_under_a_low_descriptor_limit() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    if !tool("prlimit") {
        return;
    }
    let served = serve_under(&["prlimit", "--nofile=200:200"], &[]);
    let addr = format!("127.0.0.1:{}", served.port);
    let open = || {
        let s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        s
    };
    let mut admin = open();
    assert_eq!(inline(&mut admin, "CONFIG GET maxclients"), "*2\r\n");
    let mut reply = String::new();
    for _ in 0..4 {
        reply.push_str(&reply_line(&mut admin));
    }
    assert_eq!(reply, "$10\r\nmaxclients\r\n$3\r\n168\r\n");
    let mut clients: Vec<TcpStream> = (1..168).map(|_| open()).collect();
    if let Some(c) = clients.last_mut() {
        assert_eq!(inline(c, "PING"), "+PONG\r\n");
    }
    let mut refused = open();
    let mut got = Vec::new();
    refused.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"-ERR max number of clients reached\r\n");
    // Past the descriptor limit: the server cannot accept these yet.
    assert_eq!(inline(&mut admin, "CONFIG SET maxclients 1000"), "+OK\r\n");
    let pid = served.child.id();
    let cpu = || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let fields: Vec<&str> = stat.rsplit(')').next().unwrap().split_whitespace().collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    };
    let mut waiting: Vec<TcpStream> = (0..40).map(|_| open()).collect();
    let before = cpu();
    let started = std::time::Instant::now();
    // A second of wall time in which the server can accept nothing.
    let mut last = waiting.pop().unwrap();
    last.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    last.write_all(b"PING\r\n").unwrap();
    let mut b = [0u8; 1];
    assert!(last.read(&mut b).is_err(), "no descriptor was free for it");
    let ticks = cpu() - before;
    let wall_ticks = started.elapsed().as_millis() as u64 / 10;
    // A busy accept loop burns a core; backing off burns next to nothing.
    assert!(ticks * 4 < wall_ticks, "the server used {ticks} CPU ticks in {wall_ticks} ticks of waiting");
    // Freeing descriptors lets the waiting clients in.
    clients.truncate(100);
    last.set_read_timeout(Some(WAIT)).unwrap();
    let mut pong = [0u8; 7];
    last.read_exact(&mut pong).unwrap();
    assert_eq!(&pong, b"+PONG\r\n");
    drop(waiting);
}
