//! Bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and
//! BITFIELD_RO, on string values.
//!
//! Bits are numbered from the most significant bit of the first byte, as
//! Redis numbers them. Checks run in Redis 7.0's order (BITCOUNT looks the
//! key up before it parses its range, BITPOS parses the bit first, BITFIELD
//! parses every operation before it touches the key), because that order
//! decides which error or reply a client sees.
//!
//! A write takes the string out of its entry and edits it in place when no
//! one else holds it, so setting one bit of a large bitmap costs O(1) rather
//! than a copy of the whole string.

use bytes::{Bytes, BytesMut};

use super::strings::{overwrite_string, read_string};
use super::util::{eq_ic, parse_i64, syntax_error, tri, wrongtype};
use super::{cmd, CommandSpec, Ctx};
use crate::protocol::Reply;
use crate::store::{EncodingHint, Entry, Value};

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd("setbit", 4, &["write", "denyoom"], (1, 1, 1), &["write", "bitmap", "slow"], setbit),
    cmd("getbit", 3, &["readonly", "fast"], (1, 1, 1), &["read", "bitmap", "fast"], getbit),
    cmd("bitcount", -2, &["readonly"], (1, 1, 1), &["read", "bitmap", "slow"], bitcount),
    cmd("bitpos", -3, &["readonly"], (1, 1, 1), &["read", "bitmap", "slow"], bitpos),
    cmd("bitop", -4, &["write", "denyoom"], (2, -1, 1), &["write", "bitmap", "slow"], bitop),
    cmd("bitfield", -2, &["write", "denyoom"], (1, 1, 1), &["write", "bitmap", "slow"], bitfield),
    cmd("bitfield_ro", -2, &["readonly", "fast"], (1, 1, 1), &["read", "bitmap", "fast"], bitfield_ro),
];

const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";
const BAD_BIT: &str = "ERR bit is not an integer or out of range";
const BAD_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

/// A bit offset as Redis's `getBitOffsetFromArgument` reads it: a string2ll
/// integer, or with `hash` (BITFIELD) `#n` meaning `n * bits`; negative or
/// past `proto-max-bulk-len` bytes is an error.
fn bit_offset(ctx: &Ctx<'_>, arg: &[u8], hash_bits: Option<u32>) -> Result<u64, Reply> {
    let use_hash = hash_bits.is_some() && arg.len() > 1 && arg[0] == b'#';
    let digits = if use_hash { &arg[1..] } else { arg };
    let mut off = parse_i64(digits).ok_or_else(|| Reply::error(BAD_OFFSET))?;
    if use_hash {
        off = off.wrapping_mul(i64::from(hash_bits.unwrap_or(1)));
    }
    if off < 0 || (off as u64 >> 3) >= ctx.st.config().max_bulk_len() {
        return Err(Reply::error(BAD_OFFSET));
    }
    Ok(off as u64)
}

/// The string under `key` grown with zero bytes to hold bit `max_bit`, taken
/// out of the keyspace for editing (Redis's `lookupStringForBitCommand`);
/// also whether the key was created or grew. Put it back with [`store_bits`].
fn take_bits(ctx: &mut Ctx<'_>, key: &[u8], max_bit: u64) -> Result<(BytesMut, bool), Reply> {
    let db = ctx.db();
    let need = (max_bit >> 3) as usize + 1;
    let old = match ctx.st.lookup(db, key, ctx.now) {
        None => None,
        Some(Entry { value: Value::Str(s), .. }) => Some(std::mem::take(s)),
        Some(_) => return Err(wrongtype()),
    };
    let Some(old) = old else {
        return Ok((BytesMut::zeroed(need), true));
    };
    let mut buf = old.try_into_mut().unwrap_or_else(|shared| BytesMut::from(&shared[..]));
    let grew = buf.len() < need;
    if grew {
        buf.resize(need, 0);
    }
    Ok((buf, grew))
}

/// Puts a string taken by [`take_bits`] back (a raw string, TTL kept) and,
/// when `changed`, signals the write and raises `setbit`. An unchanged
/// string goes back silently: WATCH and keyspace events see no write.
fn store_bits(ctx: &mut Ctx<'_>, key: &Bytes, buf: BytesMut, changed: bool) {
    let db = ctx.db();
    if changed {
        overwrite_string(ctx, key, buf.freeze(), EncodingHint::Raw);
        ctx.st.notify(db, '$', "setbit", key);
        return;
    }
    match ctx.st.entry_mut(db, key) {
        Some(e) => {
            e.value = Value::Str(buf.freeze());
            e.enc = EncodingHint::Raw;
            ctx.st.remeasure(db, key);
        }
        // Created for a write that did not happen (OVERFLOW FAIL): Redis
        // keeps the zeroed string it made room in.
        None => overwrite_string(ctx, key, buf.freeze(), EncodingHint::Raw),
    }
}

fn setbit(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let key = &args[1];
    let offset = tri!(bit_offset(ctx, &args[2], None));
    let on = match parse_i64(&args[3]) {
        Some(v @ (0 | 1)) => v as u8,
        _ => return Reply::error(BAD_BIT),
    };
    let (mut buf, grew) = tri!(take_bits(ctx, key, offset));
    let byte = (offset >> 3) as usize;
    let shift = 7 - (offset & 7) as u8;
    let old = (buf[byte] >> shift) & 1;
    buf[byte] = (buf[byte] & !(1 << shift)) | (on << shift);
    // A SETBIT that neither created, grew nor changed anything is not a write.
    store_bits(ctx, key, buf, grew || old != on);
    Reply::Int(i64::from(old))
}

fn getbit(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let offset = tri!(bit_offset(ctx, &args[2], None));
    let s = tri!(read_string(ctx, &args[1])).unwrap_or_default();
    let byte = (offset >> 3) as usize;
    let bit = s.get(byte).map_or(0, |b| (b >> (7 - (offset & 7))) & 1);
    Reply::Int(i64::from(bit))
}

/// A range of BITCOUNT/BITPOS resolved against a string of `len` bytes:
/// the inclusive bit range, or `None` when it is empty.
fn resolve_range(len: u64, start: i64, end: i64, bits: bool) -> Option<(u64, u64)> {
    let total = if bits { (len as i64) << 3 } else { len as i64 };
    let fix = |v: i64| if v < 0 { (total + v).max(0) } else { v };
    let (start, mut end) = (fix(start), fix(end));
    if end >= total {
        end = total - 1;
    }
    if start > end {
        return None;
    }
    let (start, end) = (start as u64, end as u64);
    Some(if bits { (start, end) } else { (start << 3, (end << 3) | 7) })
}

/// BYTE or BIT as the range's unit; anything else is a syntax error.
fn range_unit(arg: &[u8]) -> Result<bool, Reply> {
    if eq_ic(arg, "bit") {
        Ok(true)
    } else if eq_ic(arg, "byte") {
        Ok(false)
    } else {
        Err(syntax_error())
    }
}

/// A string2ll argument, with Redis's `ERR value is not an integer or out of range`.
fn long_arg(arg: &[u8]) -> Result<i64, Reply> {
    parse_i64(arg).ok_or_else(super::util::not_integer)
}

/// Number of set bits in the inclusive bit range.
fn count_bits(s: &[u8], first: u64, last: u64) -> u64 {
    let (fb, lb) = ((first >> 3) as usize, (last >> 3) as usize);
    let mut n: u64 = s[fb..=lb].iter().map(|b| u64::from(b.count_ones())).sum();
    // Take back the bits of the edge bytes that lie outside the range.
    let head = (first & 7) as u32;
    if head != 0 {
        n -= u64::from((s[fb] >> (8 - head)).count_ones());
    }
    let tail = 7 - (last & 7) as u32;
    if tail != 0 {
        n -= u64::from((s[lb] & ((1u8 << tail) - 1)).count_ones());
    }
    n
}

fn bitcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let Some(s) = tri!(read_string(ctx, &args[1])) else {
        return Reply::Int(0);
    };
    let range = match args.len() {
        2 => resolve_range(s.len() as u64, 0, -1, false),
        4 | 5 => {
            let start = tri!(long_arg(&args[2]));
            let end = tri!(long_arg(&args[3]));
            if start < 0 && end < 0 && start > end {
                return Reply::Int(0);
            }
            let bits = if args.len() == 5 { tri!(range_unit(&args[4])) } else { false };
            resolve_range(s.len() as u64, start, end, bits)
        }
        _ => return syntax_error(),
    };
    match range {
        None => Reply::Int(0),
        Some((first, last)) => Reply::Int(count_bits(&s, first, last) as i64),
    }
}

/// The first bit equal to `bit` in the inclusive bit range, if any.
fn find_bit(s: &[u8], bit: bool, first: u64, last: u64) -> Option<u64> {
    let skip = if bit { 0x00 } else { 0xff };
    let mut pos = first;
    while pos <= last {
        let byte = s[(pos >> 3) as usize];
        // Whole bytes that cannot hold the bit are skipped at once.
        if pos & 7 == 0 && pos + 7 <= last && byte == skip {
            pos += 8;
            continue;
        }
        if ((byte >> (7 - (pos & 7))) & 1 == 1) == bit {
            return Some(pos);
        }
        pos += 1;
    }
    None
}

fn bitpos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let bit = match parse_i64(&args[2]) {
        None => return super::util::not_integer(),
        Some(b @ (0 | 1)) => b == 1,
        Some(_) => return Reply::error("ERR The bit argument must be 1 or 0."),
    };
    let Some(s) = tri!(read_string(ctx, &args[1])) else {
        return Reply::Int(if bit { -1 } else { 0 });
    };
    let len = s.len() as u64;
    let (range, end_given) = match args.len() {
        3 => (resolve_range(len, 0, -1, false), false),
        4..=6 => {
            let start = tri!(long_arg(&args[3]));
            let bits = if args.len() == 6 { tri!(range_unit(&args[5])) } else { false };
            let (end, given) = if args.len() >= 5 { (tri!(long_arg(&args[4])), true) } else { (-1, false) };
            (resolve_range(len, start, end, bits), given)
        }
        _ => return syntax_error(),
    };
    let Some((first, last)) = range else {
        return Reply::Int(-1);
    };
    match find_bit(&s, bit, first, last) {
        Some(p) => Reply::Int(p as i64),
        // Past an open-ended range the string reads as zeros, so the
        // first clear bit is the one just after it; within a given end
        // there is none.
        None if !bit && !end_given => Reply::Int(((last >> 3) + 1) as i64 * 8),
        None => Reply::Int(-1),
    }
}

fn bitop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    #[derive(Clone, Copy, PartialEq)]
    enum Op {
        And,
        Or,
        Xor,
        Not,
    }
    let op = if eq_ic(&args[1], "and") {
        Op::And
    } else if eq_ic(&args[1], "or") {
        Op::Or
    } else if eq_ic(&args[1], "xor") {
        Op::Xor
    } else if eq_ic(&args[1], "not") {
        Op::Not
    } else {
        return syntax_error();
    };
    if op == Op::Not && args.len() != 4 {
        return Reply::error("ERR BITOP NOT must be called with a single source key.");
    }
    let mut sources: Vec<Bytes> = Vec::with_capacity(args.len() - 3);
    for key in &args[3..] {
        sources.push(tri!(read_string(ctx, key)).unwrap_or_default());
    }
    let max = sources.iter().map(Bytes::len).max().unwrap_or(0);
    let dest = &args[2];
    let db = ctx.db();
    if max == 0 {
        if ctx.st.delete(db, dest, ctx.now) {
            ctx.st.notify(db, 'g', "del", dest);
        }
        return Reply::Int(0);
    }
    let byte = |s: &Bytes, i: usize| s.get(i).copied().unwrap_or(0);
    let mut out = BytesMut::zeroed(max);
    for (i, o) in out.iter_mut().enumerate() {
        *o = match op {
            Op::Not => !byte(&sources[0], i),
            Op::And => sources.iter().fold(0xff, |acc, s| acc & byte(s, i)),
            Op::Or => sources.iter().fold(0, |acc, s| acc | byte(s, i)),
            Op::Xor => sources.iter().fold(0, |acc, s| acc ^ byte(s, i)),
        };
    }
    // setKey: the destination is replaced, TTL and all.
    ctx.st.set_value(db, dest, Value::Str(out.freeze()), ctx.now);
    ctx.st.set_encoding(db, dest, EncodingHint::Raw);
    ctx.st.notify(db, '$', "set", dest);
    Reply::Int(max as i64)
}

/// BITFIELD's overflow behaviour for SET and INCRBY.
#[derive(Clone, Copy, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

/// A field type: signed or not, and its width (i1..i64, u1..u63).
#[derive(Clone, Copy)]
struct FieldType {
    signed: bool,
    bits: u32,
}

enum FieldOp {
    Get,
    Set(i64),
    IncrBy(i64),
}

struct Field {
    op: FieldOp,
    ty: FieldType,
    offset: u64,
    overflow: Overflow,
}

fn field_type(arg: &[u8]) -> Result<FieldType, Reply> {
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(Reply::error(BAD_TYPE)),
    };
    // Redis reads the width as a C string: it ends at a NUL.
    let digits = crate::num::c_str(&arg[1..]);
    match parse_i64(digits) {
        Some(b) if b >= 1 && (b <= 63 || (signed && b == 64)) => Ok(FieldType { signed, bits: b as u32 }),
        _ => Err(Reply::error(BAD_TYPE)),
    }
}

/// Reads `bits` bits at bit `offset`, most significant first; bytes past
/// the end of `s` read as zero.
fn get_field(s: &[u8], offset: u64, ty: FieldType) -> u64 {
    let mut v: u64 = 0;
    for i in 0..u64::from(ty.bits) {
        let pos = offset + i;
        let byte = s.get((pos >> 3) as usize).copied().unwrap_or(0);
        v = (v << 1) | u64::from((byte >> (7 - (pos & 7))) & 1);
    }
    if ty.signed && ty.bits < 64 && v & (1 << (ty.bits - 1)) != 0 {
        v |= u64::MAX << ty.bits;
    }
    v
}

/// Writes the low `bits` bits of `v` at bit `offset` (`s` is long enough).
fn set_field(s: &mut [u8], offset: u64, bits: u32, v: u64) {
    for i in 0..u64::from(bits) {
        let bit = ((v >> (u64::from(bits) - 1 - i)) & 1) as u8;
        let pos = offset + i;
        let byte = &mut s[(pos >> 3) as usize];
        let shift = 7 - (pos & 7) as u8;
        *byte = (*byte & !(1 << shift)) | (bit << shift);
    }
}

/// `value + incr` in the field's range: `Ok(v)` without overflow, or
/// `Err(v)` with the value the overflow policy gives (WRAP or SAT; FAIL
/// writes nothing, so its value is unused).
fn field_add(value: u64, incr: i64, ty: FieldType, overflow: Overflow) -> Result<u64, u64> {
    let bits = ty.bits;
    let wrap = |raw: u64| -> u64 {
        if ty.signed && bits < 64 {
            let mask = u64::MAX << bits;
            if raw & (1 << (bits - 1)) != 0 {
                raw | mask
            } else {
                raw & !mask
            }
        } else if bits < 64 {
            raw & !(u64::MAX << bits)
        } else {
            raw
        }
    };
    let sum = value.wrapping_add(incr as u64);
    if ty.signed {
        let max: i64 = if bits == 64 { i64::MAX } else { (1i64 << (bits - 1)) - 1 };
        let min = -max - 1;
        let v = value as i64;
        let max_incr = (max as u64).wrapping_sub(value) as i64;
        let min_incr = min.wrapping_sub(v);
        let high = v > max || (bits != 64 && incr > max_incr) || (v >= 0 && incr > 0 && incr > max_incr);
        let low = v < min || (bits != 64 && incr < min_incr) || (v < 0 && incr < 0 && incr < min_incr);
        if high || low {
            return Err(match overflow {
                Overflow::Sat if high => max as u64,
                Overflow::Sat => min as u64,
                _ => wrap(sum),
            });
        }
        Ok(sum)
    } else {
        let max: u64 = (1u64 << bits) - 1;
        let max_incr = max.wrapping_sub(value) as i64;
        let min_incr = (value as i64).wrapping_neg();
        let high = value > max || (incr > 0 && incr > max_incr);
        let low = !high && incr < 0 && incr < min_incr;
        if high || low {
            return Err(match overflow {
                Overflow::Sat if high => max,
                Overflow::Sat => 0,
                _ => wrap(sum),
            });
        }
        Ok(sum)
    }
}

/// A field's value as the integer reply shows it: signed fields were sign
/// extended when read, unsigned ones have at most 63 bits.
fn field_reply(v: u64) -> Reply {
    Reply::Int(v as i64)
}

fn parse_fields(ctx: &Ctx<'_>, args: &[Bytes]) -> Result<Vec<Field>, Reply> {
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < args.len() {
        let rest = args.len() - j - 1;
        let sub = &args[j];
        let op = if eq_ic(sub, "get") && rest >= 2 {
            0
        } else if eq_ic(sub, "set") && rest >= 3 {
            1
        } else if eq_ic(sub, "incrby") && rest >= 3 {
            2
        } else if eq_ic(sub, "overflow") && rest >= 1 {
            let kind = &args[j + 1];
            overflow = if eq_ic(kind, "wrap") {
                Overflow::Wrap
            } else if eq_ic(kind, "sat") {
                Overflow::Sat
            } else if eq_ic(kind, "fail") {
                Overflow::Fail
            } else {
                return Err(Reply::error("ERR Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        } else {
            return Err(syntax_error());
        };
        let ty = field_type(&args[j + 1])?;
        let offset = bit_offset(ctx, &args[j + 2], Some(ty.bits))?;
        let op = match op {
            0 => FieldOp::Get,
            1 => FieldOp::Set(long_arg(&args[j + 3])?),
            _ => FieldOp::IncrBy(long_arg(&args[j + 3])?),
        };
        j += if matches!(op, FieldOp::Get) { 3 } else { 4 };
        fields.push(Field { op, ty, offset, overflow });
    }
    Ok(fields)
}

fn bitfield(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    bitfield_generic(ctx, args, false)
}

fn bitfield_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    bitfield_generic(ctx, args, true)
}

fn bitfield_generic(ctx: &mut Ctx<'_>, args: &[Bytes], read_only: bool) -> Reply {
    let fields = tri!(parse_fields(ctx, args));
    let key = &args[1];
    let highest =
        fields.iter().filter(|f| !matches!(f.op, FieldOp::Get)).map(|f| f.offset + u64::from(f.ty.bits) - 1).max();
    let Some(highest) = highest else {
        // Only GETs: a missing key reads as zeros.
        let s = tri!(read_string(ctx, key)).unwrap_or_default();
        return Reply::Array(fields.iter().map(|f| field_reply(get_field(&s, f.offset, f.ty))).collect());
    };
    if read_only {
        return Reply::error("ERR BITFIELD_RO only supports the GET subcommand");
    }
    let (mut buf, grew) = tri!(take_bits(ctx, key, highest));
    let mut replies = Vec::with_capacity(fields.len());
    let mut changes = 0;
    for f in &fields {
        let old = get_field(&buf, f.offset, f.ty);
        let (outcome, is_set) = match f.op {
            FieldOp::Get => {
                replies.push(field_reply(old));
                continue;
            }
            FieldOp::IncrBy(by) => (field_add(old, by, f.ty, f.overflow), false),
            FieldOp::Set(v) => (field_add(v as u64, 0, f.ty, f.overflow), true),
        };
        let new = match outcome {
            Ok(v) => v,
            Err(_) if f.overflow == Overflow::Fail => {
                replies.push(Reply::Nil);
                continue;
            }
            Err(v) => v,
        };
        // A write that leaves the field as it was changes nothing, unless
        // the string was created or grew to make room for it.
        if grew || new != old {
            changes += 1;
        }
        set_field(&mut buf, f.offset, f.ty.bits, new);
        // SET answers the previous value, INCRBY the new one.
        replies.push(field_reply(if is_set { old } else { new }));
    }
    store_bits(ctx, key, buf, changes > 0);
    Reply::Array(replies)
}

#[cfg(test)]
mod tests {
    use super::*;

    const U8: FieldType = FieldType { signed: false, bits: 8 };
    const I8: FieldType = FieldType { signed: true, bits: 8 };
    const I64: FieldType = FieldType { signed: true, bits: 64 };

    #[test]
    fn fields_read_and_write_most_significant_bit_first() {
        let mut s = vec![0u8; 3];
        set_field(&mut s, 4, 8, 0xab);
        assert_eq!(s, [0x0a, 0xb0, 0]);
        assert_eq!(get_field(&s, 4, U8), 0xab);
        assert_eq!(get_field(&s, 4, I8) as i64, -85);
        // Past the end reads as zero.
        assert_eq!(get_field(&s, 20, U8), 0);
    }

    #[test]
    fn overflow_policies() {
        assert_eq!(field_add(250, 10, U8, Overflow::Wrap), Err(4));
        assert_eq!(field_add(250, 10, U8, Overflow::Sat), Err(255));
        assert_eq!(field_add(5, -10, U8, Overflow::Sat), Err(0));
        assert_eq!(field_add(5, -10, U8, Overflow::Wrap), Err(251));
        assert_eq!(field_add(100, 27, I8, Overflow::Wrap), Ok(127));
        assert_eq!(field_add(100, 28, I8, Overflow::Wrap).map_err(|v| v as i64), Err(-128));
        assert_eq!(field_add(100, 28, I8, Overflow::Sat), Err(127));
        assert_eq!(field_add((-100i64) as u64, -29, I8, Overflow::Sat).map_err(|v| v as i64), Err(-128));
        assert_eq!(field_add(i64::MAX as u64, 1, I64, Overflow::Sat), Err(i64::MAX as u64));
        assert_eq!(field_add(i64::MAX as u64, 1, I64, Overflow::Wrap), Err(i64::MIN as u64));
        // SET of a value outside the type.
        assert_eq!(field_add(300, 0, U8, Overflow::Wrap), Err(44));
        assert_eq!(field_add((-1i64) as u64, 0, U8, Overflow::Sat), Err(255));
    }

    #[test]
    fn counting_and_searching_respect_bit_edges() {
        let s = [0b0111_1111u8, 0xff, 0b1000_0000];
        assert_eq!(count_bits(&s, 0, 23), 16);
        assert_eq!(count_bits(&s, 1, 1), 1);
        assert_eq!(count_bits(&s, 0, 0), 0);
        assert_eq!(count_bits(&s, 3, 17), 14);
        assert_eq!(find_bit(&s, true, 0, 23), Some(1));
        assert_eq!(find_bit(&s, false, 1, 23), Some(17));
        assert_eq!(find_bit(&s, false, 1, 16), None);
    }
}
