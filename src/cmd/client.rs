//! CLIENT subcommands.

use bytes::Bytes;

use crate::protocol::Reply;

/// Redis refuses connection names with spaces, newlines or other
/// non-printable characters.
pub(crate) fn validate_name(name: &Bytes) -> Result<(), Reply> {
    if name.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(Reply::error("ERR Client names cannot contain spaces, newlines or special characters."));
    }
    Ok(())
}
