//! The count rules SRANDMEMBER, HRANDFIELD and ZRANDMEMBER share, and the
//! index picks behind them (SPOP with a count too).

use super::util::int_arg;
use crate::protocol::Reply;

/// Most elements a random-pick reply with a negative count may hold. Redis
/// streams any count; the fake builds the reply in memory, so a client
/// asking for billions gets an error instead of exhausting memory.
pub(crate) const MAX_RANDOM_REPLY: u64 = 1 << 22;

/// The error for counts beyond [`MAX_RANDOM_REPLY`].
pub(crate) fn count_too_large() -> Reply {
    Reply::error(format!("ERR count is too large for the fake server (at most {MAX_RANDOM_REPLY} elements)"))
}

/// Parses a random-pick count the way Redis's getRangeLongFromObjectOrReply
/// does with the range [-LONG_MAX, LONG_MAX].
pub(crate) fn parse_count(arg: &[u8]) -> Result<i64, Reply> {
    let n = int_arg(arg)?;
    if n == i64::MIN {
        return Err(Reply::error(format!(
            "ERR value is out of range, value must between {} and {}",
            -i64::MAX,
            i64::MAX
        )));
    }
    Ok(n)
}

/// WITHVALUES/WITHSCORES double the reply, so Redis refuses a count whose
/// double would overflow.
pub(crate) fn check_paired_count(count: i64) -> Result<(), Reply> {
    if (-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        Ok(())
    } else {
        Err(Reply::error("ERR value is out of range"))
    }
}

/// Which elements of a collection of `len` a count picks.
pub(crate) enum Picks {
    /// A negative count (or 1): this many independent picks, repeats allowed.
    Repeated(Vec<usize>),
    /// A count at least the size: every element.
    All,
    /// A smaller positive count: this many distinct elements.
    Distinct(usize),
}

/// Redis's cases of a random-pick count (`count != 0`, `len > 0`).
pub(crate) fn plan(rng: &mut fastrand::Rng, len: usize, count: i64) -> Result<Picks, Reply> {
    if count < 0 || count == 1 {
        let n = count.unsigned_abs();
        if n > MAX_RANDOM_REPLY {
            return Err(count_too_large());
        }
        return Ok(Picks::Repeated((0..n).map(|_| rng.usize(0..len)).collect()));
    }
    if count as u64 >= len as u64 {
        Ok(Picks::All)
    } else {
        Ok(Picks::Distinct(count as usize))
    }
}

/// `k` distinct indexes of `0..n` in random order (`k <= n`): the first
/// steps of a Fisher-Yates shuffle.
pub(crate) fn distinct(rng: &mut fastrand::Rng, n: usize, k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    let k = k.min(n);
    for i in 0..k {
        let j = rng.usize(i..n);
        idx.swap(i, j);
    }
    idx.truncate(k);
    idx
}

/// Picks `k` distinct indexes of `0..n` in ascending order (selection
/// sampling), as Redis's listpack random-pairs-unique returns them.
pub(crate) fn sample_sorted(rng: &mut fastrand::Rng, n: usize, k: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(k.min(n));
    let mut needed = k.min(n);
    for i in 0..n {
        if needed == 0 {
            break;
        }
        if rng.usize(0..n - i) < needed {
            out.push(i);
            needed -= 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_redis_cases() {
        let mut rng = fastrand::Rng::with_seed(7);
        assert!(matches!(plan(&mut rng, 5, -3), Ok(Picks::Repeated(v)) if v.len() == 3 && v.iter().all(|&i| i < 5)));
        assert!(matches!(plan(&mut rng, 5, 1), Ok(Picks::Repeated(v)) if v.len() == 1));
        assert!(matches!(plan(&mut rng, 5, 5), Ok(Picks::All)));
        assert!(matches!(plan(&mut rng, 5, 3), Ok(Picks::Distinct(3))));
        assert!(plan(&mut rng, 5, -(MAX_RANDOM_REPLY as i64) - 1).is_err());
        let mut d = distinct(&mut rng, 10, 4);
        d.sort_unstable();
        d.dedup();
        assert_eq!(d.len(), 4);
        let s = sample_sorted(&mut rng, 10, 4);
        assert_eq!(s.len(), 4);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        assert!(parse_count(b"-9223372036854775808").is_err());
        assert!(check_paired_count(i64::MAX / 2 + 1).is_err());
    }
}
