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

  fault options (both commands)
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
