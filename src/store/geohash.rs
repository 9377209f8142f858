//! Geohash maths as Redis 7.0 does it for its geo commands: positions are
//! 52-bit interleaved hashes (26 bits of latitude in the even bits, 26 of
//! longitude in the odd bits) over longitude ±180 and latitude
//! ±85.05112878 (the Web Mercator limits), distances are haversine on a
//! sphere of radius 6372797.560856 m, and a radius or box search scans the
//! hash box around the centre and its eight neighbours at a step estimated
//! from the search size.
//!
//! Every step repeats Redis's floating-point operations in the same order,
//! so decoded coordinates and distances agree to the last bit. Nothing here
//! knows about commands or replies.

/// Smallest longitude accepted.
pub(crate) const LONG_MIN: f64 = -180.0;
/// Largest longitude accepted.
pub(crate) const LONG_MAX: f64 = 180.0;
/// Smallest latitude accepted.
pub(crate) const LAT_MIN: f64 = -85.05112878;
/// Largest latitude accepted.
pub(crate) const LAT_MAX: f64 = 85.05112878;
/// Bits per coordinate in a stored hash.
pub(crate) const STEP_MAX: u8 = 26;
/// The sphere distances are measured on, in metres.
const EARTH_RADIUS: f64 = 6372797.560856;
/// Half the Mercator world width in metres, for step estimation.
const MERCATOR_MAX: f64 = 20037726.37;
/// Degrees to radians factor (`M_PI / 180.0`).
const D_R: f64 = std::f64::consts::PI / 180.0;

/// A coordinate range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Range {
    /// Lower end.
    pub min: f64,
    /// Upper end.
    pub max: f64,
}

/// The ranges of the stored hashes (longitude, latitude).
pub(crate) const WGS84: (Range, Range) = (Range { min: LONG_MIN, max: LONG_MAX }, Range { min: LAT_MIN, max: LAT_MAX });

/// The standard geohash ranges (latitude ±90), used for GEOHASH strings.
pub(crate) const STANDARD: (Range, Range) = (Range { min: -180.0, max: 180.0 }, Range { min: -90.0, max: 90.0 });

/// A hash of `step` bits per coordinate. `step == 0` (with no bits) marks an
/// excluded neighbour box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hash {
    /// The interleaved bits.
    pub bits: u64,
    /// Bits per coordinate.
    pub step: u8,
}

impl Hash {
    /// The excluded-box marker.
    const ZERO: Hash = Hash { bits: 0, step: 0 };

    fn is_zero(self) -> bool {
        self.bits == 0 && self.step == 0
    }

    /// The hash shifted to 52 bits: the sorted set score of its first point.
    pub(crate) fn align52(self) -> u64 {
        self.bits << (52 - u32::from(self.step) * 2)
    }
}

/// A decoded hash box.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Area {
    /// Longitude span.
    pub lon: Range,
    /// Latitude span.
    pub lat: Range,
}

/// Spreads the low 32 bits of `v` to the even bits of a u64.
fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// Gathers the even bits of `v` into a u32.
fn compact(v: u64) -> u32 {
    let mut x = v & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    ((x | (x >> 16)) & 0x0000_0000_FFFF_FFFF) as u32
}

/// Latitude bits in the even positions, longitude bits in the odd ones.
fn interleave(lat: u32, lon: u32) -> u64 {
    spread(lat) | (spread(lon) << 1)
}

/// C's conversion of a non-negative double to `uint32_t` (truncation; the
/// values here are at most 2^step).
fn to_u32(v: f64) -> u32 {
    v as u32
}

/// Encodes a position with `step` bits per coordinate, or `None` when it
/// lies outside the ranges or the Mercator limits.
pub(crate) fn encode(ranges: (Range, Range), lon: f64, lat: f64, step: u8) -> Option<Hash> {
    let (lon_r, lat_r) = ranges;
    if step == 0 || step > 32 {
        return None;
    }
    if !(-180.0..=180.0).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_r.min || lat > lat_r.max || lon < lon_r.min || lon > lon_r.max {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_off = (lat - lat_r.min) / (lat_r.max - lat_r.min) * scale;
    let lon_off = (lon - lon_r.min) / (lon_r.max - lon_r.min) * scale;
    Some(Hash { bits: interleave(to_u32(lat_off), to_u32(lon_off)), step })
}

/// The box a hash stands for.
pub(crate) fn decode(ranges: (Range, Range), hash: Hash) -> Area {
    let (lon_r, lat_r) = ranges;
    let ilat = compact(hash.bits);
    let ilon = compact(hash.bits >> 1);
    let div = (1u64 << hash.step) as f64;
    let lat_scale = lat_r.max - lat_r.min;
    let lon_scale = lon_r.max - lon_r.min;
    let at = |i: u32, min: f64, scale: f64| min + (f64::from(i) / div) * scale;
    Area {
        lat: Range { min: at(ilat, lat_r.min, lat_scale), max: at(ilat.wrapping_add(1), lat_r.min, lat_scale) },
        lon: Range { min: at(ilon, lon_r.min, lon_scale), max: at(ilon.wrapping_add(1), lon_r.min, lon_scale) },
    }
}

/// The centre of a box, clamped to the valid ranges: (longitude, latitude).
pub(crate) fn area_center(area: &Area) -> (f64, f64) {
    let lon = ((area.lon.min + area.lon.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((area.lat.min + area.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// C's `(uint64_t)d` as x86-64 code computes it: below 2^63 a signed
/// truncation (`cvttsd2si`, whose out-of-range result is 2^63), above it the
/// same on `d - 2^63` with the top bit flipped. So -1 becomes all ones and
/// values past 2^64 become 0, as GEOPOS on such a score shows.
fn c_double_to_u64(d: f64) -> u64 {
    const TWO63: f64 = 9223372036854775808.0;
    const INDEFINITE: u64 = 1 << 63;
    let cvtt = |v: f64| if v.is_nan() || !(-TWO63..TWO63).contains(&v) { INDEFINITE } else { v as i64 as u64 };
    if d < TWO63 {
        cvtt(d)
    } else {
        cvtt(d - TWO63) ^ INDEFINITE
    }
}

/// The position a sorted set score stands for (C's `(uint64_t)score`, then
/// the centre of its 26-step box): (longitude, latitude).
pub(crate) fn decode_score(score: f64) -> (f64, f64) {
    area_center(&decode(WGS84, Hash { bits: c_double_to_u64(score), step: STEP_MAX }))
}

/// The 52-bit score of a valid position.
pub(crate) fn encode_score(lon: f64, lat: f64) -> Option<u64> {
    encode(WGS84, lon, lat, STEP_MAX).map(Hash::align52)
}

/// The 11-character standard geohash of a stored score (the 52 bits give
/// ten characters; the eleventh is always `0`).
pub(crate) fn geohash_string(score: f64) -> [u8; 11] {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (lon, lat) = decode_score(score);
    let bits = encode(STANDARD, lon, lat, STEP_MAX).map_or(0, |h| h.bits);
    let mut out = [b'0'; 11];
    for (i, c) in out.iter_mut().enumerate().take(10) {
        *c = ALPHABET[((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize];
    }
    out
}

fn deg_rad(d: f64) -> f64 {
    d * D_R
}

fn rad_deg(r: f64) -> f64 {
    r / D_R
}

/// Distance between two latitudes on one meridian.
fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// Haversine distance in metres between two (longitude, latitude) points.
pub(crate) fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let v = ((deg_rad(lon2) - deg_rad(lon1)) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let (lat1r, lat2r) = (deg_rad(lat1), deg_rad(lat2));
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS * a.sqrt().asin()
}

/// A search area: a circle or an axis-aligned box around a centre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Shape {
    /// A radius, in the unit.
    Circle {
        /// Radius in units.
        radius: f64,
    },
    /// A box, in the unit.
    Box {
        /// East-west extent in units.
        width: f64,
        /// North-south extent in units.
        height: f64,
    },
}

/// A search: centre, shape, and metres per unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Search {
    /// Centre longitude.
    pub lon: f64,
    /// Centre latitude.
    pub lat: f64,
    /// The area.
    pub shape: Shape,
    /// Metres per unit.
    pub to_meters: f64,
}

impl Search {
    /// The distance in metres from the centre to a point, if the point is
    /// inside the area.
    pub(crate) fn contains(&self, lon: f64, lat: f64) -> Option<f64> {
        match self.shape {
            Shape::Circle { radius } => {
                let d = distance(self.lon, self.lat, lon, lat);
                (d <= radius * self.to_meters).then_some(d)
            }
            Shape::Box { width, height } => {
                let (w, h) = (width * self.to_meters, height * self.to_meters);
                if lat_distance(lat, self.lat) > h / 2.0 {
                    return None;
                }
                if distance(lon, lat, self.lon, lat) > w / 2.0 {
                    return None;
                }
                Some(distance(self.lon, self.lat, lon, lat))
            }
        }
    }

    /// (min lon, min lat, max lon, max lat) of the area.
    fn bounds(&self) -> [f64; 4] {
        let (height, width) = match self.shape {
            Shape::Circle { radius } => (self.to_meters * radius, self.to_meters * radius),
            Shape::Box { width, height } => (self.to_meters * (height / 2.0), self.to_meters * (width / 2.0)),
        };
        let lat_delta = rad_deg(height / EARTH_RADIUS);
        let top = rad_deg(width / EARTH_RADIUS / deg_rad(self.lat + lat_delta).cos());
        let bottom = rad_deg(width / EARTH_RADIUS / deg_rad(self.lat - lat_delta).cos());
        let d = if self.lat < 0.0 { bottom } else { top };
        [self.lon - d, self.lat - lat_delta, self.lon + d, self.lat + lat_delta]
    }

    /// The boxes to scan, in Redis's order (centre, N, S, E, W, NE, NW, SE,
    /// SW), excluded ones and repeats of the previous scanned box removed.
    /// Each is a half-open score range `[min, max)`.
    pub(crate) fn score_ranges(&self) -> Vec<(f64, f64)> {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounds();
        let radius = match self.shape {
            Shape::Circle { radius } => radius,
            Shape::Box { width, height } => ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt(),
        } * self.to_meters;
        let mut steps = estimate_steps(radius, self.lat);
        let at = |steps: u8| {
            let hash = encode(WGS84, self.lon, self.lat, steps).unwrap_or(Hash { bits: 0, step: steps });
            (hash, neighbors(hash), decode(WGS84, hash))
        };
        let (mut hash, mut n, mut area) = at(steps);
        let north = decode(WGS84, n[0]);
        let south = decode(WGS84, n[1]);
        let east = decode(WGS84, n[2]);
        let west = decode(WGS84, n[3]);
        let too_coarse =
            north.lat.max < max_lat || south.lat.min > min_lat || east.lon.max < max_lon || west.lon.min > min_lon;
        if steps > 1 && too_coarse {
            steps -= 1;
            (hash, n, area) = at(steps);
        }
        // n: [N, S, E, W, NE, NW, SE, SW]
        if steps >= 2 {
            let mut drop = |idx: &[usize]| idx.iter().for_each(|&i| n[i] = Hash::ZERO);
            if area.lat.min < min_lat {
                drop(&[1, 7, 6]);
            }
            if area.lat.max > max_lat {
                drop(&[0, 4, 5]);
            }
            if area.lon.min < min_lon {
                drop(&[3, 7, 5]);
            }
            if area.lon.max > max_lon {
                drop(&[2, 6, 4]);
            }
        }
        let boxes = std::iter::once(hash).chain(n);
        let mut out = Vec::with_capacity(9);
        let mut last: Option<Hash> = None;
        for (i, b) in boxes.enumerate() {
            if b.is_zero() || last == Some(b) {
                continue;
            }
            // Redis compares with the last scanned box only once one other
            // than the centre was scanned.
            if i > 0 {
                last = Some(b);
            }
            let next = Hash { bits: b.bits.wrapping_add(1), step: b.step };
            out.push((b.align52() as f64, next.align52() as f64));
        }
        out
    }
}

/// The step (bits per coordinate) of the search boxes for a radius in
/// metres at a latitude.
pub(crate) fn estimate_steps(mut range: f64, lat: f64) -> u8 {
    if range == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// Moves along one coordinate: `odd` picks the longitude (odd) bits.
fn move_axis(hash: &mut Hash, d: i8, odd: bool) {
    let even_mask = 0x5555_5555_5555_5555u64;
    let odd_mask = 0xaaaa_aaaa_aaaa_aaaau64;
    let shift = 64 - u32::from(hash.step) * 2;
    let (mine, other, zz_src) = if odd { (odd_mask, even_mask, even_mask) } else { (even_mask, odd_mask, odd_mask) };
    let mut v = hash.bits & mine;
    let keep = hash.bits & other;
    let zz = zz_src.checked_shr(shift).unwrap_or(0);
    if d > 0 {
        v = v.wrapping_add(zz.wrapping_add(1));
    } else {
        v |= zz;
        v = v.wrapping_sub(zz.wrapping_add(1));
    }
    v &= mine.checked_shr(shift).unwrap_or(0);
    hash.bits = v | keep;
}

/// The eight neighbours of a box: [N, S, E, W, NE, NW, SE, SW].
fn neighbors(hash: Hash) -> [Hash; 8] {
    let moved = |dx: i8, dy: i8| {
        let mut h = hash;
        if dx != 0 {
            move_axis(&mut h, dx, true);
        }
        if dy != 0 {
            move_axis(&mut h, dy, false);
        }
        h
    };
    [moved(0, 1), moved(0, -1), moved(1, 0), moved(-1, 0), moved(1, 1), moved(-1, 1), moved(1, -1), moved(-1, -1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_redis() {
        // Scores and positions observed from redis-server 7.0.
        assert_eq!(encode_score(13.361389, 38.115556), Some(3479099956230698));
        assert_eq!(encode_score(15.087269, 37.502669), Some(3479447370796909));
        assert_eq!(encode_score(-180.0, 0.0), Some(1125899906842624));
        // 180 overflows the 26 longitude bits, as in Redis.
        assert_eq!(encode_score(180.0, 0.0), Some(10133099161583616));
        assert_eq!(encode_score(0.0, LAT_MAX), Some(6755399441055744));
        assert_eq!(encode_score(180.1, 0.0), None);
        assert_eq!(encode_score(0.0, 85.06), None);
        assert_eq!(encode_score(f64::NAN, 0.0), None);
    }

    #[test]
    fn decodes_to_box_centres() {
        let (lon, lat) = decode_score(3479099956230698.0);
        assert_eq!(format!("{lon:.17}"), "13.36138933897018433");
        assert_eq!(format!("{lat:.17}"), "38.11555639549629859");
        let (lon, lat) = decode_score(10133099161583616.0);
        assert_eq!(lon, 180.0);
        assert_eq!(format!("{lat:.17}"), "0.00000126736058093");
        assert_eq!(decode_score(6755399441055744.0).1, LAT_MAX);
    }

    #[test]
    fn out_of_range_scores_convert_like_x86() {
        assert_eq!(c_double_to_u64(-1.0), u64::MAX);
        assert_eq!(c_double_to_u64(1e30), 0);
        assert_eq!(c_double_to_u64(f64::INFINITY), 0);
        assert_eq!(c_double_to_u64(f64::NEG_INFINITY), 1 << 63);
        assert_eq!(c_double_to_u64(9.3e18), 9_300_000_000_000_000_000);
        assert_eq!(c_double_to_u64(2e19), 0);
        assert_eq!(decode_score(-1.0), (LONG_MAX, LAT_MAX));
        assert_eq!(decode_score(f64::NEG_INFINITY).0, LONG_MAX);
    }

    #[test]
    fn geohash_strings() {
        assert_eq!(&geohash_string(3479099956230698.0), b"sqc8b49rny0");
        assert_eq!(&geohash_string(10133099161583616.0), b"80000000000");
    }

    #[test]
    fn haversine() {
        let (lon1, lat1) = decode_score(3479099956230698.0);
        let (lon2, lat2) = decode_score(3479447370796909.0);
        let d = distance(lon1, lat1, lon2, lat2);
        assert_eq!(format!("{d:.4}"), "166274.1516");
        assert_eq!(distance(1.0, 2.0, 1.0, 2.0), 0.0);
        // Same meridian: the latitude shortcut.
        assert_eq!(format!("{:.4}", distance(0.0, 0.0, 0.0, 1.0)), "111226.3000");
    }

    #[test]
    fn step_estimation() {
        assert_eq!(estimate_steps(0.0, 0.0), 26);
        assert_eq!(estimate_steps(1.0, 0.0), 24);
        assert_eq!(estimate_steps(200_000.0, 0.0), 6);
        assert_eq!(estimate_steps(200_000.0, 70.0), 5);
        assert_eq!(estimate_steps(200_000.0, -81.0), 4);
        assert_eq!(estimate_steps(f64::INFINITY, 0.0), 1);
    }

    #[test]
    fn neighbours_wrap_and_exclusion() {
        let h = encode(WGS84, 0.0, 0.0, 1).unwrap();
        let n = neighbors(h);
        // At step 1 east and west of a box are the same box.
        assert_eq!(n[2], n[3]);
        let s = Search { lon: 15.0, lat: 37.0, shape: Shape::Circle { radius: 200.0 }, to_meters: 1000.0 };
        let ranges = s.score_ranges();
        assert!(!ranges.is_empty() && ranges.len() <= 9);
        assert!(ranges.iter().all(|(a, b)| a < b));
    }
}
