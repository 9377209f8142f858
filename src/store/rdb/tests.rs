//! Payloads checked against redis-server 7.0.15's DUMP output.

use super::*;

fn opts(encoding: &str) -> DumpOptions<'_> {
    DumpOptions { encoding, compress: true, list_fill: -2 }
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// `(value, encoding, what redis-server 7.0.15 dumped)`.
fn redis_dumps() -> Vec<(Value, &'static str, &'static [u8])> {
    let mut z = ZSet::new();
    for (s, m) in [(1.1, "a"), (2.0, "b"), (-0.0, "c"), (1e20, "d"), (3.5, "e")] {
        z.insert(b(m), s);
    }
    vec![
        (Value::Str(b("12345")), "int", b"\x00\xc190\n\x00\x9d\x94\xea'\x93\xfc\x08\xb9"),
        (
            Value::Hash([("f", "v"), ("f2", "123"), ("f3", "-5000")].iter().map(|(f, v)| (b(f), b(v))).collect()),
            "listpack",
            b"\x10\x1b\x1b\x00\x00\x00\x06\x00\x81f\x02\x81v\x02\x82f2\x03{\x01\x82f3\x03\xf1x\xec\x03\xff\n\x00\xe3\x1c\xc8v\xeb\x0b8N",
        ),
        (
            Value::Set(["1", "2", "3", "70000"].iter().map(|s| b(s)).collect()),
            "intset",
            b"\x0b\x18\x04\x00\x00\x00\x04\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00p\x11\x01\x00\n\x00\xef.e!\xe3\x85\xa2*",
        ),
        (
            Value::List(["a", "b", "1", "2", "-100000"].iter().map(|s| b(s)).collect()),
            "quicklist",
            b"\x12\x01\x02\x16\x16\x00\x00\x00\x05\x00\x81a\x02\x81b\x02\x01\x01\x02\x01\xf2`y\xfe\x04\xff\n\x00\xb0\xa3\xa5/w\xf0\x82\x8f",
        ),
        (
            Value::ZSet(z),
            "listpack",
            b"\x11\xc32:\x12:\x00\x00\x00\n\x00\x81c\x02\x00\x01\x81a\x02\x921.10\xe0\x04\x00\x191\x13\x81b\x02\x02\x01\x81e\x02\x833.5\x04\x81d\x02\x851e+20\x06\xff\n\x00n\xc6M\r\xd3\xa5\x19\x9a",
        ),
    ]
}

/// A comparable form of a value (sets and hashes ignore order).
fn canon(v: &Value) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = match v {
        Value::Str(s) => vec![s.to_vec()],
        Value::List(l) => return l.iter().map(|b| b.to_vec()).collect(),
        Value::Set(s) => s.iter().map(|b| b.to_vec()).collect(),
        Value::Hash(h) => h.iter().map(|(f, v)| [&f[..], b"=", &v[..]].concat()).collect(),
        Value::ZSet(z) => return z.iter().map(|(m, s)| [&m[..], b"=", s.to_string().as_bytes()].concat()).collect(),
        Value::Stream(s) => return vec![format!("{s:?}").into_bytes()],
    };
    out.sort();
    out
}

#[test]
fn dumps_are_byte_equal_with_redis() {
    for (value, enc, expected) in redis_dumps() {
        assert_eq!(dump(&value, &opts(enc)), expected, "{enc} {value:?}");
        assert!(verify(expected));
        assert_eq!(canon(&load(expected).unwrap()), canon(&value));
    }
}

#[test]
fn every_encoding_round_trips() {
    let big_list: VecDeque<Bytes> = (0..3000).map(|i| b(&format!("element-{i}"))).collect();
    let big_hash: IndexMap<Bytes, Bytes> = (0..600).map(|i| (b(&format!("f{i}")), b(&"v".repeat(i % 90)))).collect();
    let words: IndexSet<Bytes> = (0..100).map(|i| b(&format!("m{i}"))).collect();
    let ints: IndexSet<Bytes> = [-5, 0, 1 << 40, 7].iter().map(|i: &i64| b(&i.to_string())).collect();
    let z = ZSet::from_items((0..200).map(|i| (b(&format!("member{i}")), f64::from(i) / 3.0)));
    let small_z = ZSet::from_items([(b("x"), f64::INFINITY), (b("y"), -2.5)]);
    let cases = [
        (Value::Str(b(&"abc".repeat(100))), "raw"),
        (Value::Str(b("-2147483648")), "int"),
        (Value::Str(b("12345678901234")), "int"),
        (Value::Str(b("")), "embstr"),
        (Value::List(big_list), "quicklist"),
        (Value::Hash(big_hash.clone()), "hashtable"),
        (Value::Hash(big_hash.into_iter().take(10).collect()), "listpack"),
        (Value::Set(words), "hashtable"),
        (Value::Set(ints), "intset"),
        (Value::ZSet(z), "skiplist"),
        (Value::ZSet(small_z), "listpack"),
    ];
    for (value, enc) in cases {
        for compress in [true, false] {
            let p = dump(&value, &DumpOptions { encoding: enc, compress, list_fill: -2 });
            assert!(verify(&p));
            assert_eq!(canon(&load(&p).unwrap()), canon(&value), "{enc}");
        }
    }
}

#[test]
fn long_lists_split_into_several_nodes() {
    let list: VecDeque<Bytes> = (0..3000).map(|i| b(&format!("element-{i}"))).collect();
    let p = dump(&Value::List(list), &opts("quicklist"));
    assert_eq!(p[0], TYPE_LIST_QUICKLIST_2);
    assert!(p[1] > 1, "node count {}", p[1]);
}

#[test]
fn checksum_and_version_are_checked() {
    let mut p = dump(&Value::Str(b("hello")), &opts("embstr"));
    assert!(verify(&p));
    let n = p.len();
    p[n - 1] ^= 1;
    assert!(!verify(&p));
    assert!(!verify(b"short"));
    // Version 11 with a correct checksum is still refused.
    let mut v11 = b"\x00\x05hello\x0b\x00".to_vec();
    let crc = crc64::crc64(0, &v11);
    v11.extend_from_slice(&crc.to_le_bytes());
    assert!(!verify(&v11));
}

#[test]
fn malformed_objects_are_bad_data() {
    for bad in [
        &b""[..],
        b"\x00",
        b"\x00\x05abc",
        b"\x00\xc3\x05\xff\x00",
        b"\x01\x00",
        b"\x02\x02\x01a\x01a",
        b"\x04\x01\x01a",
        b"\x05\x01\x01a\x00\x00\x00\x00\x00\x00\xf8\x7f",
        b"\x0b\x04\x00\x00\x00\x00",
        b"\x12\x01\x03\x01a",
        b"\x12\x81\xff\xff\xff\xff\xff\xff\xff\xff",
        b"\x02\x80\xff\xff\xff\xff",
        b"\x0f\x00",
        b"\x06\x00",
        b"\x63",
    ] {
        assert!(load(bad).is_none(), "{bad:?}");
    }
}

#[test]
fn hostile_bytes_never_panic() {
    // A fixed pseudo-random stream, and every truncation and one-byte
    // change of real payloads.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 40) as usize;
        let bytes: Vec<u8> = (0..len).map(|i| (x >> (i % 8 * 8)) as u8 ^ i as u8).collect();
        let _ = load(&bytes);
    }
    for (_, _, p) in redis_dumps() {
        for cut in 0..p.len() {
            let _ = load(&p[..cut]);
        }
        for i in 0..p.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut q = p.to_vec();
                q[i] ^= flip;
                let _ = load(&q);
            }
        }
    }
}
