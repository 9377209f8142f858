//! The public `FakeRedis` facade as the server commands drive it: client
//! names and library info in `clients()`, CLIENT KILL closing sockets,
//! `requirepass` (builder and CONFIG SET) with a real client library,
//! ACL users, DEBUG SLEEP blocking one connection only.

use std::time::{Duration, Instant};

use redis_harness::{FakeRedis, Reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(5);

/// A bare RESP2 connection: sends commands, reads one reply's bytes.
struct Raw {
    s: TcpStream,
}

impl Raw {
    async fn connect(server: &FakeRedis) -> Raw {
        Raw { s: TcpStream::connect(server.addr()).await.expect("connect to the fake") }
    }

    async fn cmd(&mut self, args: &[&str]) -> String {
        let mut out = format!("*{}\r\n", args.len());
        for a in args {
            out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        self.s.write_all(out.as_bytes()).await.expect("write");
        let mut buf = vec![0u8; 64 * 1024];
        let n = tokio::time::timeout(WAIT, self.s.read(&mut buf)).await.expect("reply in time").expect("read");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    /// Reads until EOF (bounded); true if the server closed the socket.
    async fn closed(&mut self) -> bool {
        let mut buf = [0u8; 1024];
        matches!(tokio::time::timeout(WAIT, self.s.read(&mut buf)).await, Ok(Ok(0)) | Ok(Err(_)))
    }
}

#[tokio::test]
async fn clients_show_setname_and_setinfo() {
    let server = FakeRedis::start().await;
    let mut c = Raw::connect(&server).await;
    assert_eq!(c.cmd(&["CLIENT", "SETNAME", "worker-1"]).await, "+OK\r\n");
    assert_eq!(c.cmd(&["CLIENT", "SETINFO", "LIB-NAME", "mylib"]).await, "+OK\r\n");
    assert_eq!(c.cmd(&["CLIENT", "SETINFO", "lib-ver", "1.2.3"]).await, "+OK\r\n");
    assert_eq!(
        c.cmd(&["CLIENT", "SETINFO", "lib-ver", "a b"]).await,
        "-ERR lib-ver cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(c.cmd(&["CLIENT", "SETINFO", "bogus", "x"]).await, "-ERR Unrecognized option 'bogus'\r\n");
    let id = c.cmd(&["CLIENT", "ID"]).await;
    let clients = server.clients();
    assert_eq!(clients.len(), 1);
    let me = &clients[0];
    assert_eq!(format!(":{}\r\n", me.id), id);
    assert_eq!(me.name, "worker-1");
    assert_eq!(me.lib_name, "mylib");
    assert_eq!(me.lib_ver, "1.2.3");
    assert_eq!(me.last_command, "client|id");
    // CLIENT LIST shows the name; RESET clears it.
    let list = c.cmd(&["CLIENT", "LIST"]).await;
    assert!(list.contains(" name=worker-1 "), "{list}");
    assert_eq!(c.cmd(&["RESET"]).await, "+RESET\r\n");
    assert_eq!(server.clients()[0].name, "");
}

#[tokio::test]
async fn client_kill_closes_the_socket() {
    let server = FakeRedis::start().await;
    let mut victim = Raw::connect(&server).await;
    let mut killer = Raw::connect(&server).await;
    assert_eq!(victim.cmd(&["CLIENT", "SETNAME", "victim"]).await, "+OK\r\n");
    server.wait_for_open_connections(2, WAIT).await.expect("two connections");
    let id = server.clients().into_iter().find(|c| c.name == "victim").expect("victim listed").id;
    assert_eq!(killer.cmd(&["CLIENT", "KILL", "ID", &id.to_string()]).await, ":1\r\n");
    assert!(victim.closed().await, "the killed socket is closed");
    server.wait_for_open_connections(1, WAIT).await.expect("the killed connection is gone");
    // The old form by address, and killing oneself (reply first, then close).
    let mut other = Raw::connect(&server).await;
    assert_eq!(other.cmd(&["PING"]).await, "+PONG\r\n");
    let peer = server.clients().into_iter().find(|c| c.id != 0 && c.last_command == "ping").expect("listed").peer;
    assert_eq!(killer.cmd(&["CLIENT", "KILL", &peer]).await, "+OK\r\n");
    assert!(other.closed().await);
    assert_eq!(killer.cmd(&["CLIENT", "KILL", "ID", "999999"]).await, ":0\r\n");
    assert_eq!(killer.cmd(&["CLIENT", "KILL", "USER", "default", "SKIPME", "no"]).await, ":1\r\n");
    assert!(killer.closed().await);
    server.assert_no_leaks(WAIT).await;
}

/// redis-rs's default budgets (500 ms a reply, 1 s to connect) can be missed
/// on a loaded machine: no response timeout, a generous connect timeout.
fn patient() -> redis::AsyncConnectionConfig {
    redis::AsyncConnectionConfig::new().set_response_timeout(None).set_connection_timeout(Some(Duration::from_secs(10)))
}

#[tokio::test]
async fn requirepass_with_the_redis_crate() {
    let server = FakeRedis::builder().requirepass("s3cret").start().await;
    // Without the password: NOAUTH.
    let url = format!("redis://{}", server.addr());
    let client = redis::Client::open(url).expect("client");
    let mut conn = client.get_multiplexed_async_connection_with_config(&patient()).await.expect("connect");
    let err = redis::cmd("GET").arg("k").query_async::<Option<String>>(&mut conn).await.expect_err("NOAUTH");
    assert_eq!(err.code(), Some("NOAUTH"), "{err}");
    // A wrong password is refused (WRONGPASS, which the crate reports as an auth failure).
    let bad = redis::Client::open(format!("redis://:nope@{}", server.addr())).expect("client");
    let err = bad.get_multiplexed_async_connection_with_config(&patient()).await.expect_err("wrong password");
    assert_eq!(err.kind(), redis::ErrorKind::AuthenticationFailed, "{err}");
    // server.url() carries the password.
    let good = redis::Client::open(server.url()).expect("client");
    let mut conn =
        good.get_multiplexed_async_connection_with_config(&patient()).await.expect("authenticated connection");
    let () = redis::cmd("SET").arg("k").arg("v").query_async(&mut conn).await.expect("SET");
    let v: String = redis::cmd("GET").arg("k").query_async(&mut conn).await.expect("GET");
    assert_eq!(v, "v");
    // CONFIG SET requirepass: new connections need the new password, this one stays logged in.
    let () = redis::cmd("CONFIG").arg("SET").arg("requirepass").arg("other").query_async(&mut conn).await.unwrap();
    let v: String = redis::cmd("GET").arg("k").query_async(&mut conn).await.expect("still authenticated");
    assert_eq!(v, "v");
    assert!(
        good.get_multiplexed_async_connection_with_config(&patient()).await.is_err(),
        "the old password no longer works"
    );
    let newer = redis::Client::open(format!("redis://:other@{}", server.addr())).expect("client");
    let mut c2 = newer.get_multiplexed_async_connection_with_config(&patient()).await.expect("new password works");
    let pong: String = redis::cmd("PING").query_async(&mut c2).await.unwrap();
    assert_eq!(pong, "PONG");
    assert_eq!(server.url(), format!("redis://:other@{}", server.addr()));
}

#[tokio::test]
async fn acl_users_and_noperm() {
    let server = FakeRedis::start().await;
    assert_eq!(server.run(["ACL", "SETUSER", "app", "on", ">pw", "~app:*", "+get", "+set"]), Reply::ok());
    let mut c = Raw::connect(&server).await;
    assert_eq!(
        c.cmd(&["AUTH", "app", "wrong"]).await,
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(c.cmd(&["AUTH", "app", "pw"]).await, "+OK\r\n");
    assert_eq!(
        c.cmd(&["ACL", "WHOAMI"]).await,
        "-NOPERM this user has no permissions to run the 'acl|whoami' command\r\n"
    );
    assert_eq!(c.cmd(&["SET", "app:1", "x"]).await, "+OK\r\n");
    assert_eq!(
        c.cmd(&["SET", "other", "x"]).await,
        "-NOPERM this user has no permissions to access one of the keys used as arguments\r\n"
    );
    assert_eq!(c.cmd(&["DEL", "app:1"]).await, "-NOPERM this user has no permissions to run the 'del' command\r\n");
    // A disabled user cannot log in; deleting a user disconnects its clients.
    assert_eq!(server.run(["ACL", "SETUSER", "app", "off"]), Reply::ok());
    let mut d = Raw::connect(&server).await;
    assert!(d.cmd(&["AUTH", "app", "pw"]).await.starts_with("-WRONGPASS"));
    assert_eq!(server.run(["ACL", "DELUSER", "app"]), Reply::Int(1));
    assert!(c.closed().await);
}

#[tokio::test]
async fn debug_sleep_blocks_only_its_connection() {
    let server = FakeRedis::start().await;
    let mut sleeper = Raw::connect(&server).await;
    let mut other = Raw::connect(&server).await;
    let started = Instant::now();
    let sleep = tokio::spawn(async move { sleeper.cmd(&["DEBUG", "SLEEP", "0.5"]).await });
    // The other connection is served while the first one sleeps.
    server.wait_for_open_connections(2, WAIT).await.unwrap();
    assert_eq!(other.cmd(&["PING"]).await, "+PONG\r\n");
    assert_eq!(sleep.await.unwrap(), "+OK\r\n");
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert_eq!(other.cmd(&["DEBUG", "SLEEP", "0"]).await, "+OK\r\n");
}

#[tokio::test]
async fn info_reports_the_counters_tests_read() {
    let server = FakeRedis::start().await;
    let mut c = Raw::connect(&server).await;
    c.cmd(&["SET", "a", "1"]).await;
    c.cmd(&["GET", "a"]).await;
    c.cmd(&["GET", "missing"]).await;
    let info = c.cmd(&["INFO"]).await;
    for want in [
        "redis_version:7.0.15\r\n",
        "redis_mode:standalone\r\n",
        &format!("tcp_port:{}\r\n", server.addr().port()),
        "connected_clients:1\r\n",
        "total_connections_received:1\r\n",
        "keyspace_hits:1\r\n",
        "keyspace_misses:1\r\n",
        "db0:keys=1,expires=0,avg_ttl=0\r\n",
    ] {
        assert!(info.contains(want), "INFO lacks {want:?}:\n{info}");
    }
    assert!(!info.contains("# Commandstats"), "default INFO has no commandstats");
    let config = c.cmd(&["CONFIG", "GET", "port"]).await;
    assert!(config.ends_with(&format!("{}\r\n", server.addr().port())), "{config}");
}
