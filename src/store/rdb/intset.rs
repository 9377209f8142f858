//! Redis's intset: `encoding (u32 LE: 2, 4 or 8 bytes per integer) |
//! length (u32 LE) | the integers, sorted ascending, little endian`.

/// The intset holding `values` (any order; duplicates are not expected),
/// at the narrowest width that fits them all, as Redis builds it by adds.
pub(crate) fn encode(values: &mut [i64]) -> Vec<u8> {
    values.sort_unstable();
    let width: usize = if values.iter().all(|&v| i16::try_from(v).is_ok()) {
        2
    } else if values.iter().all(|&v| i32::try_from(v).is_ok()) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + width * values.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(values.len() as u32).to_le_bytes());
    for &v in values.iter() {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

/// The integers of the intset `blob`, checked as Redis's deep validation
/// does: a known width, a length that matches the size, strictly ascending.
pub(crate) fn decode(blob: &[u8]) -> Option<Vec<i64>> {
    let width = u32::from_le_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    let len = u32::from_le_bytes(blob.get(4..8)?.try_into().ok()?) as usize;
    if ![2, 4, 8].contains(&width) || len.checked_mul(width)?.checked_add(8)? != blob.len() {
        return None;
    }
    let values: Vec<i64> = blob[8..]
        .chunks_exact(width)
        .map(|c| {
            let mut v: u64 = 0;
            for (i, &b) in c.iter().enumerate() {
                v |= u64::from(b) << (8 * i);
            }
            let shift = 64 - 8 * width as u32;
            ((v << shift) as i64) >> shift
        })
        .collect();
    values.windows(2).all(|w| w[0] < w[1]).then_some(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_redis() {
        // SADD si 1 2 3 70000 in redis-server 7.0.15.
        let blob = encode(&mut [3, 70000, 1, 2]);
        assert_eq!(
            blob,
            b"\x04\x00\x00\x00\x04\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00p\x11\x01\x00"
        );
        assert_eq!(decode(&blob), Some(vec![1, 2, 3, 70000]));
        let wide = encode(&mut [-1, i64::MIN]);
        assert_eq!(decode(&wide), Some(vec![i64::MIN, -1]));
        assert_eq!(encode(&mut [-32768, 32767])[..4], [2, 0, 0, 0]);
    }

    #[test]
    fn rejects_malformed_blobs() {
        assert!(decode(b"\x02\x00\x00\x00\x02\x00\x00\x00\x02\x00\x01\x00").is_none()); // not ascending
        assert!(decode(b"\x03\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00").is_none()); // bad width
        assert!(decode(b"\x02\x00\x00\x00\x05\x00\x00\x00\x01\x00").is_none()); // short
        assert!(decode(b"\x02\x00\x00\x00\xff\xff\xff\xff").is_none()); // huge length
    }
}
