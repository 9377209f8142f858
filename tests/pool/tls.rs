//! TLS and mTLS against a real redis-server with `--tls-port` (needs the
//! `tls` feature and a redis-server built with TLS; skipped otherwise).

use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use redis_harness::backend::RedisProcess;
use redis_harness::pool::{ConnectionConfig, Error, Pool, TlsConfig, TlsErrorKind};

use crate::support::WAIT;

struct Pki {
    ca_pem: String,
    server: (String, String),
    client: (String, String),
}

fn ca() -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // Distinct names: two CAs (or a CA and its leaf) with rcgen's default
    // name would look like the same issuer, or like self-signed leaves.
    params.distinguished_name.push(DnType::CommonName, format!("redis-harness test CA {}", fastrand::u64(..)));
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn leaf(ca: &CertifiedIssuer<'static, KeyPair>, names: &[&str]) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, names[0]);
    let cert = params.signed_by(&key, ca).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn pki() -> Pki {
    let ca = ca();
    Pki { ca_pem: ca.pem(), server: leaf(&ca, &["localhost", "127.0.0.1"]), client: leaf(&ca, &["client"]) }
}

/// A redis-server with a TLS port; `clients` is `--tls-auth-clients`.
fn tls_server(pki: &Pki, clients: &str) -> Option<(RedisProcess, u16, tempfile::TempDir)> {
    let probe = crate::real::common::real_redis_or_skip("tls")?;
    drop(probe);
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, body: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        p.display().to_string()
    };
    let (cert, key, ca) = (write("s.crt", &pki.server.0), write("s.key", &pki.server.1), write("ca.crt", &pki.ca_pem));
    let port = crate::support::refused_addr().port();
    let server = RedisProcess::builder()
        .args([
            "--tls-port".to_string(),
            port.to_string(),
            "--tls-cert-file".into(),
            cert,
            "--tls-key-file".into(),
            key,
            "--tls-ca-cert-file".into(),
            ca,
            "--tls-auth-clients".into(),
            clients.into(),
        ])
        .start();
    match server {
        Ok(s) => Some((s, port, dir)),
        Err(e) => {
            redis_harness::backend::report_skip(
                "pool tls against redis-server",
                format!("redis-server did not start with TLS (built without it?): {e}"),
            );
            None
        }
    }
}

fn cfg(port: u16, tls: TlsConfig) -> ConnectionConfig {
    let mut c = ConnectionConfig::from_url(&format!("rediss://localhost:{port}")).unwrap();
    c.tls = Some(tls);
    c
}

fn pool(cfg: ConnectionConfig) -> Pool {
    Pool::builder_for(cfg).max_retries(0).dial_timeout(Duration::from_secs(5)).build().unwrap()
}

#[tokio::test]
async fn tls_server_verification_and_typed_failures() {
    let pki = pki();
    let Some((_server, port, _dir)) = tls_server(&pki, "no") else { return };
    let good = TlsConfig { ca_pem: pki.ca_pem.clone().into_bytes(), ..TlsConfig::default() };
    let p = pool(cfg(port, good.clone()));
    p.set("k", "over tls").await.unwrap();
    assert_eq!(p.get_value("k").await.unwrap().as_deref(), Some(&b"over tls"[..]));
    for _ in 0..5 {
        p.ping().await.unwrap();
    }
    // Session tickets and other non-data records must not fail the idle check.
    let s = p.stats();
    assert_eq!((s.created, s.closed_broken, s.hits), (1, 0, 6), "{s:?}");
    p.close(WAIT).await;

    let other_ca = TlsConfig { ca_pem: ca().pem().into_bytes(), ..TlsConfig::default() };
    let err = pool(cfg(port, other_ca)).ping().await.unwrap_err();
    assert!(matches!(err, Error::Tls { kind: TlsErrorKind::UnknownCa, .. }), "{err:?}");
    assert!(err.to_string().contains("check the CA file"), "{err}");

    let wrong_name = TlsConfig { server_name: Some("elsewhere.example".into()), ..good };
    let err = pool(cfg(port, wrong_name)).ping().await.unwrap_err();
    assert!(matches!(err, Error::Tls { kind: TlsErrorKind::HostnameMismatch, .. }), "{err:?}");
}

#[tokio::test]
async fn mtls_needs_the_client_certificate() {
    let pki = pki();
    let Some((_server, port, _dir)) = tls_server(&pki, "yes") else { return };
    let anonymous = TlsConfig { ca_pem: pki.ca_pem.clone().into_bytes(), ..TlsConfig::default() };
    // TLS 1.3 reports a refused client certificate after the handshake, on the first read.
    let err = pool(cfg(port, anonymous.clone())).ping().await.unwrap_err();
    assert!(matches!(err, Error::Tls { .. } | Error::Reset { .. }), "{err:?}");
    let with_cert = TlsConfig {
        client_cert_pem: Some((pki.client.0.clone().into_bytes(), pki.client.1.clone().into_bytes())),
        ..anonymous
    };
    let p = pool(cfg(port, with_cert));
    p.ping().await.unwrap();
    p.close(WAIT).await;
}
