//! What the Lua engine knows of long scripts: why its hook stops one
//! ([`Stop`]), the [`Watch`] it consults (the server's running-script
//! record, in the engine's `busy` module, implements it), the limits and texts,
//! and which scripts can loop ([`may_loop`]: those run on a thread of their
//! own so that other clients can be answered BUSY meanwhile).

use std::time::Duration;

/// How long (real time) one script may run before the fake aborts it.
/// Redis has no such limit; a test harness must not spin forever. It is
/// far beyond the default `busy-reply-threshold` (5 s), so BUSY, SCRIPT
/// KILL and UNKILLABLE all happen long before it.
pub(crate) const RUN_CAP: Duration = Duration::from_secs(60);

/// The error a script aborted by [`RUN_CAP`] ends with.
pub(crate) const CAP_ERROR: &str = "ERR Script aborted by redis-harness after running for 60 seconds (Redis itself would keep running it and answer BUSY to other clients)";

/// What a killed script raises (Redis's `luaMaskCountHook`); its caller
/// gets it as `ERR Script killed by user with SCRIPT KILL... script: ..., on @user_script:N.`,
/// for FCALL too (7.0.15 says SCRIPT KILL either way).
pub(crate) const KILLED_MESSAGE: &str = "Script killed by user with SCRIPT KILL...";

/// Why the hook stops a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// SCRIPT KILL or FUNCTION KILL.
    Killed,
    /// The server is stopping.
    Shutdown,
    /// [`RUN_CAP`] passed.
    Cap,
}

/// What the Lua hook consults every few thousand instructions of a script
/// that runs on its own thread.
pub(crate) trait Watch: Send + Sync {
    /// Whether a script runs on its own thread now.
    fn running(&self) -> bool;
    /// Marks the script timed out past `busy-reply-threshold`, and says whether it must stop.
    fn on_hook(&self) -> Option<Stop>;
}

/// The watch of an engine no server watches (yet): nothing runs there.
#[derive(Debug, Default)]
pub(crate) struct Unwatched;

impl Watch for Unwatched {
    fn running(&self) -> bool {
        false
    }

    fn on_hook(&self) -> Option<Stop> {
        None
    }
}

/// Whether a script's code can run an instruction twice (a loop, a
/// function that may recurse, code loaded at run time): such a script may
/// run for long, so it runs where other clients can be answered meanwhile.
/// A conservative scan of whole words; a keyword inside a string literal
/// counts too (the script then only costs a thread hand-off).
pub(crate) fn may_loop(body: &[u8]) -> bool {
    const WORDS: &[&[u8]] = &[b"while", b"for", b"repeat", b"function", b"loadstring", b"load", b"goto"];
    let is_word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < body.len() {
        if !is_word(body[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < body.len() && is_word(body[i]) {
            i += 1;
        }
        if WORDS.contains(&&body[start..i]) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn may_loop_finds_loops_and_functions_as_whole_words() {
        assert!(may_loop(b"while true do end"));
        assert!(may_loop(b"for i=1,10 do end"));
        assert!(may_loop(b"repeat until false"));
        assert!(may_loop(b"local f = function() end"));
        assert!(may_loop(b"return loadstring('x')"));
        assert!(!may_loop(b"return redis.call('incr',KEYS[1])"));
        assert!(!may_loop(b"return redis.call('get','format') .. fortune"));
    }
}
