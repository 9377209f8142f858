//! What the runner asks of the [`Backend`] a scenario runs against, in the
//! runner's terms: the backend as scenarios configure it, the TLS settings
//! that trust its CA, certificate names as scenario files spell them.
//! Faults, kills, restarts and passwords go to [`Backend`] directly, the
//! same on the fake and on a real Redis behind its fault proxy.

use std::time::Duration;

use crate::backend::{Backend, BackendError, BackendKind};
use crate::pool::TlsConfig;

/// Starts `kind` for a scenario: commands not recorded (long load runs),
/// and on a real Redis, every acknowledged write made durable, so that the
/// restart scenario can require each to be read back.
pub(super) fn start(kind: BackendKind, seed: u64, password: Option<&str>, tls: bool) -> Result<Backend, String> {
    if tls && kind.is_real() {
        return Err("TLS scenarios need the embedded backend (the fake's certificate controls)".into());
    }
    let mut b = Backend::builder(kind).seed(seed).record_commands(false).real_server_args([
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ]);
    if let Some(pw) = password {
        b = b.requirepass(pw);
    }
    if tls {
        #[cfg(feature = "tls")]
        {
            b = b.tls();
        }
        #[cfg(not(feature = "tls"))]
        return Err("this scenario needs TLS: build with --features tls".into());
    }
    b.start().map_err(|e| match e {
        BackendError::Unavailable { .. } => format!("{e} (run with --backend embedded, or install what it names)"),
        e => e.to_string(),
    })
}

/// TLS settings trusting the backend's CA, and with `trust_both` also the
/// PKI's other CA (what a rotated certificate is signed by); `None` without TLS.
#[cfg_attr(not(feature = "tls"), allow(unused_variables))]
pub(super) fn tls_config(b: &Backend, trust_both: bool) -> Option<TlsConfig> {
    #[cfg(feature = "tls")]
    if b.tls_addr().is_some() {
        let pki = b.tls_pki();
        let mut ca = pki.ca_pem();
        if trust_both {
            ca.push_str(&pki.other_ca_pem());
        }
        return Some(TlsConfig { ca_pem: ca.into_bytes(), client_cert_pem: None, server_name: None });
    }
    None
}

/// Presents the certificate a scenario names (`valid`, `expired`,
/// `not-yet-valid`, `wrong-host`, anything else: unknown CA) to new connections.
#[cfg_attr(not(feature = "tls"), allow(unused_variables))]
pub(super) fn set_tls_cert(b: &Backend, kind: &str) -> Result<(), String> {
    #[cfg(feature = "tls")]
    if let Some(f) = b.fake().filter(|f| f.is_tls()) {
        use crate::tls::ServerCertKind as K;
        let k = match kind {
            "valid" => K::Valid,
            "expired" => K::Expired,
            "not-yet-valid" => K::NotYetValid,
            "wrong-host" => K::WrongHost,
            _ => K::UnknownCa,
        };
        f.set_tls_server_cert(k);
        return Ok(());
    }
    Err("certificate controls need the embedded backend built with --features tls".into())
}

/// Waits (bounded by `timeout`) until no client socket is open; returns how many still are.
pub(super) async fn sockets_left(b: &Backend, timeout: Duration) -> usize {
    if !b.counts_sockets() {
        return 0;
    }
    match b.wait_for_open_connections(0, timeout).await {
        Ok(()) => 0,
        Err(_) => b.open_connections().unwrap_or(0),
    }
}
