//! `redis-harness`: the fake Redis server, or a fault proxy in front of a
//! real one, as a standalone process, for redis-cli, redis-benchmark and
//! clients in other languages.

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;

use redis_harness::fault::FaultRule;
use redis_harness::{FakeRedis, FaultProxy};

const USAGE: &str = "\
usage: redis-harness serve [--port P] [--bind ADDR] [--unix PATH] [--requirepass PW] [FAULT OPTIONS]
       redis-harness proxy --upstream HOST:PORT [--port P] [--bind ADDR] [FAULT OPTIONS]
       redis-harness chaos [SCENARIO...] [--backend embedded|process|container] [--seed N] [--json PATH]
                           [--dir DIR] [--skip-unavailable]

  serve   run a fake Redis server until Ctrl-C or SIGTERM, then close every
          connection and exit 0
    --port P          TCP port (default 6379; 0 picks a free one)
    --bind ADDR       address to bind (default 127.0.0.1)
    --unix PATH       also listen on a unix socket at PATH
    --requirepass PW  require AUTH with this password

  proxy   forward to a real Redis, injecting faults, until Ctrl-C or SIGTERM
    --upstream HOST:PORT  the Redis to forward to (required)
    --port P              TCP port (default 0: a free one, printed at start)
    --bind ADDR           address to bind (default 127.0.0.1)

  chaos   run named chaos scenarios (fixtures/scenarios/*.toml; none named = all) and
          print a report; exits 1 when an expectation fails (feature `chaos`; `just chaos`)
    SCENARIO          a scenario name, or a path to a .toml file
    --backend B       embedded (default: the fake server), process (a real redis-server
                      behind a fault proxy) or container (Redis in Docker behind a fault
                      proxy; feature `containers`, image from REDIS_HARNESS_IMAGE)
    --skip-unavailable  exit 0, saying why, when this machine cannot run the backend
                      (no redis-server, no Docker); REDIS_HARNESS_REQUIRE_REAL=1 overrides
    --dir DIR         where scenarios are found (default fixtures/scenarios)
    --seed N          seed for faults and load (default REDIS_HARNESS_SEED or random)
    --json PATH       write full results to PATH and a chart per scenario beside it
                      (PATH-stem-SCENARIO.svg)

  fault options (serve and proxy)
    --fault RULE      install a fault rule, e.g. --fault 'latency 100ms cmd=GET prob=0.5'
                      or --fault 'error LOADING times=3' (repeatable; tried in order,
                      the first rule that fires wins; syntax in docs/faults.md)
    --admin           answer HARNESS commands (HARNESS FAULT ADD|LIST|DEL|CLEAR,
                      HARNESS KILL-ALL, ...) so tests in any language can drive faults
    --seed N          seed for probabilities and jitter (default REDIS_HARNESS_SEED or random)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let run = match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..]),
        Some("proxy") => proxy(&args[1..]),
        Some("chaos") => return chaos::main(&args[1..]),
        Some("-h") | Some("--help") | Some("help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("redis-harness {}: {e}\n\n{USAGE}", args[0]);
            ExitCode::from(2)
        }
    }
}

/// Options both subcommands take.
#[derive(Default)]
struct Common {
    port: Option<u16>,
    bind: Option<String>,
    faults: Vec<FaultRule>,
    admin: bool,
    seed: Option<u64>,
}

impl Common {
    /// Consumes `arg` (and its value) if it is a common option.
    fn take(&mut self, arg: &str, value: &mut dyn FnMut(&str) -> Result<String, String>) -> Result<bool, String> {
        match arg {
            "--port" => {
                self.port =
                    Some(value("--port")?.parse().map_err(|_| "--port must be a number from 0 to 65535".to_string())?)
            }
            "--bind" => self.bind = Some(value("--bind")?),
            "--fault" => {
                let rule: FaultRule = value("--fault")?.parse().map_err(|e| format!("--fault: {e}"))?;
                if rule.expectation().is_some() {
                    return Err(format!("--fault: `{rule}`: expect= is for tests, not for a server process"));
                }
                self.faults.push(rule);
            }
            "--admin" => self.admin = true,
            "--seed" => {
                self.seed =
                    Some(value("--seed")?.parse().map_err(|_| "--seed must be a non-negative integer".to_string())?)
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn addr(&self, default_port: u16) -> Result<SocketAddr, String> {
        let bind = self.bind.as_deref().unwrap_or("127.0.0.1");
        let ip: std::net::IpAddr = bind.parse().map_err(|_| format!("--bind {bind} is not an IP address"))?;
        Ok(SocketAddr::new(ip, self.port.unwrap_or(default_port)))
    }
}

/// Parses the arguments, handing the ones `Common` does not know to `other`.
fn parse_args(
    args: &[String],
    common: &mut Common,
    mut other: impl FnMut(&str, &mut dyn FnMut(&str) -> Result<String, String>) -> Result<bool, String>,
) -> Result<(), String> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().cloned().ok_or_else(|| format!("{name} needs a value"));
        if !common.take(a, &mut value)? && !other(a, &mut value)? {
            return Err(format!("unknown option {a}"));
        }
    }
    Ok(())
}

/// Waits for Ctrl-C or SIGTERM.
async fn until_signalled() -> Result<(), String> {
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(|e| e.to_string())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())
}

fn announce_faults(common: &Common, seed: u64) {
    for rule in &common.faults {
        println!("redis-harness: fault rule: {rule}");
    }
    if !common.faults.is_empty() || common.admin {
        println!("redis-harness: seed {seed}{}", if common.admin { "; HARNESS admin commands enabled" } else { "" });
    }
}

fn serve(args: &[String]) -> Result<(), String> {
    let mut common = Common::default();
    let mut unix: Option<String> = None;
    let mut pass: Option<String> = None;
    parse_args(args, &mut common, |a, value| {
        match a {
            "--unix" => unix = Some(value("--unix")?),
            "--requirepass" => pass = Some(value("--requirepass")?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let mut builder = FakeRedis::builder().bind(common.addr(6379)?).record_commands(false).admin(common.admin);
    if let Some(seed) = common.seed {
        builder = builder.seed(seed);
    }
    if let Some(u) = &unix {
        let _ = std::fs::remove_file(u);
        builder = builder.unix_socket_at(u);
    }
    if let Some(p) = pass {
        builder = builder.requirepass(p);
    }
    let server = builder.try_start().map_err(|e| e.to_string())?;
    for rule in &common.faults {
        server.fault(rule.clone()).keep();
    }
    println!("redis-harness: fake Redis listening on {}", server.addr());
    if let Some(p) = server.unix_path() {
        println!("redis-harness: and on unix socket {}", p.display());
    }
    announce_faults(&common, server.seed());
    runtime()?.block_on(async {
        until_signalled().await?;
        let report = server.shutdown().await;
        println!(
            "redis-harness: stopped; closed {} open connection(s), {} accepted in total",
            report.closed.len(),
            report.total_connections
        );
        Ok::<(), String>(())
    })?;
    if let Some(u) = unix {
        let _ = std::fs::remove_file(u);
    }
    Ok(())
}

fn proxy(args: &[String]) -> Result<(), String> {
    let mut common = Common::default();
    let mut upstream: Option<String> = None;
    parse_args(args, &mut common, |a, value| {
        match a {
            "--upstream" => upstream = Some(value("--upstream")?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let upstream = upstream.ok_or("--upstream HOST:PORT is required")?;
    let upstream_addr = upstream
        .to_socket_addrs()
        .map_err(|e| format!("--upstream {upstream}: {e} (expected HOST:PORT, like 127.0.0.1:6379)"))?
        .next()
        .ok_or_else(|| format!("--upstream {upstream} resolves to no address"))?;
    let mut builder =
        FaultProxy::builder(upstream_addr).bind(common.addr(0)?).record_commands(false).admin(common.admin);
    if let Some(seed) = common.seed {
        builder = builder.seed(seed);
    }
    let mut proxy = builder.try_start().map_err(|e| e.to_string())?;
    for rule in &common.faults {
        proxy.fault(rule.clone()).keep();
    }
    println!("redis-harness: fault proxy listening on {}, forwarding to {upstream_addr}", proxy.addr());
    announce_faults(&common, proxy.seed());
    runtime()?.block_on(until_signalled())?;
    let open = proxy.open_connections();
    proxy.stop();
    println!(
        "redis-harness: stopped; closed {open} open connection(s), {} accepted in total",
        proxy.total_connections()
    );
    Ok(())
}

#[cfg(feature = "chaos")]
mod chaos {
    //! `redis-harness chaos`: argument parsing and output; the work is in `redis_harness::chaos`.

    use std::path::{Path, PathBuf};
    use std::process::ExitCode;

    use redis_harness::chaos::{report, run_scenario, BackendKind, RunOptions, Scenario};

    use super::USAGE;

    struct Args {
        names: Vec<String>,
        backend: BackendKind,
        seed: Option<u64>,
        json: Option<PathBuf>,
        dir: PathBuf,
        skip_unavailable: bool,
    }

    fn parse(args: &[String]) -> Result<Args, String> {
        let mut a = Args {
            names: Vec::new(),
            backend: BackendKind::Embedded,
            seed: None,
            json: None,
            dir: PathBuf::from("fixtures/scenarios"),
            skip_unavailable: false,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = |name: &str| it.next().cloned().ok_or_else(|| format!("{name} needs a value"));
            match arg.as_str() {
                "--backend" => {
                    let b = value("--backend")?;
                    a.backend = b
                        .parse::<BackendKind>()
                        .map_err(|_| format!("--backend {b}: use embedded, process or container"))?;
                }
                "--seed" => {
                    a.seed = Some(value("--seed")?.parse().map_err(|_| "--seed must be a non-negative integer")?)
                }
                "--json" => a.json = Some(PathBuf::from(value("--json")?)),
                "--dir" => a.dir = PathBuf::from(value("--dir")?),
                "--skip-unavailable" => a.skip_unavailable = true,
                s if s.starts_with("--") => return Err(format!("unknown option {s}")),
                name => a.names.push(name.to_string()),
            }
        }
        Ok(a)
    }

    fn select(a: &Args) -> Result<Vec<Scenario>, String> {
        let all = || Scenario::load_dir(&a.dir).map_err(|e| e.to_string());
        if a.names.is_empty() {
            return all();
        }
        let mut known: Option<Vec<Scenario>> = None;
        let mut out = Vec::new();
        for n in &a.names {
            if n.ends_with(".toml") {
                out.push(Scenario::load(Path::new(n)).map_err(|e| e.to_string())?);
                continue;
            }
            if known.is_none() {
                known = Some(all()?);
            }
            let list = known.as_deref().unwrap_or_default();
            let sc = list.iter().find(|s| &s.name == n).ok_or_else(|| {
                let names: Vec<&str> = list.iter().map(|s| s.name.as_str()).collect();
                format!("no scenario named {n} in {}; known: {}", a.dir.display(), names.join(", "))
            })?;
            out.push(sc.clone());
        }
        Ok(out)
    }

    pub(super) fn main(args: &[String]) -> ExitCode {
        if args.iter().any(|a| a == "-h" || a == "--help") {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        let a = match parse(args) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("redis-harness chaos: {e}\n\n{USAGE}");
                return ExitCode::from(2);
            }
        };
        // Say once, before any scenario, when this machine cannot run the backend.
        if let Err(e) = redis_harness::backend::Backend::builder(a.backend).check_available() {
            if a.skip_unavailable && !redis_harness::backend::require_real() {
                println!("redis-harness chaos: skipped: {e}");
                return ExitCode::SUCCESS;
            }
            eprintln!("redis-harness chaos: {e}");
            return ExitCode::from(2);
        }
        let scenarios = match select(&a) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("redis-harness chaos: {e}");
                return ExitCode::from(2);
            }
        };
        let seed = a
            .seed
            .or_else(|| std::env::var("REDIS_HARNESS_SEED").ok().and_then(|s| s.parse().ok()))
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64 % 1_000_000)
            });
        let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("redis-harness chaos: starting the runtime: {e}");
                return ExitCode::from(2);
            }
        };
        let opts = RunOptions { backend: a.backend, seed, progress: true };
        eprintln!(
            "redis-harness chaos: {} scenario(s) on the {} backend, seed {seed}",
            scenarios.len(),
            a.backend.name()
        );
        let started = std::time::Instant::now();
        let results = rt.block_on(async {
            let mut results = Vec::new();
            for sc in &scenarios {
                let r = run_scenario(sc, &opts).await;
                let verdict = match (&r.skipped, r.passed()) {
                    (Some(why), _) => format!("skipped ({why})"),
                    (None, true) => "ok".to_string(),
                    (None, false) => "FAILED".to_string(),
                };
                eprintln!("[chaos] {:<28} {verdict} in {:.1}s", sc.name, r.wall.as_secs_f64());
                results.push(r);
            }
            results
        });
        println!("\n{}", report::table(&results));
        println!("wall time {:.1}s", started.elapsed().as_secs_f64());
        if let Some(path) = &a.json {
            match report::write_json(&results, path) {
                Ok(charts) => {
                    println!("results: {}", path.display());
                    for c in charts {
                        println!("chart:   {}", c.display());
                    }
                }
                Err(e) => {
                    eprintln!("redis-harness chaos: writing {}: {e}", path.display());
                    return ExitCode::from(2);
                }
            }
        }
        if results.iter().all(|r| r.passed()) {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    }
}

#[cfg(not(feature = "chaos"))]
mod chaos {
    use std::process::ExitCode;

    pub(super) fn main(_args: &[String]) -> ExitCode {
        eprintln!("redis-harness chaos: this binary was built without the `chaos` feature; run `just chaos` or `cargo run --release --features chaos,tls -- chaos`");
        ExitCode::from(2)
    }
}
