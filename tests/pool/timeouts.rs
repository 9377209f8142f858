//! Dial, read and blocking-command deadlines.

use std::time::Duration;

use redis_harness::pool::{Cmd, Error, Pool, TimeoutKind, Value};

use crate::support::Scripted;

#[tokio::test]
async fn handshake_stall_is_a_dial_timeout() {
    let server = Scripted::start();
    server.hold("HELLO");
    let pool = Pool::builder(&server.url()).dial_timeout(Duration::from_millis(50)).max_retries(0).build().unwrap();
    let err = pool.get().await.unwrap_err();
    assert!(matches!(err, Error::Timeout { kind: TimeoutKind::Dial, .. }), "{err:?}");
    assert!(err.to_string().starts_with(&format!("dialling {} timed out after 50ms", server.addr)), "{err}");
    server.wait_open(0).await;
    assert_eq!(pool.stats().in_use, 0);
}

#[tokio::test]
async fn read_timeout_discards_the_connection() {
    let server = Scripted::start();
    server.hold("GET");
    let pool = Pool::builder(&server.url()).read_timeout(Duration::from_millis(50)).max_retries(0).build().unwrap();
    let mut c = pool.get().await.unwrap();
    let err = c.query(&Cmd::from_args(["GET", "k"])).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { kind: TimeoutKind::Read, after: Some(_), .. }), "{err:?}");
    assert!(err.to_string().contains("no reply from"), "{err}");
    assert!(!c.is_usable());
    server.wait_open(0).await;
}

#[tokio::test]
async fn blocking_commands_extend_the_read_deadline() {
    let server = Scripted::start();
    // A slow server: each reply takes 200ms, longer than the read timeout.
    server.delay("BLPOP", Duration::from_millis(200));
    server.delay("GET", Duration::from_millis(200));
    let pool = Pool::builder(&server.url()).read_timeout(Duration::from_millis(80)).max_retries(0).build().unwrap();
    let v = pool.query(&Cmd::from_args(["BLPOP", "list", "1"])).await.unwrap();
    assert_eq!(v, Value::Bulk("value-of-list".into()));
    assert!(pool.get_value("k").await.unwrap_err().is_timeout());
}

#[tokio::test]
async fn resp2_fallback_when_hello_is_unknown() {
    let server = Scripted::start();
    server.refuse_hello();
    let pool = Pool::builder(&server.url()).client_name("app").build().unwrap();
    pool.ping().await.unwrap();
    let log = server.log();
    assert_eq!(&log[..2], &["HELLO".to_string(), "CLIENT".to_string()], "{log:?}");
}
