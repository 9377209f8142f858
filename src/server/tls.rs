//! TLS listeners of the fake server (feature `tls`): the handshake before a
//! connection is served, with the server certificate and the
//! client-certificate requirement switchable while the server runs, and the
//! fault rules *at TLS handshake* (`crate::fault::Fault::TlsHandshakeStall`, ...)
//! consulted for every new connection.

use std::sync::Arc;

use tokio::io::AsyncWrite;

use super::connection;

/// TLS state shared by the accept loop and the handle.
#[cfg(feature = "tls")]
pub(crate) use enabled::TlsState;

/// Without the `tls` feature no TLS state can exist.
#[cfg(not(feature = "tls"))]
pub(crate) enum TlsState {}

/// Serves an accepted socket, after a TLS handshake if the listener is TLS.
pub(crate) async fn accept<S>(stream: S, registration: connection::Registration, tls: Option<Arc<TlsState>>)
where
    S: connection::ReadSome + AsyncWrite + crate::fault::Abort + 'static,
{
    match tls {
        #[cfg(feature = "tls")]
        Some(t) => t.serve(stream, registration).await,
        #[cfg(not(feature = "tls"))]
        Some(t) => match *t {},
        None => connection::serve(stream, registration).await,
    }
}

#[cfg(feature = "tls")]
mod enabled {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

    use super::super::connection;
    use crate::fault::{BadCertificate, HandshakeAction};
    use crate::tls::{ServerCertKind, TestPki, TlsError};

    /// Longest a TLS handshake may take before the server gives up on it.
    const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

    #[derive(Debug, Clone, Copy)]
    struct Settings {
        kind: ServerCertKind,
        require_client_cert: bool,
    }

    fn cert_kind(c: BadCertificate) -> ServerCertKind {
        match c {
            BadCertificate::Expired => ServerCertKind::Expired,
            BadCertificate::NotYetValid => ServerCertKind::NotYetValid,
            BadCertificate::WrongHost => ServerCertKind::WrongHost,
            BadCertificate::UnknownCa => ServerCertKind::UnknownCa,
        }
    }

    /// The server's PKI and its live TLS settings.
    pub(crate) struct TlsState {
        /// Shared with the fake started after this one by a backend restart.
        pub pki: Arc<TestPki>,
        settings: Mutex<Settings>,
        config: Mutex<Arc<rustls::ServerConfig>>,
    }

    impl TlsState {
        pub(crate) fn new(pki: Arc<TestPki>, require_client_cert: bool) -> Result<TlsState, TlsError> {
            let settings = Settings { kind: ServerCertKind::Valid, require_client_cert };
            let config = build(&pki, settings)?;
            Ok(TlsState { pki, settings: Mutex::new(settings), config: Mutex::new(config) })
        }

        fn update(&self, f: impl FnOnce(&mut Settings)) -> Result<(), TlsError> {
            let mut s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
            let mut next = *s;
            f(&mut next);
            let config = build(&self.pki, next)?;
            *s = next;
            *self.config.lock().unwrap_or_else(|e| e.into_inner()) = config;
            Ok(())
        }

        pub(crate) fn set_server_cert(&self, kind: ServerCertKind) -> Result<(), TlsError> {
            self.update(|s| s.kind = kind)
        }

        pub(crate) fn set_require_client_cert(&self, on: bool) -> Result<(), TlsError> {
            self.update(|s| s.require_client_cert = on)
        }

        pub(crate) async fn serve<S>(self: Arc<Self>, mut stream: S, registration: connection::Registration)
        where
            S: AsyncRead + AsyncWrite + Unpin + Send + crate::fault::Abort + 'static,
        {
            let fault = registration.host().faults.on_handshake();
            let mut config = self.config.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let mut shutdown = registration.shutdown_signal();
            let kill = registration.kill.clone();
            // Each path drops the socket before the registration, so the
            // socket is counted until it is really closed.
            match fault {
                Some(HandshakeAction::Stall) => {
                    // Read and discard, never answer: the server still sees
                    // the client hang up, so the socket is not counted forever.
                    let mut sink = [0u8; 1024];
                    loop {
                        tokio::select! {
                            r = stream.read(&mut sink) => if !matches!(r, Ok(n) if n > 0) { break },
                            _ = kill.notified() => break,
                            _ = shutdown.wait_for(|s| *s) => break,
                        }
                    }
                    drop(stream);
                    return;
                }
                Some(HandshakeAction::Close) => {
                    let mut hello = [0u8; 512];
                    let _ = tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.read(&mut hello)).await;
                    drop(stream);
                    return;
                }
                Some(HandshakeAction::BadCertificate(c)) => {
                    // This connection only: a config with the bad certificate.
                    let settings =
                        Settings { kind: cert_kind(c), ..*self.settings.lock().unwrap_or_else(|e| e.into_inner()) };
                    match build(&self.pki, settings) {
                        Ok(bad) => config = bad,
                        Err(e) => {
                            tracing::warn!(error = %e, "building the bad certificate of a TLS fault; closing");
                            return;
                        }
                    }
                }
                None => {}
            }
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            let handshake = tokio::select! {
                r = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)) => r,
                _ = kill.notified() => return,
                _ = shutdown.wait_for(|s| *s) => return,
            };
            // A failed handshake (plaintext on the TLS port, an untrusted
            // client certificate) closes the connection, as Redis does.
            if let Ok(Ok(tls)) = handshake {
                connection::serve(tls, registration).await;
            }
        }
    }

    fn build(pki: &TestPki, s: Settings) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        pki.server_config(&pki.server_cert(s.kind)?, s.require_client_cert)
    }
}
