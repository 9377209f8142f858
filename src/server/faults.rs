//! The fake server's side of fault injection: the hooks its connection
//! loop and accept loop call, the `HARNESS` admin namespace, and
//! [`FaultHost`] for its shared state.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::{watch, Notify};

use crate::engine::state::{Shared, State};
use crate::fault::apply::{self, Abort, Next};
use crate::fault::{render_command, Action, ConnInfo, FaultHost, Hub, ReplyAction};
use crate::protocol::Reply;

impl FaultHost for Shared {
    fn hub(&self) -> &Hub {
        &self.faults
    }

    fn received(&self) -> Vec<String> {
        self.lock().recorded.iter().map(|c| format!("[client {}] {}", c.client_id, render_command(&c.args))).collect()
    }
}

/// The connection's ways of being told to stop, raced against every fault wait.
pub(crate) struct Stop<'a> {
    pub kill: &'a Notify,
    pub shutdown: &'a mut watch::Receiver<bool>,
}

impl Stop<'_> {
    /// Runs `fut` unless the connection is killed or the server stops first.
    async fn race<F: std::future::Future>(&mut self, fut: F) -> Option<F::Output> {
        tokio::select! {
            r = fut => Some(r),
            _ = self.kill.notified() => None,
            _ = self.shutdown.wait_for(|s| *s) => None,
        }
    }
}

/// What the connection does with a command after the fault hook.
pub(crate) enum Before {
    /// Run it; deliver its reply through the action, if any.
    Run(Option<ReplyAction>),
    /// Do not run it; send this reply instead.
    Reply(Reply),
    /// The connection is finished.
    Closed,
}

/// Hook before a command runs: applies the rule that fires for the command,
/// if any. Costs one atomic load when no rule is installed. (`HARNESS`
/// admin commands are not answered here but by dispatch, after its
/// authentication, ACL and MULTI checks; see `super::admin`.)
pub(crate) async fn before_command<S>(
    shared: &Arc<Shared>,
    id: u64,
    args: &[Bytes],
    stream: &mut S,
    out: &mut BytesMut,
    mut stop: Stop<'_>,
) -> Before
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let hub = &shared.faults;
    if !hub.has_rules() {
        return Before::Run(None);
    }
    let (name, created) = {
        let st = shared.lock();
        match st.client(id) {
            Some(c) => (c.name.clone(), c.created),
            None => return Before::Run(None),
        }
    };
    let action = hub.on_command(&ConnInfo { id, name: &name, created }, args);
    match action {
        None => Before::Run(None),
        Some(Action::Reply(r)) => Before::Run(Some(r)),
        Some(Action::SlowScript(d)) => {
            // Taken by the script command's handler (src/cmd/busy.rs).
            shared.busy.arm_stall(id, d);
            Before::Run(None)
        }
        Some(Action::Error(text)) => {
            record(shared, id, args);
            Before::Reply(Reply::Error(text))
        }
        Some(Action::DelayCommand(d)) => {
            // Earlier pipelined replies go out first: they were answered before this request.
            if flush(stream, out).await.is_err() {
                return Before::Closed;
            }
            match stop.race(tokio::time::sleep(d)).await {
                Some(()) => Before::Run(None),
                None => Before::Closed,
            }
        }
        Some(Action::Stall) => {
            record(shared, id, args);
            if flush(stream, out).await.is_ok() {
                stop.race(apply::stall(stream)).await;
            }
            Before::Closed
        }
    }
}

/// Hook instead of the plain write: sends `out[..mark]` (earlier replies)
/// as is, then this command's reply `out[mark..]` through `action`.
/// Returns false when the connection must end.
pub(crate) async fn deliver<S>(
    stream: &mut S,
    out: &mut BytesMut,
    mark: usize,
    action: ReplyAction,
    mut stop: Stop<'_>,
) -> bool
where
    S: AsyncWrite + Unpin + Abort,
{
    let result = stop
        .race(async {
            stream.write_all(&out[..mark]).await?;
            apply::deliver(stream, &out[mark..], action).await
        })
        .await;
    out.clear();
    matches!(result, Some(Ok(Next::Continue)))
}

/// Hook at accept: a refuse or max-clients rule takes the socket (and
/// finishes it on its own task); otherwise the socket is handed back.
pub(crate) fn admit<S>(shared: &Shared, stream: S) -> Option<S>
where
    S: AsyncWrite + Unpin + Send + 'static,
{
    match shared.faults.on_accept() {
        None => Some(stream),
        Some(action) => {
            shared.lock().stats.rejected_connections += 1;
            apply::refuse(stream, action);
            None
        }
    }
}

async fn flush<S: AsyncWrite + Unpin>(stream: &mut S, out: &mut BytesMut) -> std::io::Result<()> {
    if !out.is_empty() {
        stream.write_all(out).await?;
        out.clear();
    }
    Ok(())
}

/// Records a command the fault took over (dispatch records the others).
fn record(shared: &Shared, id: u64, args: &[Bytes]) {
    shared.lock().recorded.record(id, args);
}

/// Closes every client connection except `except`; returns how many.
pub(crate) fn kill_all(shared: &Shared, except: Option<u64>) -> usize {
    kill_all_in(&mut shared.lock(), except)
}

/// [`kill_all`] under a lock the caller holds (the HARNESS command).
pub(crate) fn kill_all_in(st: &mut State, except: Option<u64>) -> usize {
    st.kill_clients(|c| Some(c.id) != except)
}

/// Sets `requirepass` (empty: none) as CONFIG SET does, the default user's
/// passwords included. Connections already authenticated stay so.
pub(crate) fn set_password(shared: &Shared, password: &str) {
    shared.lock().set_requirepass(password);
}
