//! Randomised differential testing: seeded random command sequences over a
//! small key space run against the fake and a real `redis-server`, and every
//! reply must match (byte for byte, except where Redis leaves the result
//! undefined: hash-table iteration order, random picks, TTLs read a few
//! milliseconds apart).
//!
//! - `REDIS_HARNESS_FUZZ_SEED=N` replays one seed (the seed is printed on failure);
//! - `REDIS_HARNESS_FUZZ_COMMANDS=N` sets the volume (default 3000; use 200000 for long runs).
//!
//! On a mismatch the failing session is shrunk to a minimal sequence that
//! still mismatches, printed as lines for a `fixtures/diff/*.redis` script.

#[path = "../common/mod.rs"]
mod common;

use common::{decode, pairs_sorted, real_redis_or_skip, render, RawConn};
use redis_harness::FakeRedis;
use redis_protocol::resp3::types::OwnedFrame;

const KEYS: &[&str] = &["k0", "k1", "k2", "k3", "k4"];
/// Encoding limits a session may lower (restored at the start of each session).
const LIMITS: &[&str] = &[
    "hash-max-listpack-entries",
    "hash-max-listpack-value",
    "set-max-intset-entries",
    "zset-max-listpack-entries",
    "zset-max-listpack-value",
    "list-max-listpack-size",
];

/// How the replies of one command are compared.
#[derive(Clone, Debug, PartialEq)]
enum Cmp {
    /// Byte for byte.
    Exact,
    /// Top-level elements in any order.
    Unordered,
    /// Exact when the key's encoding is compact (listpack, intset: Redis's
    /// order is then defined), otherwise `Unordered`/`Pairs`.
    OrderIfCompact(Vec<u8>, bool),
    /// SCAN-style `[cursor, elements]` with the elements in any order.
    Scan { pairs: bool },
    /// Same reply type (and same element count for aggregates).
    TypeLen,
    /// Same type only.
    TypeOnly,
    /// Integers within this tolerance (TTLs read a moment apart); negatives exact.
    Near(i64),
}

/// One generated command.
#[derive(Clone, Debug)]
struct Cmd {
    args: Vec<Vec<u8>>,
    cmp: Cmp,
    /// Sent to both servers after the command, to bring a key changed at
    /// random (SPOP) back into the same state on both sides.
    resync: Option<Vec<Vec<u8>>>,
    /// Whether the reply counts keys that are logically expired but not yet
    /// reclaimed (DBSIZE, SCAN TYPE none): both servers reclaim those in a
    /// background cycle at their own moments, so a full SCAN (which reclaims
    /// every expired key it visits) runs first, or inside MULTI only the
    /// reply type is compared.
    counts_expired: bool,
    /// A lexicographic range over this sorted set. Redis defines lex ranges
    /// only when all scores are equal; otherwise a listpack still answers
    /// deterministically (a linear scan) but a skiplist answers by its random
    /// levels. In that case only the reply type is compared and the keys the
    /// command wrote are deleted on both sides.
    lex: Option<(Vec<u8>, Vec<Vec<u8>>)>,
}

impl Cmd {
    fn new(args: Vec<Vec<u8>>, cmp: Cmp) -> Cmd {
        Cmd { args, cmp, resync: None, counts_expired: false, lex: None }
    }
    fn name(&self) -> String {
        String::from_utf8_lossy(&self.args[0]).to_ascii_uppercase()
    }
    /// The command as a script line (`fixtures/diff` quoting).
    fn line(&self) -> String {
        let mut prefix = String::new();
        match self.cmp {
            Cmp::Unordered | Cmp::OrderIfCompact(_, false) => prefix.push_str("!unordered "),
            Cmp::OrderIfCompact(_, true) => prefix.push_str("!pairs "),
            Cmp::TypeLen | Cmp::TypeOnly | Cmp::Near(_) => prefix.push_str("!type "),
            _ => {}
        }
        let words: Vec<String> = self.args.iter().map(|a| quote(a)).collect();
        format!("{prefix}{}", words.join(" "))
    }
}

fn quote(a: &[u8]) -> String {
    let plain = !a.is_empty() && a.iter().all(|&c| c.is_ascii_graphic() && c != b'"' && c != b'\'' && c != b'\\');
    if plain {
        return String::from_utf8_lossy(a).into_owned();
    }
    let mut s = String::from("\"");
    for &c in a {
        match c {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b' '..=b'~' => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    s
}

/// Random command generator over a fixed small key space.
struct Gen {
    rng: fastrand::Rng,
    /// Inside MULTI (the generator keeps transactions short).
    in_multi: usize,
}

fn b(s: impl AsRef<[u8]>) -> Vec<u8> {
    s.as_ref().to_vec()
}

impl Gen {
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.rng.usize(..xs.len())]
    }
    fn chance(&mut self, percent: u32) -> bool {
        self.rng.u32(..100) < percent
    }
    fn key(&mut self) -> Vec<u8> {
        b(self.pick(KEYS))
    }
    fn value(&mut self) -> Vec<u8> {
        match self.rng.u32(..20) {
            0 => b("x".repeat(self.rng.usize(40..80))),
            1 => b(""),
            2 => b("9223372036854775807"),
            3 => b("-9223372036854775808"),
            _ => b(self.pick(&["0", "1", "-1", "10", "a", "b", "abc", "3.5", "1e3", "007", " 1", "+5", "-0", "inf"])),
        }
    }
    fn member(&mut self) -> Vec<u8> {
        if self.chance(3) {
            return b("m".repeat(self.rng.usize(60..70)));
        }
        b(self.pick(&["a", "b", "c", "d", "e", "1", "2", "3", "10", "-1", "1.5", "01"]))
    }
    fn int(&mut self) -> Vec<u8> {
        match self.rng.u32(..25) {
            0 => b("abc"),
            1 => b("1.5"),
            2 => b("9223372036854775807"),
            3 => b("-9223372036854775808"),
            4 => b("99999999999999999999"),
            5 => b(""),
            _ => b(self.rng.i32(-5..12).to_string()),
        }
    }
    fn float(&mut self) -> Vec<u8> {
        b(self.pick(&[
            "0", "1", "-1", "2.5", "-0.5", "1e3", "3", "inf", "-inf", "+inf", "abc", "1e400", "0.1", "10", "nan", "",
        ]))
    }
    fn score_bound(&mut self) -> Vec<u8> {
        b(self.pick(&["-inf", "+inf", "0", "1", "(1", "2", "(2", "2.5", "-1", "10", "x", "(", "inf", "-inf"]))
    }
    fn lex_bound(&mut self) -> Vec<u8> {
        b(self.pick(&["-", "+", "[a", "(a", "[b", "(c", "[d", "[1", "(2", "a", "[", "(", "[e"]))
    }
    fn index(&mut self) -> Vec<u8> {
        if self.chance(5) {
            return self.int();
        }
        b(self.rng.i32(-6..8).to_string())
    }
    fn count(&mut self) -> Vec<u8> {
        if self.chance(8) {
            return self.int();
        }
        b(self.rng.i32(0..6).to_string())
    }
    fn keys(&mut self, min: usize) -> Vec<Vec<u8>> {
        let n = self.rng.usize(min..min + 3);
        (0..n).map(|_| self.key()).collect()
    }
    /// `numkeys key [key ...]` (LMPOP, ZMPOP, ZUNION and friends).
    fn numkeys(&mut self) -> Vec<Vec<u8>> {
        let ks = self.keys(1);
        std::iter::once(b(ks.len().to_string())).chain(ks).collect()
    }
    /// A relative TTL that never expires during a run, or an immediate one.
    fn ttl(&mut self) -> Vec<u8> {
        b(self.pick(&["100", "1000", "0", "-1", "5000", "abc", "9223372036854775807"]))
    }
    /// The same in milliseconds (PSETEX, PEXPIRE).
    fn ttl_ms(&mut self) -> Vec<u8> {
        b(self.pick(&["100000", "1000000", "0", "-1", "5000000", "abc", "9223372036854775807"]))
    }
    fn unix_s(&mut self) -> Vec<u8> {
        b(self.pick(&["4102444800", "4102444801", "1", "0", "-5", "x"]))
    }
    fn unix_ms(&mut self) -> Vec<u8> {
        b(self.pick(&["4102444800000", "4102444800500", "1", "0", "x"]))
    }
    /// A blocking timeout: short, so an empty key costs little.
    fn timeout(&mut self) -> Vec<u8> {
        b(self.pick(&["0.01", "0.01", "0.01", "-1", "abc"]))
    }

    /// Lowered encoding limits for the start of a session. Only there: the
    /// fake derives an untouched value's encoding from its content, so it
    /// cannot tell that Redis keeps a compact value compact after a CONFIG
    /// SET lowered the limits (until a write converts it).
    fn limits(&mut self) -> Vec<Cmd> {
        let mut out = Vec::new();
        for name in LIMITS {
            if self.chance(25) {
                let v = if *name == "list-max-listpack-size" {
                    self.pick(&["1", "2", "4", "-1", "-2"])
                } else {
                    self.pick(&["0", "1", "2", "4", "8", "3"])
                };
                out.push(Cmd::new(vec![b("CONFIG"), b("SET"), b(name), b(v)], Cmp::Exact));
            }
        }
        out
    }

    fn next(&mut self) -> Cmd {
        let mut c = self.pick_command();
        let structural = matches!(c.name().as_str(), "MULTI" | "EXEC" | "DISCARD" | "HELLO" | "RESET");
        // Occasionally damage a valid command: drop or add an argument.
        if structural {
        } else if c.args.len() > 1 && self.chance(3) {
            let i = self.rng.usize(1..c.args.len());
            c.args.remove(i);
        } else if self.chance(2) {
            c.args.push(b(self.pick(&["extra", "NX", "1", "WITHSCORES"])));
        }
        c
    }

    fn pick_command(&mut self) -> Cmd {
        use Cmp::*;
        let k = self.key();
        let kv = k.clone();
        let mut a = vec![b("x"), k];
        macro_rules! out {
            ($name:expr, $cmp:expr) => {{
                a[0] = b($name);
                return Cmd::new(a, $cmp);
            }};
        }
        // Transactions first (only when they make sense).
        if self.in_multi > 0 {
            self.in_multi -= 1;
            if self.in_multi == 0 {
                let name = if self.chance(85) { "EXEC" } else { "DISCARD" };
                return Cmd::new(vec![b(name)], Exact);
            }
        } else if self.chance(3) {
            self.in_multi = self.rng.usize(1..6);
            return Cmd::new(vec![b("MULTI")], Exact);
        }
        match self.rng.u32(..152) {
            // ---- strings
            0..=3 => {
                a.push(self.value());
                if self.chance(30) {
                    let (o, v) = match self.rng.u32(..5) {
                        0 => ("EX", self.ttl()),
                        1 => ("PX", b("100000")),
                        2 => ("EXAT", self.unix_s()),
                        3 => ("PXAT", self.unix_ms()),
                        _ => ("KEEPTTL", vec![]),
                    };
                    a.push(b(o));
                    if !v.is_empty() {
                        a.push(v);
                    }
                }
                if self.chance(20) {
                    a.push(b(self.pick(&["NX", "XX"])));
                }
                if self.chance(20) {
                    a.push(b("GET"));
                }
                out!("SET", Exact)
            }
            4 | 5 => out!("GET", Exact),
            6 => {
                a.push(self.value());
                out!("SETNX", Exact)
            }
            7 => {
                let ms = self.chance(50);
                a.push(if ms { self.ttl_ms() } else { self.ttl() });
                a.push(self.value());
                out!(if ms { "PSETEX" } else { "SETEX" }, Exact)
            }
            8 => {
                a.extend(self.keys(0));
                out!("MGET", Exact)
            }
            9 => {
                a.push(self.value());
                for _ in 0..self.rng.usize(0..3) {
                    a.push(self.key());
                    a.push(self.value());
                }
                out!(self.pick(&["MSET", "MSETNX"]), Exact)
            }
            10 => {
                a.push(self.value());
                out!("GETSET", Exact)
            }
            11 => out!("GETDEL", Exact),
            12 => {
                match self.rng.u32(..6) {
                    0 => a.extend([b("EX"), self.ttl()]),
                    1 => a.extend([b("PXAT"), self.unix_ms()]),
                    2 => a.extend([b("EXAT"), self.unix_s()]),
                    3 => a.push(b("PERSIST")),
                    _ => {}
                }
                out!("GETEX", Exact)
            }
            13 => {
                a.push(self.value());
                out!("APPEND", Exact)
            }
            14 => out!("STRLEN", Exact),
            15 | 16 => out!(self.pick(&["INCR", "DECR"]), Exact),
            17 => {
                a.push(self.int());
                out!(self.pick(&["INCRBY", "DECRBY"]), Exact)
            }
            18 => {
                a.push(self.float());
                out!("INCRBYFLOAT", Exact)
            }
            19 => {
                a.push(self.index());
                a.push(self.index());
                out!(self.pick(&["GETRANGE", "SUBSTR"]), Exact)
            }
            20 => {
                a.push(b(self.pick(&["0", "1", "3", "-1", "x", "536870912"])));
                a.push(self.value());
                out!("SETRANGE", Exact)
            }
            21 => {
                a.push(self.key());
                match self.rng.u32(..4) {
                    0 => a.push(b("LEN")),
                    1 => a.extend([b("IDX"), b("MINMATCHLEN"), self.count(), b("WITHMATCHLEN")]),
                    2 => a.push(b("IDX")),
                    _ => {}
                }
                out!("LCS", Exact)
            }
            // ---- keys
            22 | 23 => {
                a.extend(self.keys(0));
                out!(self.pick(&["DEL", "UNLINK", "EXISTS", "TOUCH"]), Exact)
            }
            24 | 25 => out!("TYPE", Exact),
            26 => {
                let ms = self.chance(50);
                a.push(if ms { self.ttl_ms() } else { self.ttl() });
                if self.chance(30) {
                    a.push(b(self.pick(&["NX", "XX", "GT", "LT", "bogus"])));
                }
                out!(if ms { "PEXPIRE" } else { "EXPIRE" }, Exact)
            }
            27 => {
                let at = self.unix_s();
                a.push(at);
                if self.chance(30) {
                    a.push(b(self.pick(&["NX", "XX", "GT", "LT"])));
                }
                out!("EXPIREAT", Exact)
            }
            28 => {
                a.push(self.unix_ms());
                out!("PEXPIREAT", Exact)
            }
            29 => out!("TTL", Near(1)),
            30 => out!("PTTL", Near(1500)),
            31 => out!("EXPIRETIME", Near(1)),
            32 => out!("PEXPIRETIME", Near(1500)),
            33 => out!("PERSIST", Exact),
            34 => {
                a[1] = b(self.pick(&["*", "k*", "k[0-2]", "?1", "nomatch", "k\\1"]));
                out!("KEYS", Unordered)
            }
            35 => {
                a[1] = b("0");
                if self.chance(50) {
                    a.extend([b("MATCH"), b(self.pick(&["*", "k[13]", "k?"]))]);
                }
                a.extend([b("COUNT"), b("100000")]);
                let mut none = false;
                if self.chance(50) {
                    let t = self.pick(&["string", "list", "hash", "set", "zset", "none"]);
                    none = t == "none";
                    a.extend([b("TYPE"), b(t)]);
                }
                a[0] = b("SCAN");
                let mut c = Cmd::new(a, Scan { pairs: false });
                c.counts_expired = none;
                c
            }
            36 | 37 => {
                a.push(self.key());
                out!(self.pick(&["RENAME", "RENAMENX"]), Exact)
            }
            38 => {
                a.push(self.key());
                if self.chance(30) {
                    a.extend([b("DB"), b(self.pick(&["0", "1", "16", "x"]))]);
                }
                if self.chance(40) {
                    a.push(b("REPLACE"));
                }
                out!("COPY", Exact)
            }
            39 => {
                a.push(b(self.pick(&["0", "1", "1", "x"])));
                out!("MOVE", Exact)
            }
            40 | 41 => {
                a.insert(1, b("ENCODING"));
                out!("OBJECT", Exact)
            }
            42 => {
                let mut c = Cmd::new(vec![b("DBSIZE")], Exact);
                c.counts_expired = true;
                c
            }
            43 => {
                a[1] = b(self.pick(&["0", "0", "1", "x"]));
                out!("SELECT", Exact)
            }
            44 => {
                a[1] = b("0");
                a.push(b(self.pick(&["1", "0", "2"])));
                out!("SWAPDB", Exact)
            }
            45 => {
                if !self.chance(10) {
                    out!("EXISTS", Exact)
                }
                a.truncate(1);
                out!("FLUSHDB", Exact)
            }
            46 => {
                a.truncate(1);
                out!("RANDOMKEY", TypeOnly)
            }
            // ---- hashes
            47..=50 => {
                for _ in 0..self.rng.usize(1..4) {
                    a.push(self.member());
                    a.push(self.value());
                }
                out!(self.pick(&["HSET", "HSET", "HMSET"]), Exact)
            }
            51 => {
                a.push(self.member());
                a.push(self.value());
                out!("HSETNX", Exact)
            }
            52 | 53 => {
                a.push(self.member());
                out!(self.pick(&["HGET", "HEXISTS", "HSTRLEN"]), Exact)
            }
            54 => {
                for _ in 0..self.rng.usize(1..4) {
                    a.push(self.member());
                }
                out!(self.pick(&["HMGET", "HDEL"]), Exact)
            }
            55 => out!("HLEN", Exact),
            56 => out!(self.pick(&["HKEYS", "HVALS"]), OrderIfCompact(kv, false)),
            57 => out!("HGETALL", OrderIfCompact(kv, true)),
            58 => {
                a.push(self.member());
                a.push(self.int());
                out!("HINCRBY", Exact)
            }
            59 => {
                a.push(self.member());
                a.push(self.float());
                out!("HINCRBYFLOAT", Exact)
            }
            60 => {
                if self.chance(70) {
                    a.push(self.index());
                    if self.chance(50) {
                        a.push(b("WITHVALUES"));
                    }
                }
                out!("HRANDFIELD", TypeLen)
            }
            61 => {
                a.extend([b("0"), b("COUNT"), b("100000")]);
                out!("HSCAN", Scan { pairs: true })
            }
            // ---- lists
            62..=66 => {
                for _ in 0..self.rng.usize(1..4) {
                    a.push(self.member());
                }
                out!(self.pick(&["LPUSH", "RPUSH", "LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]), Exact)
            }
            67 | 68 => {
                if self.chance(40) {
                    a.push(self.count());
                }
                out!(self.pick(&["LPOP", "RPOP"]), Exact)
            }
            69 => out!("LLEN", Exact),
            70 | 71 => {
                a.push(self.index());
                a.push(self.index());
                out!("LRANGE", Exact)
            }
            72 => {
                a.push(self.index());
                out!("LINDEX", Exact)
            }
            73 => {
                a.push(self.index());
                a.push(self.member());
                out!("LSET", Exact)
            }
            74 => {
                a.push(b(self.pick(&["BEFORE", "AFTER", "middle"])));
                a.push(self.member());
                a.push(self.member());
                out!("LINSERT", Exact)
            }
            75 => {
                a.push(self.index());
                a.push(self.member());
                out!("LREM", Exact)
            }
            76 => {
                a.push(self.index());
                a.push(self.index());
                out!("LTRIM", Exact)
            }
            77 => {
                a.push(self.member());
                if self.chance(40) {
                    a.extend([b("RANK"), self.index()]);
                }
                if self.chance(40) {
                    a.extend([b("COUNT"), self.count()]);
                }
                if self.chance(20) {
                    a.extend([b("MAXLEN"), self.count()]);
                }
                out!("LPOS", Exact)
            }
            78 => {
                a.push(self.key());
                a.push(b(self.pick(&["LEFT", "RIGHT"])));
                a.push(b(self.pick(&["LEFT", "RIGHT", "UP"])));
                out!("LMOVE", Exact)
            }
            79 => {
                a.push(self.key());
                out!("RPOPLPUSH", Exact)
            }
            80 => {
                let nk = self.numkeys();
                a.truncate(1);
                a.extend(nk);
                a.push(b(self.pick(&["LEFT", "RIGHT"])));
                if self.chance(40) {
                    a.extend([b("COUNT"), self.count()]);
                }
                out!("LMPOP", Exact)
            }
            81 => {
                a.extend(self.keys(0));
                a.push(self.timeout());
                out!(self.pick(&["BLPOP", "BRPOP"]), Exact)
            }
            82 => {
                a.push(self.key());
                if self.chance(50) {
                    a.push(self.timeout());
                    out!("BRPOPLPUSH", Exact)
                }
                a.push(b(self.pick(&["LEFT", "RIGHT"])));
                a.push(b(self.pick(&["LEFT", "RIGHT"])));
                a.push(self.timeout());
                out!("BLMOVE", Exact)
            }
            83 => {
                let nk = self.numkeys();
                a.truncate(1);
                a.push(self.timeout());
                a.extend(nk);
                a.push(b(self.pick(&["LEFT", "RIGHT"])));
                if self.chance(40) {
                    a.extend([b("COUNT"), self.count()]);
                }
                out!("BLMPOP", Exact)
            }
            // ---- sets
            84..=88 => {
                for _ in 0..self.rng.usize(1..4) {
                    a.push(self.member());
                }
                out!(self.pick(&["SADD", "SADD", "SREM"]), Exact)
            }
            89 => out!("SMEMBERS", OrderIfCompact(kv, false)),
            90 => {
                a.push(self.member());
                out!("SISMEMBER", Exact)
            }
            91 => {
                a.push(self.member());
                a.push(self.member());
                out!("SMISMEMBER", Exact)
            }
            92 => out!("SCARD", Exact),
            93 => {
                // A random pop: compare the shape, then delete the key on both sides.
                if self.chance(50) {
                    a.push(self.count());
                }
                a[0] = b("SPOP");
                let mut c = Cmd::new(a, TypeLen);
                c.resync = Some(vec![b("DEL"), kv]);
                c
            }
            94 => {
                if self.chance(70) {
                    a.push(self.index());
                }
                out!("SRANDMEMBER", TypeLen)
            }
            95 => {
                a.push(self.key());
                a.push(self.member());
                out!("SMOVE", Exact)
            }
            96..=98 => {
                a.extend(self.keys(0));
                out!(self.pick(&["SINTER", "SUNION", "SDIFF"]), Unordered)
            }
            99 | 100 => {
                a.extend(self.keys(1));
                out!(self.pick(&["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]), Exact)
            }
            101 => {
                let nk = self.numkeys();
                a.truncate(1);
                a.extend(nk);
                if self.chance(40) {
                    a.extend([b("LIMIT"), self.count()]);
                }
                out!("SINTERCARD", Exact)
            }
            102 => {
                a.extend([b("0"), b("COUNT"), b("100000")]);
                out!("SSCAN", Scan { pairs: false })
            }
            // ---- sorted sets
            103..=107 => {
                for _ in 0..3 {
                    if self.chance(15) {
                        a.push(b(self.pick(&["NX", "XX", "GT", "LT", "CH", "INCR"])));
                    }
                }
                for _ in 0..self.rng.usize(1..4) {
                    a.push(self.float());
                    a.push(self.member());
                }
                out!("ZADD", Exact)
            }
            108 => {
                a.push(self.float());
                a.push(self.member());
                out!("ZINCRBY", Exact)
            }
            109 => {
                for _ in 0..self.rng.usize(1..3) {
                    a.push(self.member());
                }
                out!(self.pick(&["ZREM", "ZMSCORE"]), Exact)
            }
            110 => out!("ZCARD", Exact),
            111 | 112 => {
                a.push(self.member());
                out!(self.pick(&["ZSCORE", "ZRANK", "ZREVRANK"]), Exact)
            }
            113 => {
                a.push(self.score_bound());
                a.push(self.score_bound());
                out!("ZCOUNT", Exact)
            }
            114 => {
                a.push(self.lex_bound());
                a.push(self.lex_bound());
                a[0] = b("ZLEXCOUNT");
                let mut c = Cmd::new(a, Exact);
                c.lex = Some((kv, vec![]));
                c
            }
            115..=118 => {
                match self.rng.u32(..3) {
                    0 => {
                        a.push(self.index());
                        a.push(self.index());
                    }
                    1 => {
                        a.push(self.score_bound());
                        a.push(self.score_bound());
                        a.push(b("BYSCORE"));
                    }
                    _ => {
                        a.push(self.lex_bound());
                        a.push(self.lex_bound());
                        a.push(b("BYLEX"));
                    }
                }
                if self.chance(30) {
                    a.push(b("REV"));
                }
                if self.chance(25) {
                    a.extend([b("LIMIT"), self.index(), self.index()]);
                }
                if self.chance(40) {
                    a.push(b("WITHSCORES"));
                }
                let bylex = a.iter().any(|x| x == b"BYLEX");
                let mut wrote = vec![];
                if self.chance(20) {
                    let dst = self.key();
                    wrote.push(dst.clone());
                    a.insert(1, dst);
                    a[0] = b("ZRANGESTORE");
                } else {
                    a[0] = b("ZRANGE");
                }
                let mut c = Cmd::new(a, Exact);
                if bylex {
                    c.lex = Some((kv, wrote));
                }
                c
            }
            119 | 120 => {
                let byscore = self.chance(50);
                let (x, y) = if byscore {
                    (self.score_bound(), self.score_bound())
                } else {
                    (self.lex_bound(), self.lex_bound())
                };
                a.push(x);
                a.push(y);
                if byscore && self.chance(40) {
                    a.push(b("WITHSCORES"));
                }
                if self.chance(25) {
                    a.extend([b("LIMIT"), self.index(), self.index()]);
                }
                let name = match (byscore, self.chance(50)) {
                    (true, false) => "ZRANGEBYSCORE",
                    (true, true) => "ZREVRANGEBYSCORE",
                    (false, false) => "ZRANGEBYLEX",
                    (false, true) => "ZREVRANGEBYLEX",
                };
                a[0] = b(name);
                let mut c = Cmd::new(a, Exact);
                if !byscore {
                    c.lex = Some((kv, vec![]));
                }
                c
            }
            121 => {
                a.push(self.index());
                a.push(self.index());
                if self.chance(40) {
                    a.push(b("WITHSCORES"));
                }
                out!("ZREVRANGE", Exact)
            }
            122 | 123 => {
                if self.chance(40) {
                    a.push(self.count());
                }
                out!(self.pick(&["ZPOPMIN", "ZPOPMAX"]), Exact)
            }
            124 => {
                let nk = self.numkeys();
                a.truncate(1);
                a.extend(nk);
                a.push(b(self.pick(&["MIN", "MAX"])));
                if self.chance(40) {
                    a.extend([b("COUNT"), self.count()]);
                }
                out!("ZMPOP", Exact)
            }
            125 => {
                a.extend(self.keys(0));
                a.push(self.timeout());
                out!(self.pick(&["BZPOPMIN", "BZPOPMAX"]), Exact)
            }
            126 => {
                let nk = self.numkeys();
                a.truncate(1);
                a.push(self.timeout());
                a.extend(nk);
                a.push(b(self.pick(&["MIN", "MAX"])));
                if self.chance(40) {
                    a.extend([b("COUNT"), self.count()]);
                }
                out!("BZMPOP", Exact)
            }
            127 => {
                a.push(self.index());
                a.push(self.index());
                out!("ZREMRANGEBYRANK", Exact)
            }
            128 => {
                a.push(self.score_bound());
                a.push(self.score_bound());
                out!("ZREMRANGEBYSCORE", Exact)
            }
            129 => {
                a.push(self.lex_bound());
                a.push(self.lex_bound());
                a[0] = b("ZREMRANGEBYLEX");
                let mut c = Cmd::new(a, Exact);
                c.lex = Some((kv.clone(), vec![kv]));
                c
            }
            130..=134 => {
                let store = self.chance(40);
                let ks = self.keys(1);
                a.truncate(1);
                if store {
                    a.push(self.key());
                }
                a.push(b(ks.len().to_string()));
                let n = ks.len();
                a.extend(ks);
                let diff = self.chance(30);
                if !diff && self.chance(30) {
                    a.push(b("WEIGHTS"));
                    for _ in 0..n {
                        a.push(self.float());
                    }
                }
                if !diff && self.chance(30) {
                    a.extend([b("AGGREGATE"), b(self.pick(&["SUM", "MIN", "MAX", "AVG"]))]);
                }
                if !store && self.chance(50) {
                    a.push(b("WITHSCORES"));
                }
                let name = match (diff, store, self.chance(50)) {
                    (true, false, _) => "ZDIFF",
                    (true, true, _) => "ZDIFFSTORE",
                    (false, false, true) => "ZUNION",
                    (false, false, false) => "ZINTER",
                    (false, true, true) => "ZUNIONSTORE",
                    (false, true, false) => "ZINTERSTORE",
                };
                out!(name, Exact)
            }
            135 => {
                let nk = self.numkeys();
                a.truncate(1);
                a.extend(nk);
                if self.chance(40) {
                    a.extend([b("LIMIT"), self.count()]);
                }
                out!("ZINTERCARD", Exact)
            }
            136 => {
                if self.chance(70) {
                    a.push(self.index());
                    if self.chance(50) {
                        a.push(b("WITHSCORES"));
                    }
                }
                out!("ZRANDMEMBER", TypeLen)
            }
            137 => {
                a.extend([b("0"), b("COUNT"), b("100000")]);
                out!("ZSCAN", Scan { pairs: true })
            }
            // ---- transactions
            138 | 139 => {
                a.extend(self.keys(0));
                out!("WATCH", Exact)
            }
            140 => {
                a.truncate(1);
                out!(self.pick(&["UNWATCH", "EXEC", "DISCARD"]), Exact)
            }
            // ---- bulk writes that cross the encoding thresholds
            141 | 142 => {
                let n = self.rng.usize(100..600);
                let start = self.rng.i64(-100..1000);
                match self.rng.u32(..4) {
                    0 => {
                        a[0] = b("SADD");
                        a.extend((start..start + n as i64).map(|i| b(i.to_string())));
                    }
                    1 => {
                        a[0] = b("HSET");
                        for i in 0..n {
                            a.extend([b(format!("f{i}")), b(i.to_string())]);
                        }
                    }
                    2 => {
                        a[0] = b("ZADD");
                        for i in 0..n {
                            a.extend([b((i % 7).to_string()), b(format!("m{i}"))]);
                        }
                    }
                    _ => {
                        a[0] = b("RPUSH");
                        a.extend((0..n).map(|i| b(format!("e{}", i % 9))));
                    }
                }
                Cmd::new(a, Exact)
            }
            // ---- protocol switches
            144 => {
                if self.in_multi > 0 {
                    out!("TYPE", Exact)
                }
                Cmd::new(vec![b("HELLO"), b(self.pick(&["2", "3"]))], TypeOnly)
            }
            145 => {
                if self.in_multi > 0 {
                    out!("TYPE", Exact)
                }
                Cmd::new(vec![b("RESET")], Exact)
            }
            // ---- connection and pub/sub commands without subscribers
            146 => {
                a[1] = self.value();
                out!(self.pick(&["ECHO", "PING"]), Exact)
            }
            147 => {
                a.push(self.value());
                out!("PUBLISH", Exact)
            }
            148 => {
                a.insert(1, b(self.pick(&["REFCOUNT", "FREQ", "IDLETIME", "HELP"])));
                if a[1] == b"IDLETIME" {
                    // A shared integer (0..9999) reports the idle time of the
                    // shared object, which the fake does not model: type only.
                    a[0] = b("OBJECT");
                    return Cmd::new(a, TypeOnly);
                }
                out!("OBJECT", Exact)
            }
            _ => out!("EXISTS", Exact),
        }
    }
}

/// The element count of an aggregate reply header (`*3`, `%2`, `~4`), if any.
fn agg_len(raw: &[u8]) -> Option<&[u8]> {
    matches!(raw.first(), Some(b'*' | b'%' | b'~' | b'>')).then(|| {
        let end = raw.iter().position(|&c| c == b'\r').unwrap_or(raw.len());
        &raw[..end]
    })
}

fn as_int(raw: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(raw.strip_prefix(b":")?).ok()?;
    s.trim_end().parse().ok()
}

fn canonical(f: &OwnedFrame, cmp: &Cmp) -> String {
    match cmp {
        Cmp::Unordered | Cmp::OrderIfCompact(_, false) => render(f, true),
        Cmp::OrderIfCompact(_, true) => pairs_sorted(f),
        Cmp::Scan { pairs } => match f {
            OwnedFrame::Array { data, .. } if data.len() == 2 => {
                let inner = if *pairs { pairs_sorted(&data[1]) } else { render(&data[1], true) };
                format!("[{}, {inner}]", render(&data[0], false))
            }
            other => render(other, false),
        },
        _ => render(f, false),
    }
}

/// Whether two replies agree under `cmp`.
fn same(fake: &[u8], real: &[u8], cmp: &Cmp, resp: u8) -> bool {
    if fake == real {
        return true;
    }
    match cmp {
        Cmp::Exact => false,
        Cmp::TypeOnly => fake.first() == real.first(),
        Cmp::TypeLen => fake.first() == real.first() && agg_len(fake) == agg_len(real),
        Cmp::Near(tol) => match (as_int(fake), as_int(real)) {
            (Some(x), Some(y)) if x >= 0 && y >= 0 => (x - y).abs() <= *tol,
            _ => false,
        },
        _ => fake.first() == real.first() && canonical(&decode(fake, resp), cmp) == canonical(&decode(real, resp), cmp),
    }
}

/// Compares an EXEC reply element by element with the queued commands' comparators.
fn same_exec(fake: &[u8], real: &[u8], queued: &[Cmp], resp: u8) -> bool {
    if fake == real {
        return true;
    }
    if queued.iter().all(|c| *c == Cmp::Exact) || agg_len(fake) != agg_len(real) || fake.first() != Some(&b'*') {
        return false;
    }
    // Split both arrays into their elements' raw bytes.
    let split = |raw: &[u8]| -> Option<Vec<Vec<u8>>> {
        let hdr = raw.iter().position(|&c| c == b'\n')? + 1;
        let mut rest = &raw[hdr..];
        let mut out = Vec::new();
        while !rest.is_empty() {
            let n = common::decode_len(rest, resp).ok()??;
            out.push(rest[..n].to_vec());
            rest = &rest[n..];
        }
        Some(out)
    };
    let (Some(f), Some(r)) = (split(fake), split(real)) else { return false };
    f.len() == r.len() && f.len() == queued.len() && f.iter().zip(&r).zip(queued).all(|((x, y), c)| same(x, y, c, resp))
}

/// Both servers' connections for one session.
struct Session {
    fake: RawConn,
    real: RawConn,
    /// Comparators of the commands queued since MULTI (None outside MULTI).
    queued: Option<Vec<Cmp>>,
}

/// A mismatch: the index of the command and both replies.
struct Mismatch {
    index: usize,
    fake: Option<Vec<u8>>,
    real: Option<Vec<u8>>,
    resp: u8,
}

struct Servers {
    fake: FakeRedis,
    real: redis_harness::backend::RedisProcess,
    /// The real server's encoding limits at start (restored per session).
    limits: Vec<(String, String)>,
}

impl Servers {
    fn session(&self, resp3: bool) -> Session {
        let mut s =
            Session { fake: RawConn::tcp(self.fake.addr()), real: RawConn::unix(self.real.unix_path()), queued: None };
        let mut setup: Vec<Vec<u8>> = vec![b("CONFIG"), b("SET")];
        for (k, v) in &self.limits {
            setup.push(b(k));
            setup.push(b(v));
        }
        for c in [&[b("FLUSHALL")][..], &setup[..]] {
            let f = s.fake.call(c);
            let r = s.real.call(c);
            assert_eq!(f, r, "session setup {:?} differs", String::from_utf8_lossy(&c[0]));
        }
        if resp3 {
            s.fake.hello3();
            s.real.hello3();
        }
        s
    }

    /// Runs `cmds` in a fresh session; returns the first mismatch.
    fn run(&self, cmds: &[Cmd], resp3: bool) -> Option<Mismatch> {
        let mut s = self.session(resp3);
        for (i, c) in cmds.iter().enumerate() {
            if let Some(m) = step(&mut s, c, i) {
                return Some(m);
            }
        }
        None
    }
}

/// Sends one command to both servers and compares the replies.
fn step(s: &mut Session, c: &Cmd, index: usize) -> Option<Mismatch> {
    // A protocol switch queued in MULTI would change the protocol in the middle
    // of EXEC's reply; the generator cannot always tell, so replace it here.
    let swapped;
    let c = if s.queued.is_some() && matches!(c.name().as_str(), "HELLO" | "RESET") {
        swapped = Cmd::new(vec![b("PING")], Cmp::Exact);
        &swapped
    } else {
        c
    };
    let name = c.name();
    let mut cmp = c.cmp.clone();
    if c.counts_expired {
        if s.queued.is_none() {
            let reclaim = [b("SCAN"), b("0"), b("COUNT"), b("100000")];
            for db in [&mut s.fake, &mut s.real] {
                db.call(&reclaim);
            }
        } else {
            cmp = Cmp::TypeOnly;
        }
    }
    // Redis defines the order of compact encodings only: ask the real server which one it uses.
    if let Cmp::OrderIfCompact(key, _) = &cmp {
        if s.queued.is_none() {
            let enc = s.real.call(&[b("OBJECT"), b("ENCODING"), key.clone()]);
            if enc.windows(8).any(|w| w == b"listpack") || enc.windows(6).any(|w| w == b"intset") {
                cmp = Cmp::Exact;
            }
        }
    }
    if name == "HELLO" && c.args.len() == 2 && c.args[1] == b"3" {
        // The reply already comes in RESP3.
        s.fake.resp = 3;
        s.real.resp = 3;
    }
    let mut lex_resync: Vec<Vec<u8>> = Vec::new();
    if let Some((key, wrote)) = &c.lex {
        if s.queued.is_some() || !lex_defined(&mut s.real, key) {
            cmp = Cmp::TypeOnly;
            lex_resync = wrote.clone();
        }
    }
    let resp = s.real.resp;
    s.fake.send(&c.args);
    s.real.send(&c.args);
    let f = s.fake.read_reply();
    let r = s.real.read_reply();
    let (Some(fr), Some(rr)) = (&f, &r) else {
        return (f.is_some() || r.is_some()).then_some(Mismatch { index, fake: f, real: r, resp });
    };
    let ok = if name == "EXEC" && s.queued.is_some() {
        same_exec(fr, rr, s.queued.as_deref().unwrap_or(&[]), resp)
    } else if s.queued.is_some() && fr == rr && rr.starts_with(b"+QUEUED") {
        true
    } else {
        same(fr, rr, &cmp, resp)
    };
    if !ok {
        return Some(Mismatch { index, fake: f, real: r, resp });
    }
    // Track transaction and protocol state from the real server's reply.
    let is_err = rr.first() == Some(&b'-');
    match name.as_str() {
        "MULTI" if !is_err => s.queued = Some(Vec::new()),
        "EXEC" | "DISCARD" if s.queued.is_some() => s.queued = None,
        "RESET" => {
            s.queued = None;
            s.fake.resp = 2;
            s.real.resp = 2;
        }
        "HELLO" if !is_err && c.args.len() == 2 && c.args[1] == b"2" => {
            s.fake.resp = 2;
            s.real.resp = 2;
        }
        _ => {
            if let Some(q) = &mut s.queued {
                if rr.starts_with(b"+QUEUED") {
                    q.push(cmp);
                }
            }
        }
    }
    if !lex_resync.is_empty() {
        let mut del = vec![b("DEL")];
        del.extend(lex_resync);
        let f = s.fake.call(&del);
        let r = s.real.call(&del);
        if let Some(q) = s.queued.as_mut().filter(|_| r.starts_with(b"+QUEUED")) {
            q.push(Cmp::TypeOnly);
        }
        if f != r && s.queued.is_none() {
            // The servers disagreed on what the command wrote; both are gone now.
            return None;
        }
    }
    if let Some(re) = &c.resync {
        let f = s.fake.call(re);
        let r = s.real.call(re);
        if let Some(q) = s.queued.as_mut().filter(|_| r.starts_with(b"+QUEUED")) {
            q.push(Cmp::Exact);
        }
        if f != r {
            return Some(Mismatch { index, fake: Some(f), real: Some(r), resp });
        }
    }
    None
}

/// Whether Redis defines a lex range over `key` right now: asked of the
/// real server (a listpack, or a skiplist whose scores are all equal).
fn lex_defined(real: &mut RawConn, key: &[u8]) -> bool {
    let enc = real.call(&[b"OBJECT".as_slice(), b"ENCODING", key]);
    if !enc.windows(8).any(|w| w == b"skiplist") {
        return true;
    }
    let first = real.call(&[b"ZRANGE".as_slice(), key, b"0", b"0", b"WITHSCORES"]);
    let last = real.call(&[b"ZRANGE".as_slice(), key, b"-1", b"-1", b"WITHSCORES"]);
    // RESP2 gives [member, score], RESP3 [[member, score]].
    fn last_leaf(f: &OwnedFrame) -> Option<String> {
        match f {
            OwnedFrame::Array { data, .. } => data.last().and_then(last_leaf),
            other => Some(render(other, false)),
        }
    }
    let score = |raw: &[u8]| last_leaf(&decode(raw, real.resp));
    score(&first) == score(&last)
}

/// Shrinks a failing sequence (delta debugging), bounded in replays.
fn shrink(servers: &Servers, mut cmds: Vec<Cmd>, resp3: bool) -> (Vec<Cmd>, Option<Mismatch>) {
    let mut budget = 3000usize;
    let mut last = servers.run(&cmds, resp3);
    if let Some(m) = &last {
        cmds.truncate(m.index + 1);
    }
    let mut chunk = (cmds.len() / 2).max(1);
    loop {
        let mut changed = false;
        let mut start = 0;
        while start < cmds.len() && budget > 0 {
            budget -= 1;
            let end = (start + chunk).min(cmds.len());
            let mut cand = cmds.clone();
            cand.drain(start..end);
            if cand.is_empty() {
                start = end;
                continue;
            }
            if let Some(m) = servers.run(&cand, resp3) {
                cand.truncate(m.index + 1);
                cmds = cand;
                last = Some(m);
                changed = true;
            } else {
                start = end;
            }
        }
        if budget == 0 || (chunk == 1 && !changed) {
            break;
        }
        if !changed {
            chunk = (chunk / 2).max(1);
        }
    }
    (cmds, last)
}

fn show(x: &Option<Vec<u8>>, resp: u8) -> String {
    match x {
        Some(raw) => {
            let mut s = format!("{}   raw: {}", render(&decode(raw, resp), false), raw.escape_ascii());
            if s.len() > 2000 {
                let mut cut = 2000;
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                s.truncate(cut);
                s.push_str(" ...");
            }
            s
        }
        None => "connection closed".into(),
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

#[test]
fn random_commands_match_real_redis() {
    let Some(real) = real_redis_or_skip("fuzz_diff") else { return };
    let fake = FakeRedis::builder().start_blocking();
    let total = env_u64("REDIS_HARNESS_FUZZ_COMMANDS").unwrap_or(3000) as usize;
    let seed = env_u64("REDIS_HARNESS_FUZZ_SEED").unwrap_or_else(|| fastrand::u64(..));
    let mut probe = RawConn::unix(real.unix_path());
    let mut limits = Vec::new();
    for name in LIMITS {
        let raw = probe.call(&["CONFIG", "GET", name]);
        match decode(&raw, 2) {
            OwnedFrame::Array { data, .. } if data.len() == 2 => {
                let v = match &data[1] {
                    OwnedFrame::BlobString { data, .. } => String::from_utf8_lossy(data).into_owned(),
                    other => panic!("CONFIG GET {name}: {other:?}"),
                };
                limits.push((name.to_string(), v));
            }
            other => panic!("CONFIG GET {name}: {other:?}"),
        }
    }
    let servers = Servers { fake, real, limits };
    let mut gen = Gen { rng: fastrand::Rng::with_seed(seed), in_multi: 0 };
    let mut done = 0usize;
    let mut sessions = 0usize;
    eprintln!("fuzz_diff: seed {seed}, {total} commands");
    while done < total {
        sessions += 1;
        let len = gen.rng.usize(20..300).min(total - done).max(1);
        let resp3 = gen.rng.bool();
        gen.in_multi = 0;
        let mut cmds = if gen.rng.bool() { gen.limits() } else { Vec::new() };
        cmds.extend((0..len).map(|_| gen.next()));
        done += len;
        let mut s = servers.session(resp3);
        let failed = cmds.iter().enumerate().find_map(|(i, c)| step(&mut s, c, i));
        drop(s);
        let Some(first) = failed else { continue };
        let (min, m) = shrink(&servers, cmds[..=first.index].to_vec(), resp3);
        let m = m.unwrap_or(first);
        let lines: Vec<String> = min.iter().map(Cmd::line).collect();
        panic!(
            "fuzz_diff mismatch (seed {seed}, session {sessions}, RESP{}), minimal sequence ({} commands):\n{}\n\
             last command: {}\n    fake: {}\n    real: {}\nrerun: REDIS_HARNESS_FUZZ_SEED={seed} REDIS_HARNESS_FUZZ_COMMANDS={total}",
            if resp3 { 3 } else { 2 },
            min.len(),
            lines.iter().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n"),
            lines.last().cloned().unwrap_or_default(),
            show(&m.fake, m.resp),
            show(&m.real, m.resp),
        );
    }
    eprintln!("fuzz_diff: {done} commands in {sessions} sessions matched (seed {seed})");
}

#[test]
fn quoting_round_trips_through_the_script_syntax() {
    assert_eq!(quote(b"abc"), "abc");
    assert_eq!(quote(b""), "\"\"");
    assert_eq!(quote(b" 1"), "\" 1\"");
    assert_eq!(quote(b"k\\1"), "\"k\\\\1\"");
    let c = Cmd::new(vec![b("SET"), b("k"), b("a b")], Cmp::Exact);
    assert_eq!(c.line(), "SET k \"a b\"");
}

/// Waits (bounded) until the server reports `n` blocked clients.
fn wait_blocked(probe: &mut RawConn, n: usize) {
    let want = format!("blocked_clients:{n}\r");
    let deadline = std::time::Instant::now() + common::REPLY_TIMEOUT;
    loop {
        let info = probe.call(&["INFO", "clients"]);
        if info.windows(want.len()).any(|w| w == want.as_bytes()) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{}: never saw {want:?}", probe.label);
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// CLIENT UNBLOCK and CLIENT KILL on blocked clients: these need the blocked
/// client's id, which differs between servers, so a script cannot express
/// them. Runs the same scenario on both servers and compares the replies.
fn unblock_scenario(mut connect: impl FnMut() -> RawConn, resp3: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut main = connect();
    let mut blocked = connect();
    if resp3 {
        main.hello3();
        blocked.hello3();
    }
    let mut probe = connect();
    let mut rec = |what: &str, raw: Option<Vec<u8>>| {
        out.push(format!("{what}: {}", raw.map_or("<closed>".to_string(), |r| r.escape_ascii().to_string())))
    };
    rec("flush", Some(main.call(&["FLUSHALL"])));
    let id_raw = blocked.call(&["CLIENT", "ID"]);
    let id = String::from_utf8_lossy(&id_raw[1..]).trim().to_string();
    let blockers: &[&[&str]] = &[
        &["BLPOP", "l", "0"],
        &["BRPOP", "l", "l2", "0"],
        &["BLMOVE", "l", "d", "LEFT", "RIGHT", "0"],
        &["BRPOPLPUSH", "l", "d", "0"],
        &["BLMPOP", "0", "1", "l", "LEFT"],
        &["BZPOPMIN", "z", "0"],
        &["BZPOPMAX", "z", "0"],
        &["BZMPOP", "0", "2", "z", "z2", "MIN", "COUNT", "2"],
    ];
    for cmd in blockers {
        for how in [None, Some("TIMEOUT"), Some("ERROR"), Some("timeout"), Some("bogus")] {
            blocked.send(cmd);
            wait_blocked(&mut probe, 1);
            let mut args = vec!["CLIENT", "UNBLOCK", id.as_str()];
            args.extend(how);
            rec(&format!("{cmd:?} unblock {how:?}"), Some(main.call(&args)));
            if how == Some("bogus") {
                // Still blocked: serve it with a push.
                let push: &[&str] =
                    if cmd[0].starts_with("BZ") { &["ZADD", "z", "1", "m"] } else { &["RPUSH", "l", "v"] };
                rec("push", Some(main.call(push)));
            }
            rec("blocked reply", blocked.read_reply());
            wait_blocked(&mut probe, 0);
        }
    }
    rec("not blocked", Some(main.call(&["CLIENT", "UNBLOCK", id.as_str()])));
    rec("no such id", Some(main.call(&["CLIENT", "UNBLOCK", "999999"])));
    rec("bad id", Some(main.call(&["CLIENT", "UNBLOCK", "abc"])));
    rec("negative id", Some(main.call(&["CLIENT", "UNBLOCK", "-1"])));
    // Blocking inside MULTI does not block, so there is nothing to unblock.
    rec("multi", Some(blocked.call(&["MULTI"])));
    rec("queued", Some(blocked.call(&["BLPOP", "l", "0"])));
    rec("unblock during multi", Some(main.call(&["CLIENT", "UNBLOCK", id.as_str()])));
    rec("exec", Some(blocked.call(&["EXEC"])));
    // A killed blocked client is gone and its key wait with it.
    blocked.send(&["BLPOP", "killed", "0"]);
    wait_blocked(&mut probe, 1);
    rec("kill", Some(main.call(&["CLIENT", "KILL", "ID", id.as_str()])));
    rec("killed conn", blocked.read_reply());
    wait_blocked(&mut probe, 0);
    rec("push after kill", Some(main.call(&["RPUSH", "killed", "x"])));
    rec("still there", Some(main.call(&["LLEN", "killed"])));
    rec("kill again", Some(main.call(&["CLIENT", "KILL", "ID", id.as_str()])));
    out
}

#[test]
fn client_unblock_and_kill_match_real_redis() {
    let Some(real) = real_redis_or_skip("fuzz_diff") else { return };
    let fake = FakeRedis::builder().start_blocking();
    for resp3 in [false, true] {
        let f = unblock_scenario(|| RawConn::tcp(fake.addr()), resp3);
        let r = unblock_scenario(|| RawConn::unix(real.unix_path()), resp3);
        for (x, y) in f.iter().zip(&r) {
            assert_eq!(x, y, "CLIENT UNBLOCK/KILL scenario (RESP{}) differs", if resp3 { 3 } else { 2 });
        }
        assert_eq!(f.len(), r.len());
    }
}
