//! Authentication: `requirepass` for the default user.

use bytes::Bytes;

use super::Ctx;
use crate::protocol::Reply;

/// Checks credentials and marks the connection authenticated, or returns
/// Redis's WRONGPASS error.
pub(crate) fn check(ctx: &mut Ctx<'_>, user: &[u8], pass: &[u8]) -> Result<(), Reply> {
    let ok = user == b"default"
        && match ctx.st.config.requirepass() {
            // With no password the default user is `nopass`: any password works.
            None => true,
            Some(pw) => pw.as_bytes() == pass,
        };
    if ok {
        ctx.conn.authenticated = true;
        ctx.conn.user = Bytes::copy_from_slice(user);
        Ok(())
    } else {
        Err(Reply::error("WRONGPASS invalid username-password pair or user is disabled."))
    }
}
