//! Certificates for TLS tests, made with rcgen in memory: a CA, server and
//! client certificates signed by it, and the broken variants TLS faults need
//! (expired, not yet valid, wrong host name, signed by another CA).
//!
//! ```
//! use redis_harness::tls::{ServerCertKind, TestPki};
//! let pki = TestPki::generate().unwrap();
//! let server = pki.server_cert(ServerCertKind::Valid).unwrap();
//! assert!(server.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
//! let _client_config = pki.client_config(None).unwrap();
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// Host names and addresses a valid server certificate covers.
pub const SERVER_NAMES: &[&str] = &["localhost", "127.0.0.1", "::1"];

/// The one host name a [`ServerCertKind::WrongHost`] certificate covers.
pub const WRONG_HOST: &str = "not-this-host.invalid";

/// Why a TLS setup failed.
#[derive(Debug)]
pub struct TlsError(String);

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "redis-harness TLS setup: {}", self.0)
    }
}

impl std::error::Error for TlsError {}

fn err(what: &str) -> impl FnOnce(rcgen::Error) -> TlsError + '_ {
    move |e| TlsError(format!("{what}: {e}"))
}

fn rustls_err(what: &str) -> impl FnOnce(rustls::Error) -> TlsError + '_ {
    move |e| TlsError(format!("{what}: {e}"))
}

/// A certificate and its private key, in PEM and DER.
#[derive(Clone)]
pub struct CertKey {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key (PKCS#8), PEM.
    pub key_pem: String,
    cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl fmt::Debug for CertKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertKey").field("cert_pem", &self.cert_pem).field("key_pem", &"<redacted>").finish()
    }
}

impl CertKey {
    /// The certificate chain (leaf only) for rustls.
    pub fn chain(&self) -> Vec<CertificateDer<'static>> {
        vec![self.cert_der.clone()]
    }

    /// The private key for rustls.
    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }
}

/// Which server certificate to present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerCertKind {
    /// Signed by the CA, valid now, for localhost/127.0.0.1/::1.
    Valid,
    /// Validity ended a day ago.
    Expired,
    /// Validity starts in a year.
    NotYetValid,
    /// Valid, but only for [`WRONG_HOST`].
    WrongHost,
    /// Valid for the right names, but signed by a CA the client does not trust.
    UnknownCa,
}

struct Ca {
    cert: rcgen::Certificate,
    issuer: Issuer<'static, KeyPair>,
    key_pem: String,
}

impl Ca {
    fn new(name: &str) -> Result<Ca, TlsError> {
        let key = KeyPair::generate().map_err(err("generating the CA key"))?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(err("CA parameters"))?;
        params.distinguished_name = dn(name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let (nb, na) = validity(-1, 3650);
        params.not_before = nb;
        params.not_after = na;
        let cert = params.self_signed(&key).map_err(err("self-signing the CA"))?;
        let key_pem = key.serialize_pem();
        Ok(Ca { cert, issuer: Issuer::new(params, key), key_pem })
    }

    fn sign(
        &self,
        names: &[&str],
        cn: &str,
        days: (i64, i64),
        usage: ExtendedKeyUsagePurpose,
    ) -> Result<CertKey, TlsError> {
        let key = KeyPair::generate().map_err(err("generating a key"))?;
        let mut params = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .map_err(err("parameters"))?;
        params.distinguished_name = dn(cn);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        let (nb, na) = validity(days.0, days.1);
        params.not_before = nb;
        params.not_after = na;
        let cert = params.signed_by(&key, &self.issuer).map_err(err("signing a certificate"))?;
        Ok(CertKey {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().clone(),
            key_der: key.serialize_der(),
        })
    }
}

fn dn(cn: &str) -> DistinguishedName {
    let mut d = DistinguishedName::new();
    d.push(DnType::CommonName, cn);
    d.push(DnType::OrganizationName, "redis-harness test PKI");
    d
}

/// A validity window in days relative to now.
fn validity(from_days: i64, to_days: i64) -> (time::OffsetDateTime, time::OffsetDateTime) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs() as i64;
    let at = |days: i64| {
        time::OffsetDateTime::from_unix_timestamp(now + days * 86_400).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    };
    (at(from_days), at(to_days))
}

/// A throwaway PKI: a trusted CA and an untrusted "other" CA.
pub struct TestPki {
    ca: Ca,
    other: Ca,
}

impl fmt::Debug for TestPki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestPki").finish_non_exhaustive()
    }
}

/// The crypto provider every config here uses (ring; no process-wide default needed).
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TestPki {
    /// Generates a CA and another, untrusted CA (a few milliseconds).
    pub fn generate() -> Result<TestPki, TlsError> {
        Ok(TestPki { ca: Ca::new("redis-harness test CA")?, other: Ca::new("redis-harness OTHER CA (untrusted)")? })
    }

    /// The trusted CA certificate, PEM.
    pub fn ca_pem(&self) -> String {
        self.ca.cert.pem()
    }

    /// The trusted CA's private key, PEM (certs-gen writes it so other tools can sign).
    pub fn ca_key_pem(&self) -> &str {
        &self.ca.key_pem
    }

    /// The untrusted CA certificate, PEM.
    pub fn other_ca_pem(&self) -> String {
        self.other.cert.pem()
    }

    /// A server certificate of the given kind.
    pub fn server_cert(&self, kind: ServerCertKind) -> Result<CertKey, TlsError> {
        let server = ExtendedKeyUsagePurpose::ServerAuth;
        match kind {
            ServerCertKind::Valid => self.ca.sign(SERVER_NAMES, "localhost", (-1, 365), server),
            ServerCertKind::Expired => self.ca.sign(SERVER_NAMES, "localhost", (-30, -1), server),
            ServerCertKind::NotYetValid => self.ca.sign(SERVER_NAMES, "localhost", (365, 730), server),
            ServerCertKind::WrongHost => self.ca.sign(&[WRONG_HOST], WRONG_HOST, (-1, 365), server),
            ServerCertKind::UnknownCa => self.other.sign(SERVER_NAMES, "localhost", (-1, 365), server),
        }
    }

    /// A client certificate for mTLS, signed by the trusted CA.
    pub fn client_identity(&self, name: &str) -> Result<CertKey, TlsError> {
        self.ca.sign(&[], name, (-1, 365), ExtendedKeyUsagePurpose::ClientAuth)
    }

    /// A client certificate signed by the untrusted CA (the server must refuse it).
    pub fn foreign_client_identity(&self, name: &str) -> Result<CertKey, TlsError> {
        self.other.sign(&[], name, (-1, 365), ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn roots(&self) -> Result<RootCertStore, TlsError> {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.cert.der().clone()).map_err(rustls_err("adding the CA to the trust store"))?;
        Ok(roots)
    }

    /// A rustls client config that trusts the CA, presenting `identity` if given (mTLS).
    pub fn client_config(&self, identity: Option<&CertKey>) -> Result<Arc<ClientConfig>, TlsError> {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(rustls_err("client protocol versions"))?
            .with_root_certificates(self.roots()?);
        let config = match identity {
            Some(id) => {
                builder.with_client_auth_cert(id.chain(), id.key()).map_err(rustls_err("client certificate"))?
            }
            None => builder.with_no_client_auth(),
        };
        Ok(Arc::new(config))
    }

    /// A rustls server config presenting `cert`; with `require_client_cert`,
    /// clients must present a certificate signed by the CA (mTLS).
    pub fn server_config(&self, cert: &CertKey, require_client_cert: bool) -> Result<Arc<ServerConfig>, TlsError> {
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(rustls_err("server protocol versions"))?;
        let builder = if require_client_cert {
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(self.roots()?), provider())
                    .build()
                    .map_err(|e| TlsError(format!("client verifier: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let config = builder.with_single_cert(cert.chain(), cert.key()).map_err(rustls_err("server certificate"))?;
        Ok(Arc::new(config))
    }
}

/// Files certs-gen writes, and what each holds.
pub const FILES: &[(&str, &str)] = &[
    ("ca.crt", "the trusted CA certificate"),
    ("ca.key", "the trusted CA private key"),
    ("server.crt", "server certificate for localhost, 127.0.0.1 and ::1, signed by ca.crt"),
    ("server.key", "its private key"),
    ("client.crt", "client certificate (CN=redis-harness-client) for mTLS, signed by ca.crt"),
    ("client.key", "its private key"),
    ("expired-server.crt", "server certificate whose validity ended a day ago"),
    ("expired-server.key", "its private key"),
    ("not-yet-valid-server.crt", "server certificate valid only from a year from now"),
    ("not-yet-valid-server.key", "its private key"),
    ("wrong-host-server.crt", "server certificate for not-this-host.invalid only"),
    ("wrong-host-server.key", "its private key"),
    ("other-ca.crt", "an untrusted CA certificate"),
    ("other-ca-server.crt", "server certificate for the right names, signed by other-ca.crt"),
    ("other-ca-server.key", "its private key"),
    ("other-ca-client.crt", "client certificate signed by other-ca.crt (a server must refuse it)"),
    ("other-ca-client.key", "its private key"),
];

impl TestPki {
    /// Writes every file in [`FILES`] into `dir` (created if missing).
    pub fn write_to(&self, dir: &std::path::Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let server = |k| self.server_cert(k).map_err(std::io::Error::other);
        let pairs: Vec<(&str, CertKey)> = vec![
            ("server", server(ServerCertKind::Valid)?),
            ("client", self.client_identity("redis-harness-client").map_err(std::io::Error::other)?),
            ("expired-server", server(ServerCertKind::Expired)?),
            ("not-yet-valid-server", server(ServerCertKind::NotYetValid)?),
            ("wrong-host-server", server(ServerCertKind::WrongHost)?),
            ("other-ca-server", server(ServerCertKind::UnknownCa)?),
            ("other-ca-client", self.foreign_client_identity("redis-harness-intruder").map_err(std::io::Error::other)?),
        ];
        std::fs::write(dir.join("ca.crt"), self.ca_pem())?;
        std::fs::write(dir.join("ca.key"), self.ca_key_pem())?;
        std::fs::write(dir.join("other-ca.crt"), self.other_ca_pem())?;
        for (name, ck) in pairs {
            std::fs::write(dir.join(format!("{name}.crt")), &ck.cert_pem)?;
            std::fs::write(dir.join(format!("{name}.key")), &ck.key_pem)?;
        }
        Ok(())
    }
}
