//! `redis-harness`: the fake Redis server, or a fault proxy in front of a
//! real one, as a standalone process for redis-cli, redis-benchmark and
//! clients in other languages; chaos scenarios with an HTML report; and the
//! test PKI. One binary, built with every library feature it needs.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use redis_harness::fault::FaultRule;
use redis_harness::{FakeRedis, FaultProxy};

mod chaos;
mod service;

/// A fake Redis 7 server, a fault proxy, chaos scenarios and a test PKI.
#[derive(Parser)]
#[command(name = "redis-harness", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a fake Redis server until Ctrl-C or SIGTERM, then close every connection and exit 0.
    Serve(ServeArgs),
    /// Forward to a real Redis, injecting faults, until Ctrl-C or SIGTERM.
    Proxy(ProxyArgs),
    /// Run chaos scenarios (fixtures/scenarios/*.toml; none named = all), print a
    /// table and write an HTML report; exits 1 when an expectation fails.
    Chaos(chaos::ChaosArgs),
    /// Write a test PKI (CA, server and client certificates, and the broken variants) as PEM files.
    Certs(CertsArgs),
    /// The example HTTP service the `sigterm-service` scenario starts (settings from the environment).
    #[command(hide = true)]
    ExampleService,
}

/// Fault options, for serve and proxy.
#[derive(Args)]
struct FaultArgs {
    /// Install a fault rule, e.g. 'latency 100ms cmd=GET prob=0.5' or 'error LOADING times=3'
    /// (repeatable; tried in order, the first rule that fires wins; syntax in docs/faults.md).
    #[arg(long = "fault", value_name = "RULE", value_parser = parse_fault)]
    faults: Vec<FaultRule>,
    /// Answer HARNESS commands (HARNESS FAULT ADD|LIST|DEL|CLEAR, HARNESS KILL-ALL, ...) so
    /// tests in any language can drive faults.
    #[arg(long)]
    admin: bool,
    /// Seed for probabilities and jitter (default REDIS_HARNESS_SEED or random).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
}

#[derive(Args)]
struct ServeArgs {
    /// TCP port (0 picks a free one).
    #[arg(long, value_name = "P", default_value_t = 6379)]
    port: u16,
    /// Address to bind.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Also listen on a unix socket at PATH.
    #[arg(long, value_name = "PATH")]
    unix: Option<PathBuf>,
    /// Require AUTH with this password.
    #[arg(long, value_name = "PW")]
    requirepass: Option<String>,
    #[command(flatten)]
    faults: FaultArgs,
}

#[derive(Args)]
struct ProxyArgs {
    /// The Redis to forward to, like 127.0.0.1:6379.
    #[arg(long, value_name = "HOST:PORT")]
    upstream: String,
    /// TCP port (0 picks a free one, printed at start).
    #[arg(long, value_name = "P", default_value_t = 0)]
    port: u16,
    /// Address to bind.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    bind: IpAddr,
    #[command(flatten)]
    faults: FaultArgs,
}

#[derive(Args)]
struct CertsArgs {
    /// The directory to write the PEM files into (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

fn parse_fault(text: &str) -> Result<FaultRule, String> {
    let rule: FaultRule = text.parse().map_err(|e| format!("{e}"))?;
    if rule.expectation().is_some() {
        return Err(format!("`{rule}`: expect= is for tests, not for a server process"));
    }
    Ok(rule)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (name, run) = match cli.command {
        Command::Serve(a) => ("serve", serve(a)),
        Command::Proxy(a) => ("proxy", proxy(a)),
        Command::Chaos(a) => return chaos::main(a),
        Command::Certs(a) => ("certs", certs(a)),
        Command::ExampleService => {
            return match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(rt) => rt.block_on(service::run()),
                Err(e) => {
                    eprintln!("redis-harness example-service: starting the runtime: {e}");
                    ExitCode::from(2)
                }
            };
        }
    };
    match run {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("redis-harness {name}: {e}");
            ExitCode::from(2)
        }
    }
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

fn announce_faults(f: &FaultArgs, seed: u64) {
    for rule in &f.faults {
        println!("redis-harness: fault rule: {rule}");
    }
    if !f.faults.is_empty() || f.admin {
        println!("redis-harness: seed {seed}{}", if f.admin { "; HARNESS admin commands enabled" } else { "" });
    }
}

fn serve(a: ServeArgs) -> Result<(), String> {
    let mut builder =
        FakeRedis::builder().bind(SocketAddr::new(a.bind, a.port)).record_commands(false).admin(a.faults.admin);
    if let Some(seed) = a.faults.seed {
        builder = builder.seed(seed);
    }
    if let Some(u) = &a.unix {
        let _ = std::fs::remove_file(u);
        builder = builder.unix_socket_at(u);
    }
    if let Some(p) = &a.requirepass {
        builder = builder.requirepass(p.clone());
    }
    let server = builder.try_start().map_err(|e| e.to_string())?;
    for rule in &a.faults.faults {
        server.fault(rule.clone()).keep();
    }
    println!("redis-harness: fake Redis listening on {}", server.addr());
    if let Some(p) = server.unix_path() {
        println!("redis-harness: and on unix socket {}", p.display());
    }
    announce_faults(&a.faults, server.seed());
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
    if let Some(u) = &a.unix {
        let _ = std::fs::remove_file(u);
    }
    Ok(())
}

fn proxy(a: ProxyArgs) -> Result<(), String> {
    let upstream = &a.upstream;
    let upstream_addr = upstream
        .to_socket_addrs()
        .map_err(|e| format!("--upstream {upstream}: {e} (expected HOST:PORT, like 127.0.0.1:6379)"))?
        .next()
        .ok_or_else(|| format!("--upstream {upstream} resolves to no address"))?;
    let mut builder = FaultProxy::builder(upstream_addr)
        .bind(SocketAddr::new(a.bind, a.port))
        .record_commands(false)
        .admin(a.faults.admin);
    if let Some(seed) = a.faults.seed {
        builder = builder.seed(seed);
    }
    let mut proxy = builder.try_start().map_err(|e| e.to_string())?;
    for rule in &a.faults.faults {
        proxy.fault(rule.clone()).keep();
    }
    println!("redis-harness: fault proxy listening on {}, forwarding to {upstream_addr}", proxy.addr());
    announce_faults(&a.faults, proxy.seed());
    runtime()?.block_on(until_signalled())?;
    let open = proxy.open_connections();
    proxy.stop();
    println!(
        "redis-harness: stopped; closed {open} open connection(s), {} accepted in total",
        proxy.total_connections()
    );
    Ok(())
}

fn certs(a: CertsArgs) -> Result<(), String> {
    use redis_harness::tls::{TestPki, FILES};
    let pki = TestPki::generate().map_err(|e| e.to_string())?;
    pki.write_to(&a.out)
        .map_err(|e| format!("writing into {}: {e} — check that the directory is writable", a.out.display()))?;
    for (name, what) in FILES {
        println!("{}  {what}", a.out.join(name).display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
