//! The TLS step of dialling. Without the `tls` feature it only explains
//! what is missing; with it, rustls wraps the TCP stream.

use std::sync::Arc;

use tokio::net::TcpStream;

use super::config::TlsConfig;
use super::conn::Stream;
use super::error::{Error, TlsErrorKind};

#[cfg(not(feature = "tls"))]
pub(crate) async fn wrap(_tcp: TcpStream, _cfg: &TlsConfig, _host: &str, addr: &Arc<str>) -> Result<Stream, Error> {
    Err(Error::Tls {
        kind: TlsErrorKind::Other,
        addr: addr.clone(),
        detail: "redis-harness was built without the `tls` feature; enable it to use rediss:// URLs".into(),
    })
}

#[cfg(feature = "tls")]
pub(crate) async fn wrap(tcp: TcpStream, cfg: &TlsConfig, host: &str, addr: &Arc<str>) -> Result<Stream, Error> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

    let other = |detail: String| Error::Tls { kind: TlsErrorKind::Other, addr: addr.clone(), detail };
    let mut roots = rustls::RootCertStore::empty();
    let mut rd: &[u8] = &cfg.ca_pem;
    for cert in rustls_pemfile_certs(&mut rd).map_err(|e| other(format!("bad CA PEM: {e}")))? {
        roots.add(cert).map_err(|e| other(format!("bad CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(other("no CA certificate configured (TlsConfig::ca_pem is empty)".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| other(e.to_string()))?
        .with_root_certificates(roots);
    let config = match &cfg.client_cert_pem {
        None => builder.with_no_client_auth(),
        Some((chain, key)) => {
            let mut rd: &[u8] = chain;
            let certs: Vec<CertificateDer<'static>> =
                rustls_pemfile_certs(&mut rd).map_err(|e| other(format!("bad client certificate PEM: {e}")))?;
            let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| other(format!("bad client key PEM: {e}")))?;
            builder.with_client_auth_cert(certs, key).map_err(|e| other(e.to_string()))?
        }
    };
    let name = cfg.server_name.clone().unwrap_or_else(|| host.to_string());
    let server_name = ServerName::try_from(name).map_err(|e| other(format!("bad server name: {e}")))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    match connector.connect(server_name, tcp).await {
        Ok(s) => Ok(Stream::Tls(Box::new(s))),
        Err(e) => Err(classify(addr, e)),
    }
}

#[cfg(feature = "tls")]
fn rustls_pemfile_certs(rd: &mut &[u8]) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(rd).collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())
}

#[cfg(feature = "tls")]
fn classify(addr: &Arc<str>, e: std::io::Error) -> Error {
    classify_io(addr, &e).unwrap_or_else(|| Error::from_io(addr, e))
}

/// The TLS variant for an I/O error that carries a rustls error (also
/// after the handshake: TLS 1.3 reports a refused client certificate on
/// the first read).
#[cfg(feature = "tls")]
pub(crate) fn classify_io(addr: &Arc<str>, e: &std::io::Error) -> Option<Error> {
    use rustls::{AlertDescription as A, CertificateError, Error as R};
    let inner = e.get_ref()?.downcast_ref::<R>()?;
    let kind = match inner {
        R::InvalidCertificate(CertificateError::UnknownIssuer) | R::AlertReceived(A::UnknownCA) => {
            TlsErrorKind::UnknownCa
        }
        R::InvalidCertificate(CertificateError::NotValidForName)
        | R::InvalidCertificate(CertificateError::NotValidForNameContext { .. }) => TlsErrorKind::HostnameMismatch,
        R::InvalidCertificate(_)
        | R::AlertReceived(A::BadCertificate)
        | R::AlertReceived(A::CertificateRequired)
        | R::AlertReceived(A::CertificateExpired)
        | R::AlertReceived(A::UnsupportedCertificate) => TlsErrorKind::BadCertificate,
        _ => TlsErrorKind::Other,
    };
    Some(Error::Tls { kind, addr: addr.clone(), detail: inner.to_string() })
}
