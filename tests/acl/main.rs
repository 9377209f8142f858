//! Authentication and ACL around the fake server's and the proxy's
//! `HARNESS` admin namespace, and the ACL checks the fake makes on keys,
//! channels and AUTH (issue 17, findings 2 to 5). The byte-for-byte
//! comparisons with a real Redis are in fixtures/diff/acl_*.redis; these run
//! without one.

use redis_harness::{FakeRedis, FaultProxy};

#[path = "../common/mod.rs"]
mod common;
use common::RawConn;

const NOAUTH: &[u8] = b"-NOAUTH Authentication required.\r\n";
const NOPERM_HARNESS: &[u8] = b"-NOPERM this user has no permissions to run the 'harness' command\r\n";

/// A fake with `--admin --requirepass secret`, and a user `reader` (`+@read`)
/// and a user `admin` (`+@admin`), both with password `pw`.
fn guarded_fake() -> FakeRedis {
    let server = FakeRedis::builder().admin(true).requirepass("secret").start_blocking();
    let mut c = RawConn::tcp(server.addr());
    assert_eq!(c.call(&["AUTH", "secret"]), b"+OK\r\n");
    assert_eq!(c.call(&["ACL", "SETUSER", "reader", "on", ">pw", "~*", "+@read"]), b"+OK\r\n");
    assert_eq!(c.call(&["ACL", "SETUSER", "admin", "on", ">pw", "~*", "-@all", "+@admin"]), b"+OK\r\n");
    server
}

/// The admin commands that change the server, each refused the same way.
const ATTACKS: &[&[&str]] = &[
    &["HARNESS", "SET-PASSWORD", "pwned"],
    &["HARNESS", "KILL-ALL"],
    &["HARNESS", "FAULT", "ADD", "error OOM cmd=GET"],
    &["HARNESS", "FAULT", "CLEAR"],
    &["HARNESS", "SEED"],
];

/// Nothing an attack would have changed did change: no rule, the password,
/// the bystander's connection.
fn assert_untouched(server: &FakeRedis, bystander: &mut RawConn) {
    assert!(server.fault_rules().is_empty(), "{:?}", server.fault_rules());
    assert_eq!(bystander.call(&["PING"]), b"+PONG\r\n");
    let mut fresh = RawConn::tcp(server.addr());
    assert_eq!(fresh.call(&["AUTH", "secret"]), b"+OK\r\n");
}

#[test]
fn harness_needs_authentication() {
    let server = guarded_fake();
    let mut bystander = RawConn::tcp(server.addr());
    assert_eq!(bystander.call(&["AUTH", "secret"]), b"+OK\r\n");
    let mut c = RawConn::tcp(server.addr());
    for attack in ATTACKS {
        assert_eq!(c.call(attack), NOAUTH, "{attack:?}");
    }
    assert_untouched(&server, &mut bystander);
}

#[test]
fn harness_is_an_admin_command_for_acl() {
    let server = guarded_fake();
    let mut bystander = RawConn::tcp(server.addr());
    assert_eq!(bystander.call(&["AUTH", "secret"]), b"+OK\r\n");
    let mut reader = RawConn::tcp(server.addr());
    assert_eq!(reader.call(&["AUTH", "reader", "pw"]), b"+OK\r\n");
    for attack in ATTACKS {
        assert_eq!(reader.call(attack), NOPERM_HARNESS, "{attack:?}");
    }
    assert_untouched(&server, &mut bystander);
    // ACL DRYRUN agrees, and +@admin (like +@all) grants it.
    let dry = bystander.call(&["ACL", "DRYRUN", "reader", "HARNESS", "SEED"]);
    assert_eq!(dry, b"$57\r\nThis user has no permissions to run the 'harness' command\r\n");
    assert_eq!(bystander.call(&["ACL", "DRYRUN", "admin", "HARNESS", "SEED"]), b"+OK\r\n");
    let mut admin = RawConn::tcp(server.addr());
    assert_eq!(admin.call(&["AUTH", "admin", "pw"]), b"+OK\r\n");
    assert_eq!(admin.call(&["HARNESS", "FAULT", "ADD", "error OOM cmd=GET"]), b":1\r\n");
    assert_eq!(server.fault_rules().len(), 1);
    // -harness takes it away again.
    assert_eq!(bystander.call(&["ACL", "SETUSER", "admin", "-harness"]), b"+OK\r\n");
    assert_eq!(admin.call(&["HARNESS", "FAULT", "CLEAR"]), NOPERM_HARNESS);
    assert_eq!(server.fault_rules().len(), 1);
}

#[test]
fn harness_is_queued_inside_multi() {
    let server = FakeRedis::builder().admin(true).start_blocking();
    let mut c = RawConn::tcp(server.addr());
    assert_eq!(c.call(&["MULTI"]), b"+OK\r\n");
    assert_eq!(c.call(&["HARNESS", "FAULT", "ADD", "error OOM cmd=GET"]), b"+QUEUED\r\n");
    assert!(server.fault_rules().is_empty(), "HARNESS ran before EXEC");
    assert_eq!(c.call(&["HARNESS", "SEED"]), b"+QUEUED\r\n");
    let seed = server.seed().to_string();
    let want = format!("*2\r\n:1\r\n${}\r\n{seed}\r\n", seed.len());
    assert_eq!(c.call(&["EXEC"]), want.as_bytes());
    assert_eq!(server.fault_rules().len(), 1);
    // DISCARD drops a queued HARNESS like any command.
    assert_eq!(c.call(&["MULTI"]), b"+OK\r\n");
    assert_eq!(c.call(&["HARNESS", "FAULT", "CLEAR"]), b"+QUEUED\r\n");
    assert_eq!(c.call(&["DISCARD"]), b"+OK\r\n");
    assert_eq!(server.fault_rules().len(), 1);
}

#[test]
fn harness_through_the_proxy_follows_the_upstreams_verdict() {
    let upstream = guarded_fake();
    let proxy = FaultProxy::builder(upstream.addr()).admin(true).start_blocking();
    let mut bystander = RawConn::tcp(proxy.addr());
    assert_eq!(bystander.call(&["AUTH", "secret"]), b"+OK\r\n");
    let mut anon = RawConn::tcp(proxy.addr());
    assert_eq!(anon.call(&["HARNESS", "KILL-ALL"]), NOAUTH);
    assert_eq!(anon.call(&["HARNESS", "FAULT", "ADD", "error OOM cmd=GET"]), NOAUTH);
    let mut reader = RawConn::tcp(proxy.addr());
    assert_eq!(reader.call(&["AUTH", "reader", "pw"]), b"+OK\r\n");
    assert_eq!(reader.call(&["HARNESS", "KILL-ALL"]), NOPERM_HARNESS);
    assert_eq!(reader.call(&["HARNESS", "FAULT", "ADD", "error OOM cmd=GET"]), NOPERM_HARNESS);
    assert!(proxy.fault_rules().is_empty());
    assert_eq!(bystander.call(&["PING"]), b"+PONG\r\n");
    // An admin may; inside MULTI the command waits for EXEC.
    let mut admin = RawConn::tcp(proxy.addr());
    assert_eq!(admin.call(&["AUTH", "admin", "pw"]), b"+OK\r\n");
    assert_eq!(admin.call(&["HARNESS", "FAULT", "ADD", "error OOM cmd=SET"]), b":1\r\n");
    assert_eq!(bystander.call(&["MULTI"]), b"+OK\r\n");
    assert_eq!(bystander.call(&["PING"]), b"+QUEUED\r\n");
    assert_eq!(bystander.call(&["HARNESS", "FAULT", "CLEAR"]), b"+QUEUED\r\n");
    assert_eq!(proxy.fault_rules().len(), 1, "HARNESS ran before EXEC");
    assert_eq!(bystander.call(&["EXEC"]), b"*2\r\n+PONG\r\n+OK\r\n");
    assert!(proxy.fault_rules().is_empty());
}

#[test]
fn auth_and_hello_are_open_to_every_user() {
    let server = FakeRedis::builder().start_blocking();
    let mut c = RawConn::tcp(server.addr());
    assert_eq!(c.call(&["ACL", "SETUSER", "bare", "on", ">pw", "-@all"]), b"+OK\r\n");
    assert_eq!(c.call(&["AUTH", "bare", "pw"]), b"+OK\r\n");
    assert_eq!(c.call(&["AUTH", "bare", "pw"]), b"+OK\r\n");
    assert_eq!(
        c.call(&["AUTH", "bare", "wrong"]),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    let hello = c.call(&["HELLO", "2", "AUTH", "bare", "pw"]);
    assert!(hello.starts_with(b"*14\r\n"), "{}", String::from_utf8_lossy(&hello));
    assert_eq!(c.call(&["PING"]), b"-NOPERM this user has no permissions to run the 'ping' command\r\n");
}

#[test]
fn key_permissions_follow_each_keys_access() {
    let server = FakeRedis::builder().start_blocking();
    let mut c = RawConn::tcp(server.addr());
    for cmd in [&["SET", "wo:s", "secret"][..], &["SET", "ro:s", "v"], &["RPUSH", "wo:l", "secret"]] {
        c.call(cmd);
    }
    assert_eq!(c.call(&["ACL", "SETUSER", "sel", "on", ">pw", "+@all", "%R~ro:*", "%W~wo:*"]), b"+OK\r\n");
    let mut u = RawConn::tcp(server.addr());
    assert_eq!(u.call(&["AUTH", "sel", "pw"]), b"+OK\r\n");
    let denied: &[u8] = b"-NOPERM this user has no permissions to access one of the keys used as arguments\r\n";
    let leaks: &[&[&str]] = &[
        &["GET", "wo:s"],
        &["GETDEL", "wo:s"],
        &["GETSET", "wo:s", "x"],
        &["SET", "wo:s", "x", "GET"],
        &["GETEX", "wo:s"],
        &["INCR", "wo:s"],
        &["LPOP", "wo:l"],
        &["SET", "ro:s", "x"],
    ];
    for cmd in leaks {
        assert_eq!(u.call(cmd), denied, "{cmd:?}");
    }
    assert_eq!(u.call(&["SET", "wo:s", "y"]), b"+OK\r\n");
    assert_eq!(u.call(&["EXISTS", "wo:s"]), b":1\r\n");
    assert_eq!(u.call(&["COPY", "ro:s", "wo:c"]), b":1\r\n");
    assert_eq!(u.call(&["COPY", "wo:s", "ro:c"]), denied);
    assert_eq!(
        c.call(&["ACL", "DRYRUN", "sel", "GETDEL", "wo:s"]),
        b"$53\r\nThis user has no permissions to access the 'wo:s' key\r\n"
    );
    assert_eq!(c.call(&["ACL", "DRYRUN", "sel", "COPY", "ro:s", "wo:c"]), b"+OK\r\n");
    assert_eq!(c.call(&["LRANGE", "wo:l", "0", "-1"]), b"*1\r\n$6\r\nsecret\r\n");
}

#[test]
fn channel_permissions_are_enforced_and_narrowing_them_disconnects() {
    let server = FakeRedis::builder().start_blocking();
    let mut c = RawConn::tcp(server.addr());
    assert_eq!(c.call(&["ACL", "SETUSER", "ch", "on", ">pw", "+@all", "resetchannels", "&allowed:*"]), b"+OK\r\n");
    let mut u = RawConn::tcp(server.addr());
    assert_eq!(u.call(&["AUTH", "ch", "pw"]), b"+OK\r\n");
    let denied: &[u8] = b"-NOPERM this user has no permissions to access one of the channels used as arguments\r\n";
    for cmd in [
        &["PUBLISH", "other", "m"][..],
        &["SPUBLISH", "other", "m"],
        &["SUBSCRIBE", "allowed:a", "other"],
        &["SSUBSCRIBE", "other"],
        &["PSUBSCRIBE", "*"],
        &["PSUBSCRIBE", "allowed:a"],
    ] {
        assert_eq!(u.call(cmd), denied, "{cmd:?}");
    }
    assert_eq!(u.call(&["PUBLISH", "allowed:x", "m"]), b":0\r\n");
    let dry = c.call(&["ACL", "DRYRUN", "ch", "PSUBSCRIBE", "allowed:a"]);
    assert_eq!(dry, b"$62\r\nThis user has no permissions to access the 'allowed:a' channel\r\n");
    assert_eq!(c.call(&["ACL", "DRYRUN", "ch", "PSUBSCRIBE", "allowed:*"]), b"+OK\r\n");
    // A subscriber whose subscription the new rules no longer allow is disconnected.
    let mut sub = RawConn::tcp(server.addr());
    assert_eq!(sub.call(&["AUTH", "ch", "pw"]), b"+OK\r\n");
    assert_eq!(sub.call(&["SUBSCRIBE", "allowed:a"]), b"*3\r\n$9\r\nsubscribe\r\n$9\r\nallowed:a\r\n:1\r\n");
    assert_eq!(c.call(&["ACL", "SETUSER", "ch", "&more"]), b"+OK\r\n");
    assert_eq!(c.call(&["PUBLISH", "allowed:a", "still"]), b":1\r\n");
    assert!(sub.read_reply().is_some_and(|m| m.ends_with(b"still\r\n")));
    assert_eq!(c.call(&["ACL", "SETUSER", "ch", "resetchannels", "&more"]), b"+OK\r\n");
    assert_eq!(sub.read_reply(), None);
    assert_eq!(u.call(&["PING"]), b"+PONG\r\n");
}
