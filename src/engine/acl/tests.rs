//! Unit tests of the ACL model: rules, permissions, passwords.

use super::*;

#[test]
pub(crate) fn sha256_known_vectors() {
    assert_eq!(sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_eq!(sha256_hex(b"pw"), "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4");
    assert_eq!(sha256_hex(&[b'a'; 100]), "2816597888e4a0d3a36b82b83316ab32680eb8f00f8cd3b904d681246d285a0e");
}

#[test]
pub(crate) fn rules_describe_like_redis() {
    let mut u = User::new();
    for op in ["on", ">pw", "~k*", "+@all", "-get"] {
        u.apply(op).unwrap();
    }
    assert!(u.describe("bob").starts_with("user bob on #30c952fab122c3f9"));
    assert!(u.describe("bob").ends_with("~k* resetchannels +@all -get"));
    assert!(!u.may_run("get", None));
    assert!(u.may_run("set", None));
    u.apply("+get|x").unwrap();
    assert!(u.may_run("get", Some("x")));
    let mut t = User::new();
    for op in ["-@all", "-get", "+@hash"] {
        t.apply(op).unwrap();
    }
    assert_eq!(t.commands_text(), "-@all +@hash");
    let read = KeyAccess { pos: 1, read: true, write: false };
    assert!(u.may_access(b"kx", read));
    assert!(!u.may_access(b"x", read));
}
