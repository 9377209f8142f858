//! The ACL LOG: denied commands, keys and channels and failed
//! authentications, grouped as Redis groups them.

use bytes::Bytes;

use super::super::command::Ctx;

/// Why an ACL LOG entry was recorded (Redis's `ACL_DENIED_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogReason {
    /// The command itself is not allowed.
    Command,
    /// A key the command names is not allowed.
    Key,
    /// A channel the command names is not allowed.
    Channel,
    /// AUTH or HELLO AUTH with a wrong password, or an unknown or disabled user.
    Auth,
}

impl LogReason {
    pub(crate) fn name(self) -> &'static str {
        match self {
            LogReason::Command => "command",
            LogReason::Key => "key",
            LogReason::Channel => "channel",
            LogReason::Auth => "auth",
        }
    }
}

/// Where the refused action ran (Redis's `ACL_LOG_CTX_*`; scripts, `lua`,
/// are not logged yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogContext {
    /// A command sent by the client.
    Toplevel,
    /// A command queued in, or run by, MULTI/EXEC.
    Multi,
    /// A `redis.call` from a script or function.
    Lua,
}

impl LogContext {
    pub(crate) fn name(self) -> &'static str {
        match self {
            LogContext::Toplevel => "toplevel",
            LogContext::Multi => "multi",
            LogContext::Lua => "lua",
        }
    }
}

/// One ACL LOG entry.
#[derive(Debug, Clone)]
pub(crate) struct LogEntry {
    pub(crate) count: u64,
    pub(crate) reason: LogReason,
    pub(crate) context: LogContext,
    pub(crate) object: Bytes,
    pub(crate) username: Bytes,
    /// When it was (last) recorded, server-clock unix ms.
    pub(crate) ctime: u64,
    /// CLIENT INFO of the offending client then, without the trailing newline.
    pub(crate) client_info: String,
}

/// Redis groups an entry with an identical one recorded at most this long before (ms).
const LOG_GROUPING_MAX_DELTA_MS: u64 = 60_000;
/// How many of the newest entries Redis looks at for one to group with.
const LOG_GROUPING_SCAN: usize = 10;

/// The ACL LOG: refused commands and failed authentications, newest first.
#[derive(Debug, Default)]
pub(crate) struct AclLog {
    pub(crate) entries: std::collections::VecDeque<LogEntry>,
}

impl AclLog {
    /// Redis's `addACLLogEntry`: an entry equal to one of the 10 newest
    /// (same reason, context, object and username, recorded within 60 s)
    /// bumps that one's count, time and client info and moves it to the
    /// front; otherwise the new entry goes first and the oldest past
    /// `max_len` are dropped.
    pub(crate) fn add(&mut self, entry: LogEntry, max_len: usize) {
        let same = |c: &LogEntry| {
            c.reason == entry.reason
                && c.context == entry.context
                && c.ctime.abs_diff(entry.ctime) <= LOG_GROUPING_MAX_DELTA_MS
                && c.object == entry.object
                && c.username == entry.username
        };
        let found = self.entries.iter().take(LOG_GROUPING_SCAN).position(same);
        if let Some(mut m) = found.and_then(|i| self.entries.remove(i)) {
            m.count += 1;
            m.ctime = entry.ctime;
            m.client_info = entry.client_info;
            self.entries.push_front(m);
        } else {
            self.entries.push_front(entry);
            self.entries.truncate(max_len);
        }
    }
}

/// Records a refusal in the ACL LOG, as the connection's user unless
/// `username` says otherwise (a failed AUTH logs the user it tried).
pub(crate) fn log_denial(ctx: &mut Ctx<'_>, reason: LogReason, object: Bytes, username: Option<Bytes>) {
    let context = if ctx.conn.multi.is_some() || ctx.conn.in_exec { LogContext::Multi } else { LogContext::Toplevel };
    log_entry(ctx, reason, context, object, username);
}

/// Adds one ACL LOG entry for this connection, in `context`.
pub(crate) fn log_entry(
    ctx: &mut Ctx<'_>,
    reason: LogReason,
    context: LogContext,
    object: Bytes,
    username: Option<Bytes>,
) {
    let mut client_info = crate::engine::clients::info_line(ctx.st, ctx.conn.id);
    if client_info.ends_with('\n') {
        client_info.pop();
    }
    let max_len = ctx.st.config().get("acllog-max-len").and_then(|v| v.parse::<u64>().ok()).unwrap_or(128);
    let entry = LogEntry {
        count: 1,
        reason,
        context,
        object,
        username: username.unwrap_or_else(|| ctx.conn.user.clone()),
        ctime: ctx.now,
        client_info,
    };
    ctx.st.acl_log.add(entry, usize::try_from(max_len).unwrap_or(usize::MAX));
}
