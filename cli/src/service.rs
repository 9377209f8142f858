//! A small HTTP service on `redis_harness::pool` that shuts down gracefully:
//! the SIGTERM chaos scenario starts it as a child process and checks that
//! every write it acknowledged is stored, that it exits 0 within its
//! deadline, and that it leaves no socket open on the server.
//!
//! It is a hidden subcommand of the CLI, so it is built with it and the chaos
//! runner starts it as `<this executable> example-service`:
//!
//! ```sh
//! REDIS_URL=redis://127.0.0.1:6379 redis-harness example-service
//! curl -X POST localhost:8080/incr/visits   # {"key":"visits","value":1}
//! curl localhost:8080/ready                 # 200 while the pool answers PING, else 503
//! kill -TERM <pid>                          # stop accepting, drain, close the pool, exit 0
//! ```
//!
//! Settings (environment): `REDIS_URL` (default `redis://127.0.0.1:6379`),
//! `SERVICE_ADDR` (default `127.0.0.1:8080`; port 0 picks one, logged in the
//! `listening` line), `SERVICE_DRAIN_MS` (how long in-flight requests may
//! finish, default 2000), `SERVICE_GRACEFUL=0` (do not handle SIGTERM: the
//! chaos suite's negative variant, showing what the handler protects).
//!
//! Logs are one JSON object per line on stdout.
//!
//! Shutdown order, and why: stop accepting first (no new work), then let
//! in-flight requests finish within the drain bound (each holds a pooled
//! connection and owes its client an answer), then close the pool with a
//! deadline (returned connections are closed; anything still out at the
//! deadline is aborted, so no socket outlives the process's intent), exit 0.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use redis_harness::pool::Pool;
use tokio::net::TcpListener;

/// How long the pool gets to close after the drain.
const POOL_CLOSE: Duration = Duration::from_secs(1);

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A log field value: a string (quoted) or a raw JSON number/bool.
enum F<'a> {
    S(&'a str),
    N(String),
}

/// Writes one JSON log line to stdout.
fn log(level: &str, msg: &str, fields: &[(&str, F<'_>)]) {
    let ts = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let mut line = format!("{{\"ts\":{ts},\"level\":{},\"msg\":{}", json_str(level), json_str(msg));
    for (k, v) in fields {
        let v = match v {
            F::S(s) => json_str(s),
            F::N(n) => n.clone(),
        };
        line.push_str(&format!(",{}:{v}", json_str(k)));
    }
    line.push('}');
    println!("{line}");
}

fn reply(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    r
}

async fn handle(pool: Pool, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let started = Instant::now();
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let resp = match (&method, path.as_str()) {
        (&Method::GET, "/ready") => match pool.health_check().await {
            Ok(h) => {
                reply(StatusCode::OK, format!("{{\"ready\":true,\"latency_ms\":{:.3}}}", h.latency.as_secs_f64() * 1e3))
            }
            Err(e) => reply(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{{\"ready\":false,\"error\":{}}}", json_str(&e.to_string())),
            ),
        },
        (&Method::POST, p) if p.starts_with("/incr/") && p.len() > "/incr/".len() => {
            let key = &p["/incr/".len()..];
            match pool.incr(key).await {
                Ok(n) => reply(StatusCode::OK, format!("{{\"key\":{},\"value\":{n}}}", json_str(key))),
                Err(e) => reply(StatusCode::SERVICE_UNAVAILABLE, format!("{{\"error\":{}}}", json_str(&e.to_string()))),
            }
        }
        (&Method::GET, p) if p.starts_with("/get/") && p.len() > "/get/".len() => {
            let key = &p["/get/".len()..];
            match pool.get_value(key).await {
                Ok(v) => {
                    let v = v.map_or("null".to_string(), |b| json_str(&String::from_utf8_lossy(&b)));
                    reply(StatusCode::OK, format!("{{\"key\":{},\"value\":{v}}}", json_str(key)))
                }
                Err(e) => reply(StatusCode::SERVICE_UNAVAILABLE, format!("{{\"error\":{}}}", json_str(&e.to_string()))),
            }
        }
        _ => reply(StatusCode::NOT_FOUND, "{\"error\":\"not found\"}".into()),
    };
    log(
        "info",
        "request",
        &[
            ("method", F::S(method.as_str())),
            ("path", F::S(&path)),
            ("status", F::N(resp.status().as_u16().to_string())),
            ("ms", F::N(format!("{:.3}", started.elapsed().as_secs_f64() * 1e3))),
        ],
    );
    Ok(resp)
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    match term {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// Runs the service until SIGTERM (or Ctrl-C), then shuts down as above.
pub async fn run() -> std::process::ExitCode {
    let url = env_or("REDIS_URL", "redis://127.0.0.1:6379");
    let addr: SocketAddr = match env_or("SERVICE_ADDR", "127.0.0.1:8080").parse() {
        Ok(a) => a,
        Err(e) => {
            log("error", "bad SERVICE_ADDR", &[("error", F::S(&e.to_string()))]);
            return std::process::ExitCode::from(2);
        }
    };
    let drain = Duration::from_millis(env_or("SERVICE_DRAIN_MS", "2000").parse().unwrap_or(2000));
    let graceful_on = env_or("SERVICE_GRACEFUL", "1") != "0";

    let pool = match Pool::builder(&url).pool_size(16).read_timeout(Duration::from_secs(1)).build() {
        Ok(p) => p,
        Err(e) => {
            log("error", "bad REDIS_URL", &[("error", F::S(&e.to_string()))]);
            return std::process::ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            log("error", "bind failed", &[("addr", F::S(&addr.to_string())), ("error", F::S(&e.to_string()))]);
            return std::process::ExitCode::from(2);
        }
    };
    let local = listener.local_addr().map_or(addr.to_string(), |a| a.to_string());
    log("info", "listening", &[("addr", F::S(&local)), ("graceful", F::N(graceful_on.to_string()))]);

    let graceful = GracefulShutdown::new();
    let signal = async {
        if graceful_on {
            shutdown_signal().await
        } else {
            // No handler: SIGTERM's default action ends the process at once.
            std::future::pending::<()>().await
        }
    };
    tokio::pin!(signal);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        log("warn", "accept failed", &[("error", F::S(&e.to_string()))]);
                        continue;
                    }
                };
                let pool = pool.clone();
                let conn = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(move |req| handle(pool.clone(), req)));
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            _ = &mut signal => break,
        }
    }

    let t0 = Instant::now();
    drop(listener);
    log("info", "shutting down: stopped accepting", &[("drain_ms", F::N(drain.as_millis().to_string()))]);
    let drained = tokio::time::timeout(drain, graceful.shutdown()).await.is_ok();
    log(
        if drained { "info" } else { "warn" },
        if drained { "in-flight requests finished" } else { "drain deadline passed; dropping the rest" },
        &[("ms", F::N(t0.elapsed().as_millis().to_string()))],
    );
    let report = pool.close(POOL_CLOSE).await;
    log(
        "info",
        "pool closed",
        &[
            ("idle_closed", F::N(report.idle_closed.to_string())),
            ("drained", F::N(report.drained.to_string())),
            ("aborted", F::N(report.aborted.to_string())),
            ("took_ms", F::N(report.took.as_millis().to_string())),
        ],
    );
    log("info", "stopped", &[("total_ms", F::N(t0.elapsed().as_millis().to_string()))]);
    std::process::ExitCode::SUCCESS
}
