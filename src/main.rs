//! `redis-harness`: the fake Redis server as a standalone process, for
//! redis-cli, redis-benchmark and clients in other languages.

use std::net::SocketAddr;
use std::process::ExitCode;

use redis_harness::FakeRedis;

const USAGE: &str = "\
usage: redis-harness serve [--port P] [--bind ADDR] [--unix PATH] [--requirepass PW]

  serve   run a fake Redis server until Ctrl-C or SIGTERM, then close every
          connection and exit 0
    --port P          TCP port (default 6379; 0 picks a free one)
    --bind ADDR       address to bind (default 127.0.0.1)
    --unix PATH       also listen on a unix socket at PATH
    --requirepass PW  require AUTH with this password";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => match serve(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("redis-harness serve: {e}\n\n{USAGE}");
                ExitCode::from(2)
            }
        },
        Some("-h") | Some("--help") | Some("help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn serve(args: &[String]) -> Result<(), String> {
    let mut port: u16 = 6379;
    let mut bind = "127.0.0.1".to_string();
    let mut unix: Option<String> = None;
    let mut pass: Option<String> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().cloned().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--port" => {
                port = value("--port")?.parse().map_err(|_| "--port must be a number from 0 to 65535".to_string())?
            }
            "--bind" => bind = value("--bind")?,
            "--unix" => unix = Some(value("--unix")?),
            "--requirepass" => pass = Some(value("--requirepass")?),
            other => return Err(format!("unknown option {other}")),
        }
    }
    let ip: std::net::IpAddr = bind.parse().map_err(|_| format!("--bind {bind} is not an IP address"))?;
    let mut builder = FakeRedis::builder().bind(SocketAddr::new(ip, port)).record_commands(false);
    if let Some(u) = &unix {
        let _ = std::fs::remove_file(u);
        builder = builder.unix_socket_at(u);
    }
    if let Some(p) = pass {
        builder = builder.requirepass(p);
    }
    let server = builder.try_start().map_err(|e| e.to_string())?;
    println!("redis-harness: fake Redis listening on {}", server.addr());
    if let Some(p) = server.unix_path() {
        println!("redis-harness: and on unix socket {}", p.display());
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(|e| e.to_string())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
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
