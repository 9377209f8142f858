//! Carrying out a decision on a socket: shared by the fake server and the
//! proxy. Nothing here holds a lock; callers race these futures against
//! their kill and shutdown signals, so every wait is cancellable.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::engine::{AcceptAction, ReplyAction};
use super::model::errors;

/// A socket that can be made to close abortively (RST instead of FIN).
pub(crate) trait Abort {
    /// Sets `SO_LINGER` to zero so that dropping the socket sends RST.
    /// Sockets that cannot (unix) ignore it and close cleanly.
    fn abort_on_close(&self);
}

impl Abort for tokio::net::TcpStream {
    fn abort_on_close(&self) {
        // Zero linger never blocks on close, which is what tokio's
        // deprecation of set_linger warns about; it is exactly the RST we want.
        #[allow(deprecated)]
        let _ = self.set_linger(Some(Duration::ZERO));
    }
}

impl Abort for tokio::net::tcp::WriteHalf<'_> {
    fn abort_on_close(&self) {
        let stream: &tokio::net::TcpStream = self.as_ref();
        stream.abort_on_close();
    }
}

impl Abort for tokio::net::UnixStream {
    fn abort_on_close(&self) {}
}

#[cfg(feature = "tls")]
impl<S: Abort> Abort for tokio_rustls::server::TlsStream<S> {
    fn abort_on_close(&self) {
        self.get_ref().0.abort_on_close();
    }
}

/// What the connection does after a reply was delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    Continue,
    /// The connection must end now (after a reset, dropping the socket sends RST).
    Close,
}

/// Writes `reply` as `action` says.
pub(crate) async fn deliver<S>(s: &mut S, reply: &[u8], action: ReplyAction) -> io::Result<Next>
where
    S: AsyncWrite + Unpin + Abort,
{
    match action {
        ReplyAction::Delay(d) => {
            tokio::time::sleep(d).await;
            s.write_all(reply).await?;
        }
        ReplyAction::Drop => {}
        ReplyAction::Partial { chunk, delay } => {
            for (i, piece) in reply.chunks(chunk.max(1)).enumerate() {
                if i > 0 {
                    tokio::time::sleep(delay).await;
                }
                s.write_all(piece).await?;
                s.flush().await?;
            }
        }
        ReplyAction::Bandwidth(bps) => {
            // Slices of a tenth of a second's worth, each written after the
            // time it "costs", so the whole reply takes at least len/bps.
            let chunk = (bps / 10).clamp(1, 64 * 1024) as usize;
            for piece in reply.chunks(chunk) {
                tokio::time::sleep(Duration::from_secs_f64(piece.len() as f64 / bps as f64)).await;
                s.write_all(piece).await?;
                s.flush().await?;
            }
        }
        ReplyAction::Close { after, reset } => {
            let n = after.min(reply.len());
            if n > 0 {
                s.write_all(&reply[..n]).await?;
                s.flush().await?;
            }
            if reset {
                s.abort_on_close();
            } else {
                let _ = s.shutdown().await;
            }
            return Ok(Next::Close);
        }
        ReplyAction::SlowClose(d) => {
            tokio::time::sleep(d).await;
            let _ = s.shutdown().await;
            return Ok(Next::Close);
        }
    }
    Ok(Next::Continue)
}

/// Reads and discards until the peer hangs up: a server that took the
/// request and will never answer.
pub(crate) async fn stall<S: AsyncRead + Unpin>(s: &mut S) {
    let mut sink = vec![0u8; 16 * 1024];
    loop {
        match s.read(&mut sink).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Finishes off a connection refused at accept, on its own task so that the
/// accept loop never waits on a client.
pub(crate) fn refuse<S>(mut s: S, action: AcceptAction)
where
    S: AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        if action == AcceptAction::MaxClients {
            let line = format!("-{}\r\n", errors::MAX_CLIENTS);
            let _ = tokio::time::timeout(Duration::from_secs(5), s.write_all(line.as_bytes())).await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), s.shutdown()).await;
    });
}
