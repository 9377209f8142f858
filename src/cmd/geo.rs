//! Geo commands: GEOADD, GEODIST, GEOHASH, GEOPOS, GEORADIUS[_RO],
//! GEORADIUSBYMEMBER[_RO], GEOSEARCH and GEOSEARCHSTORE.
//!
//! A geo set is a sorted set whose scores are 52-bit geohashes (see
//! [`crate::store::geohash`]), so every zset command works on it. Checks and
//! replies follow Redis 7.0's `geo.c`: GEOADD rewrites itself into a ZADD,
//! distances are `%.4f` bulk strings, coordinates are `%.17Lf`-style
//! "human" long doubles (RESP3 doubles), and a search without ASC/DESC
//! returns points in the order it scans them: box by box (centre, N, S, E,
//! W, NE, NW, SE, SW), each box in score order.

use bytes::Bytes;

use super::util::{eq_ic, int_arg, syntax_error, tri};
use super::zsets::{read_zset, store_result, zadd_generic};
use super::{cmd, CommandSpec, Ctx};
use crate::num::longdouble::LongDouble;
use crate::num::{c_str, string2d};
use crate::protocol::Reply;
use crate::store::geohash::{self, Search, Shape};
use crate::store::zset::ZSet;
use crate::store::{Entry, Value};

const W: &[&str] = &["write", "geo", "slow"];
const R: &[&str] = &["read", "geo", "slow"];

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd("geoadd", -5, &["write", "denyoom"], (1, 1, 1), W, geoadd),
    cmd("geodist", -4, &["readonly"], (1, 1, 1), R, geodist),
    cmd("geohash", -2, &["readonly"], (1, 1, 1), R, geohash),
    cmd("geopos", -2, &["readonly"], (1, 1, 1), R, geopos),
    cmd("georadius", -6, &["write", "denyoom", "movablekeys"], (1, 1, 1), W, georadius),
    cmd("georadius_ro", -6, &["readonly"], (1, 1, 1), R, georadius_ro),
    cmd("georadiusbymember", -5, &["write", "denyoom", "movablekeys"], (1, 1, 1), W, georadiusbymember),
    cmd("georadiusbymember_ro", -5, &["readonly"], (1, 1, 1), R, georadiusbymember_ro),
    cmd("geosearch", -7, &["readonly"], (1, 1, 1), R, geosearch),
    cmd("geosearchstore", -8, &["write", "denyoom"], (1, 2, 1), W, geosearchstore),
];

/// A double argument (`getDoubleFromObjectOrReply`), with Redis's message
/// when it has one for this argument.
fn double_arg(b: &[u8], msg: Option<&'static str>) -> Result<f64, Reply> {
    string2d(b).ok_or_else(|| Reply::error(msg.unwrap_or("ERR value is not a valid float")))
}

/// A longitude/latitude pair, range-checked (`extractLongLatOrReply`).
fn lon_lat(args: &[Bytes]) -> Result<(f64, f64), Reply> {
    let lon = double_arg(&args[0], None)?;
    let lat = double_arg(&args[1], None)?;
    if !(geohash::LONG_MIN..=geohash::LONG_MAX).contains(&lon) || !(geohash::LAT_MIN..=geohash::LAT_MAX).contains(&lat)
    {
        return Err(Reply::error(format!("ERR invalid longitude,latitude pair {lon:.6},{lat:.6}")));
    }
    Ok((lon, lat))
}

/// Metres per unit (`extractUnitOrReply`; compared as a C string, ignoring case).
fn unit(b: &[u8]) -> Result<f64, Reply> {
    let u = c_str(b);
    if eq_ic(u, "m") {
        Ok(1.0)
    } else if eq_ic(u, "km") {
        Ok(1000.0)
    } else if eq_ic(u, "ft") {
        Ok(0.3048)
    } else if eq_ic(u, "mi") {
        Ok(1609.34)
    } else {
        Err(Reply::error("ERR unsupported unit provided. please use M, KM, FT, MI"))
    }
}

/// `radius unit` (`extractDistanceOrReply`): the radius and metres per unit.
fn radius_args(args: &[Bytes]) -> Result<(f64, f64), Reply> {
    let r = double_arg(&args[0], Some("ERR need numeric radius"))?;
    if r < 0.0 {
        return Err(Reply::error("ERR radius cannot be negative"));
    }
    Ok((r, unit(&args[1])?))
}

/// `width height unit` (`extractBoxOrReply`).
fn box_args(args: &[Bytes]) -> Result<(f64, f64, f64), Reply> {
    let w = double_arg(&args[0], Some("ERR need numeric width"))?;
    let h = double_arg(&args[1], Some("ERR need numeric height"))?;
    if h < 0.0 || w < 0.0 {
        return Err(Reply::error("ERR height or width cannot be negative"));
    }
    Ok((w, h, unit(&args[2])?))
}

/// A distance as Redis replies it: `%.4f` in a bulk string.
fn distance_reply(d: f64) -> Reply {
    Reply::Bulk(Bytes::from(format!("{d:.4}")))
}

/// A coordinate as `addReplyHumanLongDouble` sends it.
fn coord_reply(v: f64) -> Reply {
    Reply::DoubleText(Bytes::from(LongDouble::from_f64(v).to_human()))
}

fn geoadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut idx = 2;
    let (mut nx, mut xx) = (false, false);
    while idx < args.len() {
        let o = &args[idx];
        if eq_ic(o, "nx") {
            nx = true;
        } else if eq_ic(o, "xx") {
            xx = true;
        } else if !eq_ic(o, "ch") {
            break;
        }
        idx += 1;
    }
    if !(args.len() - idx).is_multiple_of(3) || (nx && xx) {
        return syntax_error();
    }
    // Rewritten as `ZADD key [options] score member ...`, as Redis does.
    let mut zargs: Vec<Bytes> = Vec::with_capacity(idx + (args.len() - idx) / 3 * 2);
    zargs.push(Bytes::from_static(b"zadd"));
    zargs.extend(args[1..idx].iter().cloned());
    for t in args[idx..].chunks(3) {
        let (lon, lat) = tri!(lon_lat(t));
        let Some(score) = geohash::encode_score(lon, lat) else {
            return Reply::error(format!("ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"));
        };
        zargs.push(Bytes::from(score.to_string()));
        zargs.push(t[2].clone());
    }
    zadd_generic(ctx, &zargs, false)
}

fn geodist(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let to_meters = match args.len() {
        4 => 1.0,
        5 => tri!(unit(&args[4])),
        _ => return syntax_error(),
    };
    let Some(z) = tri!(read_zset(ctx, &args[1])) else { return Reply::Nil };
    let (Some(a), Some(b)) = (z.score(&args[2]), z.score(&args[3])) else { return Reply::Nil };
    let (lon1, lat1) = geohash::decode_score(a);
    let (lon2, lat2) = geohash::decode_score(b);
    distance_reply(geohash::distance(lon1, lat1, lon2, lat2) / to_meters)
}

fn geohash(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let z = tri!(read_zset(ctx, &args[1]));
    let out = args[2..]
        .iter()
        .map(|m| match z.and_then(|z| z.score(m)) {
            Some(s) => Reply::Bulk(Bytes::copy_from_slice(&geohash::geohash_string(s))),
            None => Reply::Nil,
        })
        .collect();
    Reply::Array(out)
}

fn geopos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let z = tri!(read_zset(ctx, &args[1]));
    let out = args[2..]
        .iter()
        .map(|m| match z.and_then(|z| z.score(m)) {
            Some(s) => {
                let (lon, lat) = geohash::decode_score(s);
                Reply::Array(vec![coord_reply(lon), coord_reply(lat)])
            }
            None => Reply::NilArray,
        })
        .collect();
    Reply::Array(out)
}

/// Which search command is running (Redis's `georadiusGeneric` flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// GEORADIUS / GEORADIUS_RO (`ro` refuses STORE).
    Radius { ro: bool },
    /// GEORADIUSBYMEMBER / GEORADIUSBYMEMBER_RO.
    ByMember { ro: bool },
    /// GEOSEARCH.
    Search,
    /// GEOSEARCHSTORE.
    SearchStore,
}

impl Kind {
    fn is_search(self) -> bool {
        matches!(self, Kind::Search | Kind::SearchStore)
    }

    fn can_store(self) -> bool {
        matches!(self, Kind::Radius { ro: false } | Kind::ByMember { ro: false })
    }
}

fn georadius(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    search_generic(ctx, args, Kind::Radius { ro: false })
}

fn georadius_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    search_generic(ctx, args, Kind::Radius { ro: true })
}

fn georadiusbymember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    search_generic(ctx, args, Kind::ByMember { ro: false })
}

fn georadiusbymember_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    search_generic(ctx, args, Kind::ByMember { ro: true })
}

fn geosearch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    search_generic(ctx, args, Kind::Search)
}

fn geosearchstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    search_generic(ctx, args, Kind::SearchStore)
}

/// A point found by a search.
struct Found {
    member: Bytes,
    score: f64,
    lon: f64,
    lat: f64,
    /// Metres from the centre (converted to the unit before replying).
    dist: f64,
}

/// Sort order of a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// The options of a search, as `georadiusGeneric` parses them.
struct Opts {
    withdist: bool,
    withhash: bool,
    withcoord: bool,
    any: bool,
    sort: Sort,
    count: u64,
    store: Option<Bytes>,
    storedist: bool,
    center: Option<(f64, f64)>,
    shape: Option<(Shape, f64)>,
    frommember: bool,
    fromloc: bool,
}

/// The sorted set under `key` without counting a keyspace hit: the search
/// looked it up (and checked its type) once already, as Redis does.
fn peek_zset<'a>(ctx: &'a Ctx<'_>, key: &[u8]) -> Option<&'a ZSet> {
    match ctx.st.peek(ctx.db(), key) {
        Some(Entry { value: Value::ZSet(z), .. }) => Some(z),
        _ => None,
    }
}

fn search_generic(ctx: &mut Ctx<'_>, args: &[Bytes], kind: Kind) -> Reply {
    let src_idx = if kind == Kind::SearchStore { 2 } else { 1 };
    let src = &args[src_idx];
    let exists = tri!(read_zset(ctx, src)).is_some();
    let mut o = Opts {
        withdist: false,
        withhash: false,
        withcoord: false,
        any: false,
        sort: Sort::None,
        count: 0,
        store: None,
        storedist: false,
        center: None,
        shape: None,
        frommember: false,
        fromloc: false,
    };
    let base = match kind {
        Kind::Radius { .. } => {
            o.center = Some(tri!(lon_lat(&args[2..4])));
            let (r, u) = tri!(radius_args(&args[4..6]));
            o.shape = Some((Shape::Circle { radius: r }, u));
            6
        }
        Kind::ByMember { .. } if !exists => 5,
        Kind::ByMember { .. } => {
            let score = peek_zset(ctx, src).and_then(|z| z.score(&args[2]));
            let Some(score) = score else { return Reply::error("ERR could not decode requested zset member") };
            o.center = Some(geohash::decode_score(score));
            let (r, u) = tri!(radius_args(&args[3..5]));
            o.shape = Some((Shape::Circle { radius: r }, u));
            5
        }
        Kind::Search => 2,
        Kind::SearchStore => {
            o.store = Some(args[1].clone());
            3
        }
    };
    let rest = &args[base..];
    let mut i = 0;
    while i < rest.len() {
        let a = &rest[i];
        let left = rest.len() - i - 1;
        if eq_ic(a, "withdist") {
            o.withdist = true;
        } else if eq_ic(a, "withhash") {
            o.withhash = true;
        } else if eq_ic(a, "withcoord") {
            o.withcoord = true;
        } else if eq_ic(a, "any") {
            o.any = true;
        } else if eq_ic(a, "asc") {
            o.sort = Sort::Asc;
        } else if eq_ic(a, "desc") {
            o.sort = Sort::Desc;
        } else if eq_ic(a, "count") && left >= 1 {
            let c = tri!(int_arg(&rest[i + 1]));
            if c <= 0 {
                return Reply::error("ERR COUNT must be > 0");
            }
            o.count = c as u64;
            i += 1;
        } else if (eq_ic(a, "store") || eq_ic(a, "storedist")) && left >= 1 && kind.can_store() {
            o.store = Some(rest[i + 1].clone());
            o.storedist = eq_ic(a, "storedist");
            i += 1;
        } else if eq_ic(a, "storedist") && kind == Kind::SearchStore {
            o.storedist = true;
        } else if eq_ic(a, "frommember") && left >= 1 && kind.is_search() && !o.fromloc {
            if exists {
                let score = peek_zset(ctx, src).and_then(|z| z.score(&rest[i + 1]));
                let Some(score) = score else { return Reply::error("ERR could not decode requested zset member") };
                o.center = Some(geohash::decode_score(score));
            }
            o.frommember = true;
            i += 1;
        } else if eq_ic(a, "fromlonlat") && left >= 2 && kind.is_search() && !o.frommember {
            o.center = Some(tri!(lon_lat(&rest[i + 1..i + 3])));
            o.fromloc = true;
            i += 2;
        } else if eq_ic(a, "byradius")
            && left >= 2
            && kind.is_search()
            && !matches!(o.shape, Some((Shape::Box { .. }, _)))
        {
            let (r, u) = tri!(radius_args(&rest[i + 1..i + 3]));
            o.shape = Some((Shape::Circle { radius: r }, u));
            i += 2;
        } else if eq_ic(a, "bybox")
            && left >= 3
            && kind.is_search()
            && !matches!(o.shape, Some((Shape::Circle { .. }, _)))
        {
            let (w, h, u) = tri!(box_args(&rest[i + 1..i + 4]));
            o.shape = Some((Shape::Box { width: w, height: h }, u));
            i += 3;
        } else {
            return syntax_error();
        }
        i += 1;
    }
    if o.store.is_some() && (o.withdist || o.withhash || o.withcoord) {
        let what = if kind == Kind::SearchStore { "GEOSEARCHSTORE" } else { "STORE option in GEORADIUS" };
        return Reply::error(format!("ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"));
    }
    let name = String::from_utf8_lossy(&args[0]);
    if kind.is_search() && !(o.frommember || o.fromloc) {
        return Reply::error(format!("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"));
    }
    if kind.is_search() && o.shape.is_none() {
        return Reply::error(format!("ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"));
    }
    if o.any && o.count == 0 {
        return Reply::error("ERR the ANY argument requires COUNT argument");
    }
    let (Some((lon, lat)), Some((shape, to_meters)), true) = (o.center, o.shape, exists) else {
        // No source key.
        return match &o.store {
            Some(dst) => store_result(ctx, dst, Vec::new(), "georadiusstore"),
            None => Reply::Array(Vec::new()),
        };
    };
    if o.count != 0 && o.sort == Sort::None && !o.any {
        o.sort = Sort::Asc;
    }
    let search = Search { lon, lat, shape, to_meters };
    let limit = if o.any { o.count } else { 0 };
    let mut found = {
        let Some(z) = peek_zset(ctx, src) else { return Reply::Array(Vec::new()) };
        scan(z, &search, limit)
    };
    if found.is_empty() && o.store.is_none() {
        return Reply::Array(Vec::new());
    }
    match o.sort {
        Sort::None => {}
        Sort::Asc => found.sort_by(|a, b| a.dist.partial_cmp(&b.dist).unwrap_or(std::cmp::Ordering::Equal)),
        Sort::Desc => found.sort_by(|a, b| b.dist.partial_cmp(&a.dist).unwrap_or(std::cmp::Ordering::Equal)),
    }
    if o.count != 0 && (o.count as usize) < found.len() {
        found.truncate(o.count as usize);
    }
    for f in &mut found {
        f.dist /= to_meters;
    }
    if let Some(dst) = &o.store {
        let event = if kind.is_search() { "geosearchstore" } else { "georadiusstore" };
        let items = found.into_iter().map(|f| (f.member, if o.storedist { f.dist } else { f.score })).collect();
        return store_result(ctx, dst, items, event);
    }
    let extra = usize::from(o.withdist) + usize::from(o.withhash) + usize::from(o.withcoord);
    let out = found
        .into_iter()
        .map(|f| {
            if extra == 0 {
                return Reply::Bulk(f.member);
            }
            let mut item = Vec::with_capacity(extra + 1);
            item.push(Reply::Bulk(f.member));
            if o.withdist {
                item.push(distance_reply(f.dist));
            }
            if o.withhash {
                item.push(Reply::Int(f.score as i64));
            }
            if o.withcoord {
                item.push(Reply::Array(vec![coord_reply(f.lon), coord_reply(f.lat)]));
            }
            Reply::Array(item)
        })
        .collect();
    Reply::Array(out)
}

/// The points of `z` inside the search area, in scan order; with a `limit`
/// (COUNT ANY) the scan stops once that many are found.
fn scan(z: &ZSet, search: &Search, limit: u64) -> Vec<Found> {
    let mut found = Vec::new();
    let full = |found: &Vec<Found>| limit > 0 && found.len() as u64 >= limit;
    for (min, max) in search.score_ranges() {
        if full(&found) {
            break;
        }
        for (member, score) in z.iter_from(min) {
            if score >= max {
                break;
            }
            let (lon, lat) = geohash::decode_score(score);
            if let Some(dist) = search.contains(lon, lat) {
                found.push(Found { member: member.clone(), score, lon, lat, dist });
                if full(&found) {
                    break;
                }
            }
        }
    }
    found
}
