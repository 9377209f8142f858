//! Error replies the engine and the handlers share, with Redis's exact texts
//! (and its sanitising: an argument quoted in an error never carries CR/LF).

use bytes::Bytes;

use crate::protocol::Reply;

/// `WRONGTYPE Operation against a key holding the wrong kind of value`.
pub(crate) fn wrongtype() -> Reply {
    Reply::error("WRONGTYPE Operation against a key holding the wrong kind of value")
}

/// `ERR syntax error`.
pub(crate) fn syntax_error() -> Reply {
    Reply::error("ERR syntax error")
}

/// `ERR value is not an integer or out of range`.
pub(crate) fn not_integer() -> Reply {
    Reply::error("ERR value is not an integer or out of range")
}

/// `ERR value is not a valid float`.
pub(crate) fn not_float() -> Reply {
    Reply::error("ERR value is not a valid float")
}

/// Redis's rejectCommandFormat replaces CR and LF with spaces so the error stays one line.
/// Redis's reply sanitising: a newline in an error would end it early.
fn sanitize(mut s: Vec<u8>) -> Reply {
    for c in &mut s {
        if matches!(*c, b'\r' | b'\n') {
            *c = b' ';
        }
    }
    Reply::Error(Bytes::from(s))
}

/// `%.Ns` of an argument: at most `n` bytes, up to the first NUL (C string
/// formatting), the bytes as they came (not necessarily UTF-8).
fn c_prefix(b: &[u8], n: usize) -> &[u8] {
    let b = &b[..b.len().min(n)];
    b.iter().position(|&c| c == 0).map_or(b, |nul| &b[..nul])
}

/// `ERR unknown command 'x', with args beginning with: 'a' 'b' `.
pub(crate) fn unknown_command(args: &[Bytes]) -> Reply {
    let mut list = Vec::new();
    for a in &args[1..] {
        if list.len() >= 128 {
            break;
        }
        let room = 128 - list.len();
        list.push(b'\'');
        list.extend_from_slice(c_prefix(a, room));
        list.extend_from_slice(b"' ");
    }
    let mut msg = b"ERR unknown command '".to_vec();
    msg.extend_from_slice(c_prefix(&args[0], 128));
    msg.extend_from_slice(b"', with args beginning with: ");
    msg.extend_from_slice(&list);
    sanitize(msg)
}

/// `ERR unknown subcommand 'x'. Try CLIENT HELP.`
pub(crate) fn unknown_subcommand(container: &str, sub: &[u8]) -> Reply {
    let mut msg = b"ERR unknown subcommand '".to_vec();
    msg.extend_from_slice(c_prefix(sub, 128));
    msg.extend_from_slice(format!("'. Try {} HELP.", container.to_ascii_uppercase()).as_bytes());
    sanitize(msg)
}

/// `ERR wrong number of arguments for 'x' command` (full name, e.g. `client|setname`).
pub(crate) fn wrong_arity(fullname: &str) -> Reply {
    Reply::error(format!("ERR wrong number of arguments for '{fullname}' command"))
}
