//! HARNESS, the fake's admin command (fault rules and connection control
//! over RESP, on with `--admin`): the engine dispatches it like any command
//! (NOAUTH, ACL, MULTI) when the admin namespace is on. The request language
//! itself is `crate::fault::admin`, shared with the proxy.

use bytes::Bytes;

use super::{CommandSpec, Ctx};
use crate::fault::admin::{run, Request};
use crate::protocol::Reply;

/// The HARNESS command as the fake server's dispatch runs it.
pub(crate) static COMMAND: CommandSpec = CommandSpec {
    name: crate::catalog::HARNESS,
    arity: -1,
    flags: &["admin", "noscript", "loading", "stale"],
    keys: (0, 0, 0),
    acl: crate::catalog::HARNESS_CATEGORIES,
    handler: harness,
    subcommands: &[],
};

/// The fake server's HARNESS handler (dispatch checked auth, ACL and MULTI).
fn harness(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let hub = ctx.st.faults.clone();
    match run(&hub, args) {
        Request::Reply(r) => r,
        Request::KillAll => Reply::Int(ctx.st.kill_clients(|c| c.id != ctx.conn.id) as i64),
        Request::SetPassword(pw) => {
            ctx.st.set_requirepass(&pw);
            Reply::ok()
        }
    }
}
