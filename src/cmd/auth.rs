//! Authentication against the ACL users (`requirepass` is the default user's password).

use bytes::Bytes;

use super::Ctx;
use crate::engine::config::Config;
use crate::protocol::Reply;

/// Checks credentials and marks the connection authenticated as `user`, or
/// returns Redis's WRONGPASS error (also for unknown and disabled users) and
/// logs the failure in the ACL LOG with `command` (the command's name as
/// sent, AUTH or HELLO) as its object.
pub(crate) fn check(ctx: &mut Ctx<'_>, command: &Bytes, user: &[u8], pass: &[u8]) -> Result<(), Reply> {
    if crate::engine::acl::authenticate(ctx.st.config(), user, pass) {
        ctx.conn.authenticated = true;
        ctx.set_user(Bytes::copy_from_slice(user));
        Ok(())
    } else {
        let user = Bytes::copy_from_slice(user);
        crate::engine::acl::log_denial(ctx, crate::engine::acl::LogReason::Auth, command.clone(), Some(user));
        Err(Reply::error("WRONGPASS invalid username-password pair or user is disabled."))
    }
}

/// Whether a new (or RESET) connection is logged in as the default user
/// without AUTH: the default user is `on` and `nopass`.
pub(crate) fn default_user_autoauth(cfg: &Config) -> bool {
    cfg.acl.default_autoauth().unwrap_or_else(|| cfg.requirepass().is_none())
}

/// Whether the default user has no password (`AUTH <password>` is then an error).
pub(crate) fn default_user_nopass(cfg: &Config) -> bool {
    crate::engine::acl::default_nopass(cfg)
}
