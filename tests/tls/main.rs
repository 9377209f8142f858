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
        eprintln!("skipped: no redis-server on PATH");
        return None;
    }
    pki.write_to(dir).unwrap();
    let p = RedisProcess::builder().tls(TlsFiles::from_certs_gen_dir(dir, mtls)).start().unwrap();
    Some(p)
}

/// PINGs over TLS; Ok(reply) or Err(reason the handshake or exchange failed).
async fn tls_ping(addr: std::net::SocketAddr, pki: &TestPki, identity: Option<&CertKey>) -> Result<Vec<u8>, String> {
    let connector = TlsConnector::from(pki.client_config(identity).unwrap());
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let run = async {
        let mut tls = connector.connect(name, tcp).await.map_err(|e| e.to_string())?;
        tls.write_all(b"*1\r\n$4\r\nPING\r\n").await.map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 64];
        let n = tls.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed by the server".to_string());
        }
        buf.truncate(n);
        Ok(buf)
    };
    tokio::time::timeout(WAIT, run).await.map_err(|_| "timed out".to_string())?
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
        eprintln!("skipped: no redis-server on PATH");
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
