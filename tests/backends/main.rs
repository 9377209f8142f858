//! The backend abstraction: each test runs on every backend this machine can
//! run (all three, or only the one `REDIS_HARNESS_BACKEND` names), skipping
//! the unavailable ones with the reason printed.

#[path = "../common/mod.rs"]
mod common;

use std::time::Duration;

use common::{backend_kinds, RawConn};
use redis_harness::backend::{Backend, BackendKind};
use redis_harness::fault::FaultRule;

const WAIT: Duration = Duration::from_secs(10);

fn start(kind: BackendKind, test: &str) -> Option<Backend> {
    Backend::start_or_skip(Backend::builder(kind), test)
}

#[test]
fn commands_reach_redis_on_every_backend() {
    for kind in backend_kinds() {
        let Some(redis) = start(kind, "commands_reach_redis_on_every_backend") else { continue };
        assert_eq!(redis.kind(), kind);
        let mut c = RawConn::tcp(redis.addr());
        assert_eq!(c.call(&["PING"]), b"+PONG\r\n", "{kind}");
        assert_eq!(c.call(&["SET", "k", "v"]), b"+OK\r\n", "{kind}");
        assert_eq!(c.call(&["GET", "k"]), b"$1\r\nv\r\n", "{kind}");
        // The same error text everywhere: the fake is Redis to the byte.
        assert_eq!(c.call(&["GET"]), b"-ERR wrong number of arguments for 'get' command\r\n", "{kind}");
        assert!(redis.url().starts_with("redis://127.0.0.1:"), "{kind}: {}", redis.url());
        if kind.is_real() {
            // Clients go through the proxy; server_addr bypasses it.
            assert_ne!(redis.addr(), redis.server_addr(), "{kind}");
            assert_eq!(redis.proxy().map(|p| p.upstream()), Some(redis.server_addr()), "{kind}");
            let mut direct = RawConn::tcp(redis.server_addr());
            assert_eq!(direct.call(&["GET", "k"]), b"$1\r\nv\r\n", "{kind}");
        }
    }
}

#[test]
fn faults_apply_on_every_backend() {
    for kind in backend_kinds() {
        let Some(redis) = start(kind, "faults_apply_on_every_backend") else { continue };
        assert_eq!(redis.fault_target(), Some(redis.addr()), "{kind}");
        let mut c = RawConn::tcp(redis.addr());
        c.call(&["SET", "k", "v"]);
        let guard = redis.fault(FaultRule::error("LOADING injected").on(["GET"]).nth(1));
        assert_eq!(c.call(&["GET", "k"]), b"-LOADING injected\r\n", "{kind}");
        assert_eq!(c.call(&["GET", "k"]), b"$1\r\nv\r\n", "{kind}");
        assert_eq!(guard.hits(), 1, "{kind}");
        drop(guard);
        let _closed = redis.fault(FaultRule::close().on(["PING"]));
        c.send(&["PING"]);
        assert_eq!(c.read_reply(), None, "{kind}: the connection should be closed");
    }
}

#[tokio::test]
async fn sockets_are_counted_on_every_backend() {
    for kind in backend_kinds() {
        let Some(redis) = start(kind, "sockets_are_counted_on_every_backend") else { continue };
        assert!(redis.counts_sockets(), "{kind}");
        let mut a = RawConn::tcp(redis.addr());
        let mut b = RawConn::tcp(redis.addr());
        a.call(&["PING"]);
        b.call(&["PING"]);
        redis.wait_for_open_connections(2, WAIT).await.unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert!(redis.total_connections().unwrap() >= 2, "{kind}");
        drop(a);
        redis.wait_for_open_connections(1, WAIT).await.unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(redis.kill_all(), 1, "{kind}");
        assert_eq!(b.read_reply(), None, "{kind}: kill_all closes the client");
        redis.assert_no_leaks(WAIT).await;
        assert_eq!(redis.open_connections(), Some(0), "{kind}");
    }
}

#[test]
fn without_the_proxy_real_backends_are_reached_directly() {
    for kind in backend_kinds().into_iter().filter(|k| k.is_real()) {
        let b = Backend::builder(kind).fault_proxy(false);
        let Some(redis) = Backend::start_or_skip(b, "without_the_proxy_real_backends_are_reached_directly") else {
            continue;
        };
        assert_eq!(redis.addr(), redis.server_addr(), "{kind}");
        assert_eq!(redis.fault_target(), None, "{kind}");
        assert!(!redis.counts_sockets() && redis.open_connections().is_none(), "{kind}");
        assert_eq!(RawConn::tcp(redis.addr()).call(&["PING"]), b"+PONG\r\n", "{kind}");
    }
}

#[test]
fn requirepass_and_acl_users_on_every_backend() {
    for kind in backend_kinds() {
        let b = Backend::builder(kind).requirepass("s3cret").user("app", ["on", ">apppw", "~app:*", "+@all"]);
        let Some(redis) = Backend::start_or_skip(b, "requirepass_and_acl_users_on_every_backend") else { continue };
        assert_eq!(redis.password(), Some("s3cret"));
        assert!(redis.url().contains(":s3cret@"), "{}", redis.url());
        let mut c = RawConn::tcp(redis.addr());
        assert_eq!(c.call(&["GET", "x"]), b"-NOAUTH Authentication required.\r\n", "{kind}");
        assert_eq!(
            c.call(&["AUTH", "app", "wrong"]),
            b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
            "{kind}"
        );
        assert_eq!(c.call(&["AUTH", "app", "apppw"]), b"+OK\r\n", "{kind}");
        assert_eq!(c.call(&["ACL", "WHOAMI"]), b"$3\r\napp\r\n", "{kind}");
        assert_eq!(
            c.call(&["GET", "other"]),
            b"-NOPERM this user has no permissions to access one of the keys used as arguments\r\n",
            "{kind}"
        );
        assert_eq!(c.call(&["AUTH", "s3cret"]), b"+OK\r\n", "{kind}");
        assert_eq!(c.call(&["ACL", "WHOAMI"]), b"$7\r\ndefault\r\n", "{kind}");
    }
}

#[test]
fn stopped_on_drop_on_every_backend() {
    for kind in backend_kinds() {
        let Some(redis) = start(kind, "stopped_on_drop_on_every_backend") else { continue };
        let server = redis.server_addr();
        let pid = redis.process().and_then(|p| p.pid());
        #[cfg(feature = "containers")]
        let container = redis.container().map(|c| c.id().to_string());
        drop(redis);
        assert!(std::net::TcpStream::connect(server).is_err(), "{kind}: {server} still accepts after drop");
        if let Some(pid) = pid {
            // Killed and reaped: no zombie left under /proc.
            assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "process {pid} still exists");
        }
        #[cfg(feature = "containers")]
        if let Some(id) = container {
            let exists = redis_harness::backend::container::container_exists(&id).expect("asking docker");
            assert!(!exists, "container {id} still exists after drop");
        }
    }
}

/// A test that only makes sense on the fake says so and is skipped elsewhere.
#[test]
fn paused_clock_is_fake_only() {
    for kind in backend_kinds() {
        let Some(redis) = start(kind, "paused_clock_is_fake_only") else { continue };
        if !redis.require_embedded("paused_clock_is_fake_only", "a real Redis's clock cannot be advanced") {
            assert!(redis.fake().is_none());
            continue;
        }
        let fake = redis.fake().expect("embedded");
        fake.run(["SET", "k", "v", "PX", "50"]);
        fake.advance_time(Duration::from_millis(60));
        assert_eq!(fake.get("k"), None);
    }
}

#[cfg(feature = "tls")]
mod tls {
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls::pki_types::ServerName;

    use super::*;

    /// PING over TLS; Err with what failed (handshake, write or read).
    async fn ping(redis: &Backend, config: Arc<rustls::ClientConfig>) -> Result<Vec<u8>, String> {
        let tcp = tokio::net::TcpStream::connect(redis.addr()).await.map_err(|e| format!("connect: {e}"))?;
        let name = ServerName::try_from("localhost").unwrap();
        let mut tls =
            tokio_rustls::TlsConnector::from(config).connect(name, tcp).await.map_err(|e| format!("handshake: {e}"))?;
        tls.write_all(b"*1\r\n$4\r\nPING\r\n").await.map_err(|e| format!("write: {e}"))?;
        let mut buf = vec![0u8; 64];
        let n = tokio::time::timeout(WAIT, tls.read(&mut buf))
            .await
            .map_err(|_| "no reply".to_string())?
            .map_err(|e| format!("read: {e}"))?;
        buf.truncate(n);
        Ok(buf)
    }

    #[tokio::test]
    async fn tls_and_mtls_on_every_backend() {
        for kind in backend_kinds() {
            let b = Backend::builder(kind).tls();
            let Some(redis) = Backend::start_or_skip(b, "tls_and_mtls_on_every_backend") else { continue };
            assert!(redis.url().starts_with("rediss://"), "{}", redis.url());
            assert_eq!(Some(redis.addr()), redis.tls_addr(), "{kind}");
            assert_eq!(ping(&redis, redis.tls_client_config()).await.unwrap(), b"+PONG\r\n", "{kind}");
            drop(redis);

            let Some(redis) = Backend::start_or_skip(Backend::builder(kind).mtls(), "tls_and_mtls_on_every_backend")
            else {
                continue;
            };
            let pong = ping(&redis, redis.mtls_client_config("app")).await;
            assert_eq!(pong.unwrap(), b"+PONG\r\n", "{kind}");
            // TLS 1.3: the refusal may come with the first read rather than the handshake.
            if let Ok(reply) = ping(&redis, redis.tls_client_config()).await {
                assert!(reply.is_empty(), "{kind}: served a client without a certificate: {reply:?}");
            }
        }
    }
}

#[test]
fn real_backends_restart_with_their_data_and_the_proxy_follows() {
    let test = "real_backends_restart_with_their_data_and_the_proxy_follows";
    for kind in backend_kinds().into_iter().filter(|k| k.is_real()) {
        let b = Backend::builder(kind).real_server_args(["--appendonly", "yes", "--appendfsync", "always"]);
        let Some(mut redis) = Backend::start_or_skip(b, test) else { continue };
        let mut c = RawConn::tcp(redis.addr());
        assert_eq!(c.call(&["SET", "k", "acknowledged"]), b"+OK\r\n", "{kind}");
        redis.kill_server().unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert!(!redis.is_server_running(), "{kind}");
        assert_eq!(c.read_reply(), None, "{kind}: a crash closes the client's connection");
        // The proxy still accepts, but has no Redis to forward to: it closes at once.
        let mut down = RawConn::tcp(redis.addr());
        down.send(&["PING"]);
        assert_eq!(down.read_reply(), None, "{kind}: no Redis behind the proxy");
        redis.restart_server().unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert!(redis.is_server_running(), "{kind}");
        assert_eq!(redis.proxy().map(|p| p.upstream()), Some(redis.server_addr()), "{kind}: the proxy follows");
        let mut again = RawConn::tcp(redis.addr());
        assert_eq!(again.call(&["GET", "k"]), b"$12\r\nacknowledged\r\n", "{kind}: the append-only file was reloaded");
        // Restarting a running server kills it first.
        redis.restart_server().unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(RawConn::tcp(redis.addr()).call(&["GET", "k"]), b"$12\r\nacknowledged\r\n", "{kind}");
    }
}

#[test]
fn the_fake_restarts_in_place_empty_with_its_users() {
    let b = Backend::builder(BackendKind::Embedded).user("app", ["on", ">apppw", "~*", "+@all"]);
    let mut redis = b.start().expect("the fake starts");
    let addr = redis.addr();
    let mut c = RawConn::tcp(addr);
    assert_eq!(c.call(&["SET", "k", "v"]), b"+OK\r\n");
    redis.kill_server().expect("the fake stops");
    assert!(!redis.is_server_running());
    assert!(redis.fake().is_none());
    assert_eq!(c.read_reply(), None, "a stopped fake closes its clients");
    assert!(std::net::TcpStream::connect(addr).is_err(), "nothing listens while it is down");
    assert_eq!(redis.open_connections(), Some(0));
    assert!(redis.try_fault(FaultRule::close()).is_none(), "no fault point while it is down");
    redis.restart_server().expect("the fake starts again");
    assert!(redis.is_server_running());
    assert_eq!(redis.addr(), addr, "it comes back on its address");
    let mut again = RawConn::tcp(addr);
    assert_eq!(again.call(&["GET", "k"]), b"$-1\r\n", "the fake keeps no data over a restart");
    assert_eq!(again.call(&["AUTH", "app", "apppw"]), b"+OK\r\n", "its users come back");
    // Restarting a running fake stops it first.
    redis.restart_server().expect("restarting a running fake");
    assert_eq!(RawConn::tcp(addr).call(&["PING"]), b"+PONG\r\n");
}

#[test]
fn set_password_on_every_backend_survives_a_restart() {
    let test = "set_password_on_every_backend_survives_a_restart";
    for kind in backend_kinds() {
        let Some(mut redis) = Backend::start_or_skip(Backend::builder(kind).requirepass("old"), test) else { continue };
        let mut before = RawConn::tcp(redis.addr());
        assert_eq!(before.call(&["AUTH", "old"]), b"+OK\r\n", "{kind}");
        redis.set_password("new").unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(redis.password(), Some("new"), "{kind}");
        assert!(redis.url().contains(":new@"), "{kind}: {}", redis.url());
        assert_eq!(before.call(&["PING"]), b"+PONG\r\n", "{kind}: an authenticated connection keeps working");
        let mut after = RawConn::tcp(redis.addr());
        assert!(after.call(&["AUTH", "old"]).starts_with(b"-WRONGPASS"), "{kind}");
        assert_eq!(after.call(&["AUTH", "new"]), b"+OK\r\n", "{kind}");
        drop((before, after));
        redis.restart_server().unwrap_or_else(|e| panic!("{kind}: {e}"));
        let mut restarted = RawConn::tcp(redis.addr());
        assert!(restarted.call(&["PING"]).starts_with(b"-NOAUTH"), "{kind}: still protected after the restart");
        assert_eq!(restarted.call(&["AUTH", "new"]), b"+OK\r\n", "{kind}: the password set last is kept");
        redis.set_password("").unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(redis.password(), None, "{kind}");
        assert_eq!(RawConn::tcp(redis.addr()).call(&["PING"]), b"+PONG\r\n", "{kind}: no password any more");
    }
}
