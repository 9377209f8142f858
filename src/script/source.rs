//! Reading scripts' and libraries' source without running it: the
//! `#!lua flags=...` header of an EVAL script, the `#!lua name=...` header
//! of a FUNCTION library (as Redis's `functionExtractLibMetaData` splits
//! it), and the scan that decides whether a library's functions may loop
//! (FCALL then runs on the script thread). Plain Rust, no Lua state.

/// `no-writes`: the script may not call write commands.
pub(crate) const FLAG_NO_WRITES: u8 = 1;
/// `allow-oom`: the script runs (and calls `denyoom` commands) over `maxmemory`.
pub(crate) const FLAG_ALLOW_OOM: u8 = 2;
/// `allow-stale`: the script runs on a stale replica.
pub(crate) const FLAG_ALLOW_STALE: u8 = 4;
/// `no-cluster`: the script refuses to run in cluster mode.
pub(crate) const FLAG_NO_CLUSTER: u8 = 8;
/// `allow-cross-slot-keys`: the script may touch keys of several slots.
pub(crate) const FLAG_ALLOW_CROSS_SLOT_KEYS: u8 = 16;

/// Script flags by name, in the order Redis lists them (`scripts_flags_def`).
pub(crate) const SCRIPT_FLAGS: [(&str, u8); 5] = [
    ("no-writes", FLAG_NO_WRITES),
    ("allow-oom", FLAG_ALLOW_OOM),
    ("allow-stale", FLAG_ALLOW_STALE),
    ("no-cluster", FLAG_NO_CLUSTER),
    ("allow-cross-slot-keys", FLAG_ALLOW_CROSS_SLOT_KEYS),
];

/// The flag of this name (any case), as Redis's flag tables match them.
pub(crate) fn script_flag(name: &[u8]) -> Option<u8> {
    SCRIPT_FLAGS.iter().find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name)).map(|&(_, f)| f)
}

/// An EVAL script's `#!lua flags=a,b` header (Redis's
/// `evalExtractShebangFlags`): `Ok(None)` without one, else the flags and
/// the header's length (the code compiles from the newline after it, so
/// line numbers stay the user's). Errors are Redis's texts, `ERR` included.
pub(crate) fn shebang_flags(body: &[u8]) -> Result<Option<(u8, usize)>, String> {
    if !body.starts_with(b"#!") {
        return Ok(None);
    }
    let Some(len) = body.iter().position(|&b| b == b'\n') else {
        return Err("ERR Invalid script shebang".into());
    };
    let Some(parts) = crate::protocol::request::split_args(&body[..len]).filter(|p| !p.is_empty()) else {
        return Err("ERR Invalid engine in script shebang".into());
    };
    if &parts[0][..] != b"#!lua" {
        return Err(format!("ERR Unexpected engine in script shebang: {}", String::from_utf8_lossy(&parts[0])));
    }
    let mut flags = 0;
    for part in &parts[1..] {
        let Some(list) = part.strip_prefix(b"flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {}", String::from_utf8_lossy(part)));
        };
        if list.is_empty() {
            continue;
        }
        for name in list.split(|&c| c == b',') {
            match SCRIPT_FLAGS.iter().find(|(n, _)| n.as_bytes() == name) {
                Some(&(_, f)) => flags |= f,
                None => {
                    return Err(format!("ERR Unexpected flag in script shebang: {}", String::from_utf8_lossy(name)))
                }
            }
        }
    }
    Ok(Some((flags, len)))
}

/// A library's header, split as Redis's `functionExtractLibMetaData` does.
pub(super) struct Meta<'a> {
    pub(super) engine: Vec<u8>,
    pub(super) name: Vec<u8>,
    /// The code after the header line (starting with its `\n`).
    pub(super) body: &'a [u8],
}

pub(super) fn parse_meta(code: &[u8]) -> Result<Meta<'_>, String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    // Redis reads the code as a C string: the header ends at the first newline before any NUL.
    let c_str = &code[..code.iter().position(|&b| b == 0).unwrap_or(code.len())];
    let Some(nl) = c_str.iter().position(|&b| b == b'\n') else {
        return Err("Invalid library metadata".into());
    };
    let parts = match crate::protocol::request::split_args(&code[..nl]) {
        Some(p) if !p.is_empty() => p,
        _ => return Err("Invalid library metadata".into()),
    };
    let engine = parts[0].get(2..).unwrap_or_default().to_vec();
    let mut name = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err("Invalid metadata value, name argument was given multiple times".into());
            }
            name = Some(part[5..].to_vec());
            continue;
        }
        return Err(format!("Invalid metadata value given: {}", String::from_utf8_lossy(part)));
    }
    let Some(name) = name else { return Err("Library name was not given".into()) };
    Ok(Meta { engine, name, body: &code[nl..] })
}

/// Redis's `functionsVerifyName`: `[A-Za-z0-9_]+`.
pub(super) fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_')
}

/// One token of Lua source, as [`library_may_loop`] reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'a> {
    /// A name or keyword.
    Name(&'a [u8]),
    /// A quoted or long string literal.
    Str,
    /// A number.
    Number,
    /// Any other character (operators, brackets, separators).
    Punct(u8),
}

/// The level of a long bracket opening at `at` (`[[` is 0, `[==[` is 2), if one does.
fn long_bracket(code: &[u8], at: usize) -> Option<usize> {
    if code.get(at) != Some(&b'[') {
        return None;
    }
    let level = code[at + 1..].iter().take_while(|&&c| c == b'=').count();
    (code.get(at + 1 + level) == Some(&b'[')).then_some(level)
}

/// The end (exclusive) of the long bracket of `level` opened at `at`.
fn long_bracket_end(code: &[u8], at: usize, level: usize) -> Option<usize> {
    let mut i = at + level + 2;
    while i < code.len() {
        if code[i] == b']'
            && code[i + 1..].iter().take(level).all(|&c| c == b'=')
            && code.get(i + 1 + level) == Some(&b']')
        {
            return Some(i + level + 2);
        }
        i += 1;
    }
    None
}

/// Lua source split into tokens, comments and blanks left out; `None`
/// for what cannot be read (an unterminated string or comment).
fn lua_tokens(code: &[u8]) -> Option<Vec<Tok<'_>>> {
    let is_word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out = Vec::new();
    let mut i = 0;
    while i < code.len() {
        let c = code[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if code[i..].starts_with(b"--") {
            i = match long_bracket(code, i + 2) {
                Some(level) => long_bracket_end(code, i + 2, level)?,
                None => code[i..].iter().position(|&c| c == b'\n').map_or(code.len(), |n| i + n),
            };
        } else if let Some(level) = long_bracket(code, i) {
            i = long_bracket_end(code, i, level)?;
            out.push(Tok::Str);
        } else if c == b'\'' || c == b'"' {
            i += 1;
            loop {
                match code.get(i)? {
                    b'\\' => i += 2,
                    b'\n' => return None,
                    &q if q == c => break,
                    _ => i += 1,
                }
            }
            i += 1;
            out.push(Tok::Str);
        } else if c.is_ascii_digit() || (c == b'.' && code.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            // Digits, letters (hex, exponents), dots and an exponent's sign.
            while i < code.len()
                && (is_word(code[i])
                    || code[i] == b'.'
                    || (matches!(code[i], b'+' | b'-') && matches!(code[i - 1], b'e' | b'E')))
            {
                i += 1;
            }
            out.push(Tok::Number);
        } else if is_word(c) {
            let start = i;
            while i < code.len() && is_word(code[i]) {
                i += 1;
            }
            out.push(Tok::Name(&code[start..i]));
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
    }
    Some(out)
}

/// Whether a library's code may make one of its functions run long: true
/// unless it has no loop (`while`, `for`, `repeat`, `goto`) nor code loaded
/// at run time (`load`, `loadstring`), and every `function` in it is an
/// anonymous callback handed straight to `redis.register_function` (as
/// `redis.register_function('name', function ...)` or as the `callback`
/// of the table form). Such callbacks cannot call themselves or each
/// other: no Lua code can reach them by name, so each run is bounded.
/// Conservative: what it cannot read counts as looping.
pub(crate) fn library_may_loop(code: &[u8]) -> bool {
    const LOOPS: &[&[u8]] = &[b"while", b"for", b"repeat", b"goto", b"load", b"loadstring"];
    let Some(toks) = lua_tokens(code) else { return true };
    // `redis.register_function` ends at token `i`.
    let registers = |i: usize| {
        i >= 2
            && toks[i] == Tok::Name(b"register_function")
            && toks[i - 1] == Tok::Punct(b'.')
            && toks[i - 2] == Tok::Name(b"redis")
    };
    // Open brackets: whether each is a registration's argument list or table.
    let mut open: Vec<bool> = Vec::new();
    for (i, &tok) in toks.iter().enumerate() {
        match tok {
            Tok::Name(w) if LOOPS.contains(&w) => return true,
            Tok::Name(b"function") => {
                let prev = |n: usize| i.checked_sub(n).map(|j| toks[j]);
                // redis.register_function('name', function ...
                let positional = prev(1) == Some(Tok::Punct(b','))
                    && matches!(prev(2), Some(Tok::Str))
                    && prev(3) == Some(Tok::Punct(b'('))
                    && i >= 4
                    && registers(i - 4);
                // redis.register_function{..., callback = function ...
                let named = prev(1) == Some(Tok::Punct(b'='))
                    && prev(2) == Some(Tok::Name(b"callback"))
                    && matches!(prev(3), Some(Tok::Punct(b'{' | b',' | b';')))
                    && open.last() == Some(&true);
                if !(positional || named) {
                    return true;
                }
            }
            Tok::Punct(b'{') => {
                // Directly after the name, or as the only argument: redis.register_function({...}).
                let direct = i >= 1 && registers(i - 1);
                let in_parens = i >= 2 && toks[i - 1] == Tok::Punct(b'(') && registers(i - 2);
                open.push(direct || in_parens);
            }
            Tok::Punct(b'(' | b'[') => open.push(false),
            Tok::Punct(b'}' | b')' | b']') => {
                open.pop();
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_errors_match_redis() {
        let e = |code: &str| parse_meta(code.as_bytes()).err();
        assert_eq!(e("lua name=x").as_deref(), Some("Missing library metadata"));
        assert_eq!(e("#!lua name=x").as_deref(), Some("Invalid library metadata"));
        assert_eq!(e("#!lua\n").as_deref(), Some("Library name was not given"));
        assert_eq!(
            e("#!lua name=a name=b\n").as_deref(),
            Some("Invalid metadata value, name argument was given multiple times")
        );
        assert_eq!(e("#!lua foo=bar\n").as_deref(), Some("Invalid metadata value given: foo=bar"));
        let m = parse_meta(b"#!LUA NAME=lib\nreturn").ok().unwrap();
        assert_eq!((m.engine.as_slice(), m.name.as_slice(), m.body), (&b"LUA"[..], &b"lib"[..], &b"\nreturn"[..]));
    }

    #[test]
    fn a_library_loops_unless_its_only_functions_are_registered_callbacks() {
        let loops = |code: &str| library_may_loop(code.as_bytes());
        // Callbacks handed straight to register_function, either form: bounded.
        assert!(!loops("\nredis.register_function('f', function(keys, args) return redis.call('get', keys[1]) end)"));
        assert!(!loops(
            "\nredis.register_function{function_name='f', callback=function() return 1 end, flags={'no-writes'}}"
        ));
        assert!(!loops("\nredis.register_function({callback = function() return 1 end, function_name = 'g'})"));
        // Loop words in strings and comments do not count.
        assert!(!loops(
            "\n-- while true\n--[==[ for ]==]\nredis.register_function('f', function() return 'repeat' .. [[while]] .. \"for\\\"\" end)"
        ));
        // Loops, run-time code, and functions reachable by name do.
        assert!(loops("\nredis.register_function('f', function() while true do end end)"));
        assert!(loops("\nredis.register_function('f', function() for i = 1, 2 do end end)"));
        assert!(loops("\nredis.register_function('f', function() repeat until false end)"));
        assert!(loops("\nredis.register_function('f', function() return loadstring('x') end)"));
        assert!(loops(
            "\nlocal function spin() return spin() end\nredis.register_function('f', function() return spin() end)"
        ));
        assert!(loops("\nlocal f = function() end\nredis.register_function('f', f)"));
        assert!(loops("\nredis.register_function('f', function() return pcall(function() end) end)"));
        assert!(loops("\nlocal t = {callback = function() end}\nredis.register_function('f', t.callback)"));
        // What cannot be read counts as looping.
        assert!(loops("\nredis.register_function('f', function() return 'open end)"));
        assert!(loops("\n--[[ open"));
    }
}
