//! Connections, handshake, URLs, commands and pipelines against the fake.

use std::time::Duration;

use redis_harness::pool::{AuthErrorKind, Cmd, Connection, ConnectionConfig, Error, Pool, Protocol, Timeouts, Value};
use redis_harness::FakeRedis;

use crate::support::WAIT;

fn timeouts() -> Timeouts {
    Timeouts { dial: Some(WAIT), read: Some(WAIT), write: Some(WAIT) }
}

#[tokio::test]
async fn resp3_handshake_names_the_client_and_selects_the_db() {
    let server = FakeRedis::builder().databases(16).start().await;
    let mut cfg = ConnectionConfig::from_url(&format!("{}/3", server.url())).unwrap();
    cfg.client_name = Some("harness-test".into());
    let mut conn = Connection::connect(&cfg, timeouts()).await.unwrap();
    assert!(conn.is_resp3());
    conn.set("k", "v").await.unwrap();
    assert_eq!(server.run_in_db(3, ["GET", "k"]), redis_harness::Reply::Bulk("v".into()));
    let clients = server.clients();
    assert_eq!(clients.len(), 1);
    assert_eq!((clients[0].name.as_str(), clients[0].resp, clients[0].db), ("harness-test", 3, 3));
}

#[tokio::test]
async fn resp2_stays_resp2_and_decodes_replies() {
    let server = FakeRedis::start().await;
    let cfg = ConnectionConfig::from_url(&format!("{}?protocol=2", server.url())).unwrap();
    let mut conn = Connection::connect(&cfg, timeouts()).await.unwrap();
    assert!(!conn.is_resp3());
    assert_eq!(server.clients()[0].resp, 2);
    assert_eq!(conn.get("missing").await.unwrap(), None);
    conn.set("n", "1").await.unwrap();
    assert!(conn.del("n").await.unwrap());
    assert!(!conn.del("n").await.unwrap());
    conn.ping().await.unwrap();
}

#[tokio::test]
async fn error_replies_are_typed_and_keep_the_connection() {
    let server = FakeRedis::start().await;
    let mut conn = Connection::connect(&ConnectionConfig::from_url(&server.url()).unwrap(), timeouts()).await.unwrap();
    let err = conn.query(&Cmd::from_args(["SET", "s"])).await.unwrap_err();
    match &err {
        Error::Redis { code, message, .. } => {
            assert_eq!(code, "ERR");
            assert_eq!(message, "wrong number of arguments for 'set' command");
        }
        other => panic!("expected a Redis error, got {other:?}"),
    }
    assert!(err.to_string().contains(&server.addr().to_string()));
    assert!(conn.is_reusable());
    conn.ping().await.unwrap();
}

#[tokio::test]
async fn pipelines_keep_error_replies_in_place() {
    let server = FakeRedis::start().await;
    let pool = Pool::builder(&server.url()).pool_size(2).build().unwrap();
    let replies = pool
        .pipeline(&[
            Cmd::from_args(["SET", "a", "2"]),
            Cmd::from_args(["EXISTS", "a", "a"]),
            Cmd::from_args(["NOSUCH"]),
        ])
        .await
        .unwrap();
    assert!(replies[0].is_ok());
    assert_eq!(replies[1], Value::Int(2));
    assert!(matches!(&replies[2], Value::Error { code, .. } if code == "ERR"));
    let mut c = pool.get().await.unwrap();
    assert_eq!(c.get("a").await.unwrap().as_deref(), Some(&b"2"[..]));
    drop(c);
    pool.close(WAIT).await;
    server.wait_for_open_connections(0, WAIT).await.unwrap();
}

#[tokio::test]
async fn auth_with_password_and_typed_auth_errors() {
    let server = FakeRedis::builder().requirepass("s3cret").start().await;
    let pool = Pool::builder(&server.url()).pool_size(1).build().unwrap();
    pool.set("k", "v").await.unwrap();
    pool.close(WAIT).await;

    let wrong = Pool::builder(&format!("redis://:nope@{}", server.addr())).max_retries(0).build().unwrap();
    let err = wrong.ping().await.unwrap_err();
    assert!(matches!(err, Error::Auth { kind: AuthErrorKind::WrongPass, .. }), "{err:?}");
    assert!(err.to_string().contains("check the user name and password"), "{err}");

    let none = Pool::builder(&format!("redis://{}", server.addr())).max_retries(0).build().unwrap();
    let err = none.ping().await.unwrap_err();
    assert!(matches!(err, Error::Auth { kind: AuthErrorKind::NoAuth, .. }), "{err:?}");
    // A refused password is a configuration problem: it must not trip the breaker.
    assert!(matches!(none.ping().await.unwrap_err(), Error::Auth { .. }));

    // AUTH in RESP2 mode (no HELLO) with user + password.
    let resp2 =
        Pool::builder(&format!("redis://default:s3cret@{}", server.addr())).protocol(Protocol::Resp2).build().unwrap();
    resp2.ping().await.unwrap();
    drop((wrong, none, resp2));
    server.wait_for_open_connections(0, WAIT).await.unwrap();
}

#[tokio::test]
async fn unix_socket_urls() {
    let server = FakeRedis::builder().unix_socket().start().await;
    let path = server.unix_path().unwrap().display().to_string();
    let pool = Pool::builder(&format!("unix://{path}?db=1")).build().unwrap();
    pool.set("k", "unix").await.unwrap();
    assert_eq!(server.run_in_db(1, ["GET", "k"]), redis_harness::Reply::Bulk("unix".into()));
    let report = pool.close(WAIT).await;
    assert_eq!(report.idle_closed, 1);
    server.wait_for_open_connections(0, WAIT).await.unwrap();
}

#[tokio::test]
async fn refused_dial_names_the_address() {
    let addr = crate::support::refused_addr();
    let err = Connection::connect(&ConnectionConfig::tcp("127.0.0.1", addr.port()), timeouts()).await.unwrap_err();
    assert!(matches!(err, Error::ConnectionRefused { .. }));
    assert_eq!(err.to_string(), format!("connection refused by {addr} — is a server listening there?"));
}

#[tokio::test]
async fn tls_urls_without_the_feature_say_what_is_missing() {
    if cfg!(feature = "tls") {
        return;
    }
    let server = FakeRedis::start().await;
    let err =
        Connection::connect(&ConnectionConfig::from_url(&format!("rediss://{}", server.addr())).unwrap(), timeouts())
            .await
            .unwrap_err();
    assert!(err.to_string().contains("`tls` feature"), "{err}");
}

#[tokio::test]
async fn bad_urls_fail_at_build() {
    assert!(matches!(Pool::builder("http://localhost").build(), Err(Error::Config(_))));
    assert!(matches!(Pool::builder("redis://localhost").pool_size(0).build(), Err(Error::Config(_))));
}

#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync + 'static>() {}
    check::<Pool>();
    check::<redis_harness::pool::PooledConnection>();
    check::<Connection>();
    check::<Error>();
    check::<redis_harness::pool::CloseReport>();
    let _ = Duration::ZERO;
}

#[test]
fn pool_needs_a_runtime() {
    let err = Pool::builder("redis://127.0.0.1:1").build().unwrap_err();
    assert!(err.to_string().contains("tokio runtime"), "{err}");
}
