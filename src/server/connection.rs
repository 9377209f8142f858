//! One client connection: read, parse, execute, write — and the bookkeeping
//! that makes socket accounting exact.

use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::state::{ClientInfo, Shared};
use crate::cmd::{self, ConnState, Ctx};
use crate::fault::server::{Before, Stop};
use crate::protocol::request::{Limits, Parsed, Parser};
use crate::protocol::Reply;

/// Removes the client from the table when the connection ends, however it
/// ends (EOF, error, kill, server shutdown dropping the task).
///
/// It is declared as the last field of [`Conn`] so that it runs after the
/// socket has been dropped: a socket is counted until it is really closed.
struct Registration {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.clients.remove(&self.id);
        st.dirty_clients.remove(&self.id);
        let id = self.id;
        st.watchers.retain(|_, ids| {
            ids.retain(|c| *c != id);
            !ids.is_empty()
        });
        drop(st);
        self.shared.open.send_modify(|n| *n -= 1);
    }
}

/// Socket first, registration last: fields drop in declaration order.
struct Conn<S> {
    stream: S,
    _registration: Registration,
}

/// Where a connection came from, for CLIENT LIST.
pub(crate) struct Peer {
    pub peer: String,
    pub local: String,
    pub unix: bool,
    pub fd: i64,
}

/// Registers a freshly accepted socket. Call this synchronously in the
/// accept loop so that the count is right the moment accept returns.
pub(crate) fn register(shared: &Arc<Shared>, peer: Peer) -> (u64, Arc<tokio::sync::Notify>) {
    let kill = Arc::new(tokio::sync::Notify::new());
    let mut st = shared.lock();
    let id = st.next_client_id;
    st.next_client_id += 1;
    st.stats.total_connections += 1;
    let now = Instant::now();
    st.clients.insert(
        id,
        ClientInfo {
            id,
            peer: peer.peer,
            local: peer.local,
            name: Default::default(),
            lib_name: Default::default(),
            lib_ver: Default::default(),
            db: 0,
            resp: 2,
            user: bytes::Bytes::from_static(b"default"),
            created: now,
            last_interaction: now,
            last_cmd: "NULL".into(),
            no_evict: false,
            no_touch: false,
            killed: false,
            kill: kill.clone(),
            sub: 0,
            psub: 0,
            ssub: 0,
            multi: -1,
            unix: peer.unix,
            fd: peer.fd,
        },
    );
    drop(st);
    shared.open.send_modify(|n| *n += 1);
    (id, kill)
}

/// Serves one registered connection until it closes.
pub(crate) async fn serve<S>(stream: S, shared: Arc<Shared>, id: u64, kill: Arc<tokio::sync::Notify>)
where
    S: AsyncRead + AsyncWrite + Unpin + crate::fault::Abort,
{
    let mut conn = Conn { stream, _registration: Registration { shared: shared.clone(), id } };
    let authenticated = shared.lock().config.requirepass().is_none();
    let mut state = ConnState::new(id, authenticated);
    let mut shutdown = shared.shutdown.subscribe();
    let mut inbuf = BytesMut::with_capacity(16 * 1024);
    let mut out = BytesMut::with_capacity(16 * 1024);
    let mut parser = Parser::default();
    loop {
        // Execute every complete command already buffered, then write all
        // their replies at once: pipelining costs one write per read.
        let mut close = false;
        loop {
            let limits = {
                let st = shared.lock();
                Limits {
                    max_bulk_len: st.config.max_bulk_len(),
                    authenticated: state.authenticated,
                    ..Limits::default()
                }
            };
            match parser.parse(&mut inbuf, &limits) {
                Ok(Parsed::Command(args)) => {
                    // Fault hook 1/2 (src/fault/server.rs): HARNESS admin commands, and
                    // rules that delay, replace or swallow this command before it runs.
                    let stop = Stop { kill: &kill, shutdown: &mut shutdown };
                    let fault = match crate::fault::server::before_command(
                        &shared,
                        id,
                        &args,
                        &mut conn.stream,
                        &mut out,
                        stop,
                    )
                    .await
                    {
                        Before::Run(f) => f,
                        Before::Reply(r) => {
                            r.encode(state.resp, &mut out);
                            continue;
                        }
                        Before::Closed => return,
                    };
                    let reply = {
                        let mut st = shared.lock();
                        if let Some(c) = st.clients.get_mut(&id) {
                            c.last_interaction = Instant::now();
                        }
                        let now = shared.clock.now_ms();
                        let mut ctx = Ctx { st: &mut st, conn: &mut state, now, clock: &shared.clock };
                        cmd::dispatch(&mut ctx, &args)
                    };
                    if let Some(d) = state.effects.sleep.take() {
                        // Write what came before, then wait on this connection only.
                        if write_out(&mut conn.stream, &mut out).await.is_err() {
                            return;
                        }
                        tokio::select! {
                            _ = tokio::time::sleep(d) => {}
                            _ = kill.notified() => return,
                            _ = shutdown.wait_for(|s| *s) => return,
                        }
                    }
                    let mark = out.len();
                    reply.encode(state.resp, &mut out);
                    // Fault hook 2/2: this reply (out[mark..]) goes out through the rule that fired.
                    if let Some(action) = fault {
                        let stop = Stop { kill: &kill, shutdown: &mut shutdown };
                        if !crate::fault::server::deliver(&mut conn.stream, &mut out, mark, action, stop).await {
                            return;
                        }
                    }
                    if state.effects.close {
                        close = true;
                        break;
                    }
                }
                Ok(Parsed::Incomplete) => break,
                Err(e) => {
                    Reply::error(e.message()).encode(state.resp, &mut out);
                    close = true;
                    break;
                }
            }
        }
        if write_out(&mut conn.stream, &mut out).await.is_err() || close {
            let _ = conn.stream.shutdown().await;
            return;
        }
        tokio::select! {
            r = conn.stream.read_buf(&mut inbuf) => match r {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
            _ = kill.notified() => return,
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

async fn write_out<S: AsyncWrite + Unpin>(stream: &mut S, out: &mut BytesMut) -> std::io::Result<()> {
    if !out.is_empty() {
        stream.write_all(out).await?;
        out.clear();
    }
    Ok(())
}
