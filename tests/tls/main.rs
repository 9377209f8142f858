//! TLS with certificates from the test PKI (rcgen): a real redis-server
//! started on certs-gen's files accepts a client that trusts the CA, and
//! with mTLS only a client certificate signed by that CA.
#![cfg(feature = "tls")]

#[path = "../common/mod.rs"]
mod common;

use std::time::Duration;

use redis_harness::backend::{process::find_redis_server, require_real, RedisProcess, TlsFiles};
use redis_harness::tls::{CertKey, ServerCertKind, TestPki};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const WAIT: Duration = Duration::from_secs(10);

fn real_tls_redis(pki: &TestPki, dir: &std::path::Path, mtls: bool) -> Option<RedisProcess> {
    if find_redis_server().is_none() {
        assert!(!require_real(), "REDIS_HARNESS_REQUIRE_REAL=1 but no redis-server is installed");
        redis_harness::backend::report_skip("tls against a real redis-server", "no redis-server on PATH");
        return None;
    }
    pki.write_to(dir).unwrap();
    let p = RedisProcess::builder().tls(TlsFiles::from_certs_gen_dir(dir, mtls)).start().unwrap();
    Some(p)
}

/// PINGs over TLS; Ok(reply) or Err(reason the handshake or exchange failed).
async fn tls_ping(addr: std::net::SocketAddr, pki: &TestPki, identity: Option<&CertKey>) -> Result<Vec<u8>, String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    tls_ping_over(tcp, pki, identity, WAIT).await
}

async fn tls_ping_over<S>(
    stream: S,
    pki: &TestPki,
    identity: Option<&CertKey>,
    limit: Duration,
) -> Result<Vec<u8>, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let connector = TlsConnector::from(pki.client_config(identity).unwrap());
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let run = async {
        let mut tls = connector.connect(name, stream).await.map_err(|e| e.to_string())?;
        tls.write_all(b"*1\r\n$4\r\nPING\r\n").await.map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 64];
        let n = tls.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed by the server".to_string());
        }
        buf.truncate(n);
        Ok(buf)
    };
    tokio::time::timeout(limit, run).await.map_err(|_| "timed out".to_string())?
}

#[tokio::test]
async fn real_redis_accepts_a_client_that_trusts_the_ca() {
    let pki = TestPki::generate().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let Some(redis) = real_tls_redis(&pki, dir.path(), false) else { return };
    let reply = tls_ping(redis.tls_addr().unwrap(), &pki, None).await.unwrap();
    assert_eq!(reply, b"+PONG\r\n");
}

#[tokio::test]
async fn real_redis_mtls_needs_a_client_certificate_from_the_ca() {
    let pki = TestPki::generate().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let Some(redis) = real_tls_redis(&pki, dir.path(), true) else { return };
    let addr = redis.tls_addr().unwrap();
    let good = pki.client_identity("app").unwrap();
    assert_eq!(tls_ping(addr, &pki, Some(&good)).await.unwrap(), b"+PONG\r\n");
    let none = tls_ping(addr, &pki, None).await;
    assert!(none.is_err(), "a client without a certificate must be refused, got {none:?}");
    let foreign = pki.foreign_client_identity("intruder").unwrap();
    let bad = tls_ping(addr, &pki, Some(&foreign)).await;
    assert!(bad.is_err(), "a certificate from another CA must be refused, got {bad:?}");
}

#[tokio::test]
async fn client_refuses_broken_server_certificates_from_real_redis() {
    let pki = TestPki::generate().unwrap();
    let dir = tempfile::tempdir().unwrap();
    if find_redis_server().is_none() {
        assert!(!require_real(), "REDIS_HARNESS_REQUIRE_REAL=1 but no redis-server is installed");
        redis_harness::backend::report_skip(
            "client_refuses_broken_server_certificates_from_real_redis",
            "no redis-server on PATH",
        );
        return;
    }
    pki.write_to(dir.path()).unwrap();
    for (kind, file, expect) in [
        (ServerCertKind::Expired, "expired-server", "expired"),
        (ServerCertKind::NotYetValid, "not-yet-valid-server", "not valid yet"),
        (ServerCertKind::WrongHost, "wrong-host-server", "not valid for name"),
        (ServerCertKind::UnknownCa, "other-ca-server", "UnknownIssuer"),
    ] {
        let files = TlsFiles {
            cert: dir.path().join(format!("{file}.crt")),
            key: dir.path().join(format!("{file}.key")),
            ca: dir.path().join("ca.crt"),
            require_client_cert: false,
        };
        let redis = RedisProcess::builder().tls(files).start().unwrap();
        let err = tls_ping(redis.tls_addr().unwrap(), &pki, None).await.unwrap_err();
        assert!(err.contains(expect), "{kind:?}: expected an error mentioning {expect:?}, got {err}");
    }
}

#[test]
fn pki_writes_every_documented_file() {
    let dir = tempfile::tempdir().unwrap();
    TestPki::generate().unwrap().write_to(dir.path()).unwrap();
    for (name, _) in redis_harness::tls::FILES {
        let text = std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert!(text.starts_with("-----BEGIN "), "{name} is not PEM");
    }
}

mod fake_server {
    use super::*;
    use redis_harness::fault::BadCertificate;
    use redis_harness::fault::FaultRule;
    use redis_harness::FakeRedis;

    #[tokio::test]
    async fn serves_tls_to_a_client_that_trusts_its_ca() {
        let server = FakeRedis::builder().tls().start().await;
        assert!(server.url().starts_with("rediss://127.0.0.1:"));
        assert_eq!(tls_ping(server.addr(), server.tls_pki(), None).await.unwrap(), b"+PONG\r\n");
        server.assert_no_leaks(WAIT).await;
    }

    #[tokio::test]
    async fn serves_tls_on_the_unix_socket_too() {
        let server = FakeRedis::builder().tls().unix_socket().start().await;
        let unix = tokio::net::UnixStream::connect(server.unix_path().unwrap()).await.unwrap();
        assert_eq!(tls_ping_over(unix, server.tls_pki(), None, WAIT).await.unwrap(), b"+PONG\r\n");
    }

    #[tokio::test]
    async fn mtls_accepts_only_certificates_from_its_ca() {
        let server = FakeRedis::builder().mtls().start().await;
        let good = server.client_identity("app");
        assert_eq!(tls_ping(server.addr(), server.tls_pki(), Some(&good)).await.unwrap(), b"+PONG\r\n");
        assert!(
            tls_ping(server.addr(), server.tls_pki(), None).await.is_err(),
            "no client certificate must be refused"
        );
        let foreign = server.tls_pki().foreign_client_identity("intruder").unwrap();
        assert!(tls_ping(server.addr(), server.tls_pki(), Some(&foreign)).await.is_err(), "another CA must be refused");
        server.assert_no_leaks(WAIT).await;
    }

    #[tokio::test]
    async fn client_certificate_requirement_can_be_switched_at_runtime() {
        let server = FakeRedis::builder().tls().start().await;
        assert!(tls_ping(server.addr(), server.tls_pki(), None).await.is_ok());
        server.set_tls_require_client_cert(true);
        assert!(tls_ping(server.addr(), server.tls_pki(), None).await.is_err());
    }

    #[tokio::test]
    async fn broken_server_certificates_are_refused_by_the_client() {
        let server = FakeRedis::builder().tls().start().await;
        for (kind, expect) in [
            (ServerCertKind::Expired, "expired"),
            (ServerCertKind::NotYetValid, "not valid yet"),
            (ServerCertKind::WrongHost, "not valid for name"),
            (ServerCertKind::UnknownCa, "UnknownIssuer"),
        ] {
            server.set_tls_server_cert(kind);
            let err = tls_ping(server.addr(), server.tls_pki(), None).await.unwrap_err();
            assert!(err.contains(expect), "{kind:?}: expected {expect:?} in {err}");
        }
        server.set_tls_server_cert(ServerCertKind::Valid);
        assert!(tls_ping(server.addr(), server.tls_pki(), None).await.is_ok());
        server.assert_no_leaks(WAIT).await;
    }

    #[tokio::test]
    async fn handshake_stall_rule_never_answers_and_is_released_by_the_server() {
        let server = FakeRedis::builder().tls().start().await;
        let stall = server.fault(FaultRule::tls_handshake_stall().times(1).expect(1));
        let tcp = TcpStream::connect(server.addr()).await.unwrap();
        // The server never answers: this bound is how long the client waits to see that.
        let err = tls_ping_over(tcp, server.tls_pki(), None, Duration::from_millis(200)).await.unwrap_err();
        assert_eq!(err, "timed out");
        server.assert_no_leaks(WAIT).await;
        assert_eq!(stall.hits(), 1);
        // times(1): the next handshake is not stalled.
        assert_eq!(tls_ping(server.addr(), server.tls_pki(), None).await.unwrap(), b"+PONG\r\n");
    }

    #[tokio::test]
    async fn close_during_handshake_rule_fails_the_client_handshake() {
        let server = FakeRedis::builder().tls().start().await;
        let close = server.fault(FaultRule::tls_close_during_handshake());
        let err = tls_ping(server.addr(), server.tls_pki(), None).await.unwrap_err();
        assert_ne!(err, "timed out");
        assert_eq!(close.hits(), 1);
        drop(close);
        assert!(tls_ping(server.addr(), server.tls_pki(), None).await.is_ok(), "the guard removed the rule");
        server.assert_no_leaks(WAIT).await;
    }

    #[tokio::test]
    async fn bad_certificate_rules_present_each_bad_certificate_once() {
        let server = FakeRedis::builder().tls().start().await;
        for (cert, expect) in [
            (BadCertificate::Expired, "expired"),
            (BadCertificate::NotYetValid, "not valid yet"),
            (BadCertificate::WrongHost, "not valid for name"),
            (BadCertificate::UnknownCa, "UnknownIssuer"),
        ] {
            let _bad = server.fault(FaultRule::tls_bad_certificate(cert).nth(1).expect(1));
            let err = tls_ping(server.addr(), server.tls_pki(), None).await.unwrap_err();
            assert!(err.contains(expect), "{cert:?}: expected {expect:?} in {err}");
            // nth(1): only the first connection sees it; the server's own certificate is untouched.
            assert!(tls_ping(server.addr(), server.tls_pki(), None).await.is_ok(), "{cert:?}");
        }
        server.assert_no_leaks(WAIT).await;
    }

    #[tokio::test]
    async fn tls_rules_from_rule_text_follow_the_seed() {
        // prob=0.5 draws from the server's seed: the same seed closes the same handshakes.
        async fn pattern(seed: u64) -> Vec<bool> {
            let server = FakeRedis::builder().tls().seed(seed).start().await;
            let _rule = server.fault("tls-close prob=0.5".parse().unwrap());
            let mut out = Vec::new();
            for _ in 0..12 {
                out.push(tls_ping(server.addr(), server.tls_pki(), None).await.is_ok());
            }
            out
        }
        let first = pattern(7).await;
        assert!(first.contains(&true) && first.contains(&false), "prob=0.5 over 12 handshakes: {first:?}");
        assert_eq!(pattern(7).await, first, "the same seed must close the same handshakes");
    }

    #[tokio::test]
    #[should_panic(expected = "was expected to fire exactly 1 time(s) but fired 0")]
    async fn a_tls_rule_on_a_plaintext_server_never_fires_and_its_expectation_says_so() {
        let server = FakeRedis::builder().start().await;
        let rule = server.fault(FaultRule::tls_handshake_stall().expect(1));
        let mut c = common::RawConn::tcp(server.addr());
        assert_eq!(c.call(&["PING"]), b"+PONG\r\n", "commands are not affected");
        assert_eq!(rule.hits(), 0);
        drop(rule);
    }

    #[tokio::test]
    async fn plaintext_on_the_tls_port_is_refused() {
        let server = FakeRedis::builder().tls().start().await;
        let mut tcp = TcpStream::connect(server.addr()).await.unwrap();
        tcp.write_all(b"*1\r\n$4\r\nPING\r\n").await.unwrap();
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(WAIT, tcp.read(&mut buf)).await.expect("server must close, not hang");
        // Closed, or a TLS alert — never a Redis reply.
        if let Ok(n) = n {
            assert!(!buf[..n].starts_with(b"+PONG"), "plaintext must not be served");
        }
        drop(tcp);
        server.assert_no_leaks(WAIT).await;
    }
}
