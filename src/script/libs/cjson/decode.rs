//! cjson.decode: JSON text to Lua values, with glibc strtod's number syntax.

use mlua::{Lua, LuaString, Table, Value};

use super::Config;
use crate::script::libs::MAX_C_STACK;

/// A token of the JSON text.
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str(Vec<u8>),
    Num(f64),
    Bool(bool),
    Null,
    Colon,
    Comma,
    End,
    /// A lexical error, with lua-cjson's description.
    Error(&'static str),
}

impl Tok {
    /// What an error message says was found.
    fn found(&self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str(_) => "T_STRING",
            Tok::Num(_) => "T_NUMBER",
            Tok::Bool(_) => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(e) => e,
        }
    }
}

/// A token and where it starts (0-based).
struct Token {
    tok: Tok,
    index: usize,
}

/// A container being filled while decoding: an array's next index, or an
/// object. The tables (at `2d-1` for depth `d`) and the object keys (at `2d`)
/// wait in a Lua scratch table, as in the encoder.
enum Open {
    Array { next: i64 },
    Object,
}

/// The decoder over one JSON text (read like a C string: a NUL ends it).
pub(super) struct Parser<'a> {
    lua: &'a Lua,
    data: &'a [u8],
    pos: usize,
    cfg: &'a Config,
}

/// A parse error message (the outer `Result` carries Lua errors such as memory).
type Parsed<T> = mlua::Result<Result<T, String>>;

fn parse_error(expected: &str, t: &Token) -> String {
    format!("Expected {expected} but found {} at character {}", t.tok.found(), t.index + 1)
}

impl<'a> Parser<'a> {
    /// A decoder at the start of `data`.
    pub(super) fn new(lua: &'a Lua, data: &'a [u8], cfg: &'a Config) -> Parser<'a> {
        Parser { lua, data, pos: 0, cfg }
    }

    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    /// Whether the text at the cursor starts with `word` (C `strncmp`).
    fn starts_with(&self, word: &[u8]) -> bool {
        word.iter().enumerate().all(|(i, &c)| self.at(self.pos + i) == c)
    }

    fn next_token(&mut self) -> Token {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let index = self.pos;
        let ch = self.at(self.pos);
        let single = match ch {
            b'{' => Some(Tok::ObjBegin),
            b'}' => Some(Tok::ObjEnd),
            b'[' => Some(Tok::ArrBegin),
            b']' => Some(Tok::ArrEnd),
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            _ => None,
        };
        if let Some(tok) = single {
            self.pos += 1;
            return Token { tok, index };
        }
        if ch == 0 {
            return Token { tok: Tok::End, index };
        }
        let known = matches!(ch, b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'"' | b'+' | b'-' | b'0'..=b'9');
        if !known {
            return Token { tok: Tok::Error("invalid token"), index };
        }
        if ch == b'"' {
            return self.string_token();
        }
        if ch == b'-' || ch.is_ascii_digit() {
            if self.cfg.decode_invalid_numbers == 0 && self.is_invalid_number() {
                return Token { tok: Tok::Error("invalid number"), index };
            }
            return self.number_token();
        }
        if self.starts_with(b"true") {
            self.pos += 4;
            return Token { tok: Tok::Bool(true), index };
        }
        if self.starts_with(b"false") {
            self.pos += 5;
            return Token { tok: Tok::Bool(false), index };
        }
        if self.starts_with(b"null") {
            self.pos += 4;
            return Token { tok: Tok::Null, index };
        }
        if self.cfg.decode_invalid_numbers != 0 && self.is_invalid_number() {
            return self.number_token();
        }
        Token { tok: Tok::Error("invalid token"), index }
    }

    /// `json_is_invalid_number`: `+`, hex, leading zeros, inf and nan.
    fn is_invalid_number(&self) -> bool {
        let mut p = self.pos;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return (c2 | 0x20) == b'x' || c2.is_ascii_digit();
        }
        if c <= b'9' {
            return false;
        }
        let word = |w: &[u8]| w.iter().enumerate().all(|(i, &x)| self.at(p + i).to_ascii_lowercase() == x);
        word(b"inf") || word(b"nan")
    }

    fn number_token(&mut self) -> Token {
        let index = self.pos;
        match strtod(self.data, self.pos) {
            Some((n, end)) => {
                self.pos = end;
                Token { tok: Tok::Num(n), index }
            }
            None => Token { tok: Tok::Error("invalid number"), index },
        }
    }

    fn string_token(&mut self) -> Token {
        let start = self.pos;
        self.pos += 1;
        let mut s = Vec::new();
        loop {
            let ch = self.at(self.pos);
            if ch == b'"' {
                break;
            }
            if ch == 0 {
                return Token { tok: Tok::Error("unexpected end of string"), index: self.pos };
            }
            if ch == b'\\' {
                let esc = match self.at(self.pos + 1) {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 8,
                    b't' => b'\t',
                    b'n' => b'\n',
                    b'f' => 12,
                    b'r' => b'\r',
                    b'u' => {
                        if self.unicode_escape(&mut s) {
                            continue;
                        }
                        return Token { tok: Tok::Error("invalid unicode escape code"), index: self.pos };
                    }
                    _ => return Token { tok: Tok::Error("invalid escape code"), index: self.pos },
                };
                s.push(esc);
                self.pos += 2;
                continue;
            }
            s.push(ch);
            self.pos += 1;
        }
        self.pos += 1;
        Token { tok: Tok::Str(s), index: start }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let mut v = 0u32;
        for i in 0..4 {
            let c = self.at(at + i);
            let d = match c {
                b'0'..=b'9' => c - b'0',
                _ => match c | 0x20 {
                    l @ b'a'..=b'f' => 10 + l - b'a',
                    _ => return None,
                },
            };
            v = (v << 4) | d as u32;
        }
        Some(v)
    }

    /// `\uXXXX` (and a surrogate pair) at the cursor, appended as UTF-8.
    fn unicode_escape(&mut self, s: &mut Vec<u8>) -> bool {
        let Some(mut cp) = self.hex4(self.pos + 2) else { return false };
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 {
                return false;
            }
            if self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.pos + 8) else { return false };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        let mut buf = [0u8; 4];
        // Every code point here is valid (surrogates were paired above).
        match char::from_u32(cp) {
            Some(c) => s.extend_from_slice(c.encode_utf8(&mut buf).as_bytes()),
            None => return false,
        }
        self.pos += len;
        true
    }

    /// `json_decode_descend`: one level deeper, within the depth and stack limits.
    fn descend(&self, depth: &mut usize, slots: usize, need: usize) -> Result<(), String> {
        *depth += 1;
        if *depth <= self.cfg.decode_max_depth as usize && slots + need <= MAX_C_STACK {
            return Ok(());
        }
        Err(format!("Found too many nested data structures ({depth}) at character {}", self.pos))
    }

    /// Reads `"key" :` after an object's `{` or `,` (`t` is the key's token).
    fn object_key(&mut self, t: Token) -> Parsed<LuaString> {
        let Tok::Str(k) = &t.tok else { return Ok(Err(parse_error("object key string", &t))) };
        let key = self.lua.create_string(k)?;
        let colon = self.next_token();
        if !matches!(colon.tok, Tok::Colon) {
            return Ok(Err(parse_error("colon", &colon)));
        }
        Ok(Ok(key))
    }

    /// The value the whole text holds, or lua-cjson's parse error.
    pub(super) fn decode(&mut self) -> Parsed<Value> {
        let lua = self.lua;
        let scratch = lua.create_table()?;
        let mut stack: Vec<Open> = Vec::new();
        let mut depth = 0usize;
        // Lua stack slots in use, as the C decoder counts them (the argument first).
        let mut slots = 1usize;
        let mut pending: Option<Token> = None;
        loop {
            let t = match pending.take() {
                Some(t) => t,
                None => self.next_token(),
            };
            let mut value = match t.tok {
                Tok::Str(s) => Value::String(lua.create_string(&s)?),
                Tok::Num(n) => Value::Number(n),
                Tok::Bool(b) => Value::Boolean(b),
                Tok::Null => Value::NULL,
                Tok::ObjBegin | Tok::ArrBegin => {
                    let object = matches!(t.tok, Tok::ObjBegin);
                    if let Err(e) = self.descend(&mut depth, slots, if object { 3 } else { 2 }) {
                        return Ok(Err(e));
                    }
                    let table = lua.create_table()?;
                    let first = self.next_token();
                    if matches!((&first.tok, object), (Tok::ObjEnd, true) | (Tok::ArrEnd, false)) {
                        depth -= 1;
                        Value::Table(table)
                    } else if object {
                        let key = match self.object_key(first)? {
                            Ok(k) => k,
                            Err(e) => return Ok(Err(e)),
                        };
                        let d = stack.len() + 1;
                        scratch.raw_set(2 * d - 1, table)?;
                        scratch.raw_set(2 * d, key)?;
                        slots += 2;
                        stack.push(Open::Object);
                        continue;
                    } else {
                        let d = stack.len() + 1;
                        scratch.raw_set(2 * d - 1, table)?;
                        slots += 1;
                        stack.push(Open::Array { next: 1 });
                        pending = Some(first);
                        continue;
                    }
                }
                _ => return Ok(Err(parse_error("value", &t))),
            };
            // Store the finished value in its container; close containers that end here.
            loop {
                let d = stack.len();
                let Some(open) = stack.last_mut() else {
                    let end = self.next_token();
                    if !matches!(end.tok, Tok::End) {
                        return Ok(Err(parse_error("the end", &end)));
                    }
                    return Ok(Ok(value));
                };
                let table: Table = scratch.raw_get(2 * d - 1)?;
                match open {
                    Open::Array { next } => {
                        table.raw_set(*next, value)?;
                        *next += 1;
                        let t = self.next_token();
                        match t.tok {
                            Tok::ArrEnd => {}
                            Tok::Comma => break,
                            _ => return Ok(Err(parse_error("comma or array end", &t))),
                        }
                        slots -= 1;
                    }
                    Open::Object => {
                        let key: Value = scratch.raw_get(2 * d)?;
                        table.raw_set(key, value)?;
                        let t = self.next_token();
                        match t.tok {
                            Tok::ObjEnd => {}
                            Tok::Comma => {
                                let kt = self.next_token();
                                match self.object_key(kt)? {
                                    Ok(k) => scratch.raw_set(2 * d, k)?,
                                    Err(e) => return Ok(Err(e)),
                                }
                                break;
                            }
                            _ => return Ok(Err(parse_error("comma or object end", &t))),
                        }
                        scratch.raw_set(2 * d, Value::Nil)?;
                        slots -= 2;
                    }
                }
                stack.pop();
                scratch.raw_set(2 * d - 1, Value::Nil)?;
                depth -= 1;
                value = Value::Table(table);
            }
        }
    }
}

/// glibc `strtod` at `start`: the longest number it reads there (decimal,
/// hexadecimal, `inf`/`infinity`, `nan`/`nan(...)`) and where it stops.
fn strtod(s: &[u8], start: usize) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut p = start;
    let neg = match at(p) {
        b'-' => {
            p += 1;
            true
        }
        b'+' => {
            p += 1;
            false
        }
        _ => false,
    };
    let sign = if neg { -1.0 } else { 1.0 };
    let word = |p: usize, w: &[u8]| w.iter().enumerate().all(|(i, &x)| at(p + i).to_ascii_lowercase() == x);
    if word(p, b"inf") {
        let end = if word(p, b"infinity") { p + 8 } else { p + 3 };
        return Some((sign * f64::INFINITY, end));
    }
    if word(p, b"nan") {
        let mut end = p + 3;
        if at(end) == b'(' {
            let mut q = end + 1;
            while at(q).is_ascii_alphanumeric() || at(q) == b'_' {
                q += 1;
            }
            if at(q) == b')' {
                end = q + 1;
            }
        }
        let nan = if neg { -f64::NAN } else { f64::NAN };
        return Some((nan, end));
    }
    if at(p) == b'0' && (at(p + 1) | 0x20) == b'x' {
        let q = p + 2;
        let hex_digit = |c: u8| c.is_ascii_hexdigit();
        if hex_digit(at(q)) || (at(q) == b'.' && hex_digit(at(q + 1))) {
            return Some(hex_float(s, q, sign));
        }
        // "0x" without digits: strtod reads the 0.
        return Some((sign * 0.0, p + 1));
    }
    let mut q = p;
    let int_start = q;
    while at(q).is_ascii_digit() {
        q += 1;
    }
    let int_digits = &s[int_start..q.min(s.len())];
    let mut frac_digits: &[u8] = &[];
    if at(q) == b'.' {
        let f = q + 1;
        let mut e = f;
        while at(e).is_ascii_digit() {
            e += 1;
        }
        if int_digits.is_empty() && e == f {
            return None;
        }
        frac_digits = &s[f..e.min(s.len())];
        q = e;
    } else if int_digits.is_empty() {
        return None;
    }
    let mut text = String::with_capacity(q - start + 8);
    if neg {
        text.push('-');
    }
    text.push_str(if int_digits.is_empty() { "0" } else { std::str::from_utf8(int_digits).unwrap_or("0") });
    if !frac_digits.is_empty() {
        text.push('.');
        text.push_str(std::str::from_utf8(frac_digits).unwrap_or("0"));
    }
    if at(q) | 0x20 == b'e' {
        let mut e = q + 1;
        if matches!(at(e), b'+' | b'-') {
            e += 1;
        }
        let digits = e;
        while at(e).is_ascii_digit() {
            e += 1;
        }
        if e > digits {
            text.push('e');
            text.push_str(std::str::from_utf8(&s[q + 1..e]).unwrap_or("0"));
            q = e;
        }
    }
    text.parse::<f64>().ok().map(|v| (v, q))
}

/// The hexadecimal float after `0x` at `q` (digits, an optional fraction, `p` exponent).
fn hex_float(s: &[u8], mut q: usize, sign: f64) -> (f64, usize) {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut mantissa: u64 = 0;
    let mut exp: i64 = 0;
    let mut seen_point = false;
    loop {
        let c = at(q);
        if c == b'.' && !seen_point {
            seen_point = true;
            q += 1;
            continue;
        }
        let Some(d) = (c as char).to_digit(16) else { break };
        if mantissa >> 60 == 0 {
            mantissa = (mantissa << 4) | d as u64;
            if seen_point {
                exp -= 4;
            }
        } else if !seen_point {
            // Digits past 64 bits only scale the value.
            exp += 4;
        }
        q += 1;
    }
    if at(q) | 0x20 == b'p' {
        let mut e = q + 1;
        let neg = at(e) == b'-';
        if matches!(at(e), b'+' | b'-') {
            e += 1;
        }
        let digits = e;
        let mut v: i64 = 0;
        while at(e).is_ascii_digit() {
            v = (v * 10 + (at(e) - b'0') as i64).min(1 << 20);
            e += 1;
        }
        if e > digits {
            exp += if neg { -v } else { v };
            q = e;
        }
    }
    let value = mantissa as f64 * 2f64.powi(exp.clamp(-1100, 1100) as i32);
    (sign * value, q)
}
