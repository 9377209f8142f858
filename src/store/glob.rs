//! Redis glob matching (`stringmatchlen`): `*`, `?`, `[abc]`, `[^a-z]`, `\x`.
//!
//! The same answers as Redis 7.0 for every pattern and subject, at bounded
//! cost. A naive backtracking matcher is exponential in the number of `*`s
//! (`a*a*a*...*b` against `aaaa...` took the whole server down); this one
//! stops as Redis does:
//!
//! - once the rest of the pattern after a `*` has failed to match at every
//!   remaining position of the subject, no enclosing `*` can do better by
//!   consuming more, so the whole match fails at once (Redis's
//!   "skip longer matches" rule); each `*` then scans the subject at most
//!   once per enclosing attempt that can still succeed, which bounds the
//!   work by pattern length × subject length;
//! - `*`s nested more than 1000 deep fail the match, as Redis's nesting limit
//!   does, so the recursion depth is bounded too.
//!
//! Bytes are read as Redis reads its NUL-terminated strings: a position past
//! the end reads as 0 (a class or literal compared against the end of the
//! subject, `[` at the very end of the pattern).

/// Redis's limit on nested `*` recursion: deeper patterns do not match.
const MAX_NESTING: usize = 1000;

/// Whether `s` matches the Redis glob `pattern`, optionally ignoring ASCII case.
pub(crate) fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    let mut give_up = false;
    matches(pattern, s, nocase, &mut give_up, 0)
}

/// The byte at `i`, or 0 past the end (the NUL terminator a C string has there).
fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

fn fold(c: u8, nocase: bool) -> u8 {
    if nocase {
        c.to_ascii_lowercase()
    } else {
        c
    }
}

/// One matching attempt of `p` against `s`. `give_up` is set once a `*` has
/// found no match for the rest of the pattern anywhere in the rest of the
/// subject: every enclosing `*` then fails without trying longer matches.
fn matches(p: &[u8], s: &[u8], nocase: bool, give_up: &mut bool, nesting: usize) -> bool {
    if nesting > MAX_NESTING {
        return false;
    }
    let (mut pi, mut si) = (0usize, 0usize);
    while pi < p.len() && si < s.len() {
        match p[pi] {
            b'*' => {
                while pi + 1 < p.len() && p[pi + 1] == b'*' {
                    pi += 1;
                }
                if pi + 1 == p.len() {
                    return true;
                }
                while si < s.len() {
                    if matches(&p[pi + 1..], &s[si..], nocase, give_up, nesting + 1) {
                        return true;
                    }
                    if *give_up {
                        return false;
                    }
                    si += 1;
                }
                *give_up = true;
                return false;
            }
            b'?' => si += 1,
            b'[' => {
                pi += 1;
                let negate = at(p, pi) == b'^';
                if negate {
                    pi += 1;
                }
                let c = s[si];
                let mut hit = false;
                loop {
                    let rest = p.len().saturating_sub(pi);
                    if at(p, pi) == b'\\' && rest >= 2 {
                        pi += 1;
                        if p[pi] == c {
                            hit = true;
                        }
                    } else if at(p, pi) == b']' && rest >= 1 {
                        break;
                    } else if rest == 0 {
                        // No closing ']': the class ends with the pattern.
                        pi -= 1;
                        break;
                    } else if rest >= 3 && p[pi + 1] == b'-' {
                        let (mut lo, mut hi) = (p[pi], p[pi + 2]);
                        if lo > hi {
                            std::mem::swap(&mut lo, &mut hi);
                        }
                        let (lo, hi, ch) = (fold(lo, nocase), fold(hi, nocase), fold(c, nocase));
                        pi += 2;
                        if ch >= lo && ch <= hi {
                            hit = true;
                        }
                    } else if fold(p[pi], nocase) == fold(c, nocase) {
                        hit = true;
                    }
                    pi += 1;
                }
                if hit == negate {
                    return false;
                }
                si += 1;
            }
            b => {
                let lit = if b == b'\\' && pi + 1 < p.len() {
                    pi += 1;
                    p[pi]
                } else {
                    b
                };
                if fold(lit, nocase) != fold(s[si], nocase) {
                    return false;
                }
                si += 1;
            }
        }
        pi += 1;
        if si == s.len() {
            while pi < p.len() && p[pi] == b'*' {
                pi += 1;
            }
            break;
        }
    }
    pi >= p.len() && si == s.len()
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), false)
    }

    /// The exponential matcher this replaces, kept as an oracle on small inputs.
    fn naive(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, _) => s.is_empty(),
            (Some(b'*'), _) => naive(&p[1..], s) || (!s.is_empty() && naive(p, &s[1..])),
            (Some(_), None) => false,
            (Some(b'?'), Some(_)) => naive(&p[1..], &s[1..]),
            (Some(&c), Some(&d)) => c == d && naive(&p[1..], &s[1..]),
        }
    }

    #[test]
    fn redis_glob_cases() {
        assert!(m("*", "anything"));
        assert!(m("h?llo", "hello"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"));
        assert!(m("h\\*llo", "h*llo"));
        assert!(!m("h\\*llo", "hello"));
        assert!(m("user:*", "user:1"));
        assert!(!m("user:*", "use"));
        assert!(m("a*", "a"));
        assert!(m("a**", "a"));
        assert!(!m("", "a"));
        assert!(m("", ""));
        assert!(glob_match(b"HE*", b"hello", true));
        assert!(glob_match(b"h[A-Z]llo", b"hello", true));
        // An unclosed class ends with the pattern.
        assert!(m("a[bc", "ab"));
        assert!(!m("a[bc", "ad"));
        // A trailing backslash is a literal backslash.
        assert!(m("a\\", "a\\"));
        // Redis's loop needs a subject byte: a lone '*' does not match "",
        // which is why KEYS and SCAN treat "*" as "everything" themselves.
        assert!(!m("*", ""));
        assert!(!m("?", ""));
    }

    #[test]
    fn abusive_patterns_finish_at_once() {
        let key = "a".repeat(40);
        let pattern = format!("{}b", "a*".repeat(20));
        assert!(!m(&pattern, &key));
        let pattern = format!("{}a", "a*".repeat(20));
        assert!(m(&pattern, &key));
        // CONFIG GET's case from the report: "*?" ten times, then '#'.
        let pattern = format!("{}#", "*?".repeat(10));
        assert!(!glob_match(pattern.as_bytes(), b"client-output-buffer-limit", true));
        let big = "a".repeat(100_000);
        let pattern = format!("{}b", "*a".repeat(500));
        assert!(!m(&pattern, &big));
    }

    #[test]
    fn nesting_beyond_the_limit_does_not_match() {
        let s = "a".repeat(1200);
        let within = "*a".repeat(900);
        assert!(m(&within, &s));
        let beyond = "*a".repeat(1100);
        assert!(!m(&beyond, &s));
    }

    #[test]
    fn agrees_with_backtracking_on_small_inputs() {
        // Every pattern over {a, b, *, ?} up to 6 bytes against every subject
        // over {a, b} up to 6 bytes: the early exit never changes an answer.
        fn all(alphabet: &[u8], max: usize) -> Vec<Vec<u8>> {
            let mut out = vec![vec![]];
            let mut layer = vec![vec![]];
            for _ in 0..max {
                let mut next = Vec::new();
                for w in &layer {
                    for &c in alphabet {
                        let mut v: Vec<u8> = w.clone();
                        v.push(c);
                        next.push(v);
                    }
                }
                out.extend(next.iter().cloned());
                layer = next;
            }
            out
        }
        let patterns = all(b"ab*?", 6);
        let subjects = all(b"ab", 6);
        for p in &patterns {
            for s in subjects.iter().filter(|s| !s.is_empty()) {
                assert_eq!(
                    glob_match(p, s, false),
                    naive(p, s),
                    "pattern {:?} subject {:?}",
                    String::from_utf8_lossy(p),
                    String::from_utf8_lossy(s)
                );
            }
        }
    }
}
