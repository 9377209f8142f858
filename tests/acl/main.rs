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

/// ACL LOG's entries (RESP2), each as its field/value pairs in order.
fn acl_log(c: &mut RawConn, args: &[&str]) -> Vec<Vec<(String, String)>> {
    use redis_protocol::resp3::types::OwnedFrame as F;
    let text = |f: &F| match f {
        F::BlobString { data, .. } => String::from_utf8_lossy(data).into_owned(),
        F::Number { data, .. } => format!(":{data}"),
        other => panic!("unexpected {other:?}"),
    };
    let F::Array { data, .. } = common::decode(&c.call(args), 2) else { panic!("ACL LOG is an array") };
    data.iter()
        .map(|e| {
            let F::Array { data, .. } = e else { panic!("an entry is an array") };
            data.chunks(2).map(|p| (text(&p[0]), text(&p[1]))).collect()
        })
        .collect()
}

/// The CLIENT INFO line of `c` (no newline) as it stood when its last
/// command was `cmd`: `age=` and `idle=` (wall-clock seconds) are dropped.
fn client_info_after(c: &mut RawConn, cmd: &str) -> String {
    let raw = c.call(&["CLIENT", "INFO"]);
    let text = String::from_utf8_lossy(&raw);
    let line = text.split_once("\r\n").map(|(_, rest)| rest).unwrap_or_default();
    let line = line.trim_end_matches("\r\n").trim_end_matches('\n');
    without_ages(&line.replace("cmd=client|info", &format!("cmd={cmd}")))
}

fn without_ages(info: &str) -> String {
    info.split(' ').filter(|f| !f.starts_with("age=") && !f.starts_with("idle=")).collect::<Vec<_>>().join(" ")
}

/// Checks one entry's fields, in Redis 7.0's order; the client info is
/// compared without its wall-clock `age=` and `idle=`.
#[track_caller]
fn assert_entry(e: &[(String, String)], want: [&str; 6], info: &str) {
    let names: Vec<&str> = e.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["count", "reason", "context", "object", "username", "age-seconds", "client-info"]);
    let values: Vec<&str> = e[..6].iter().map(|(_, v)| v.as_str()).collect();
    assert_eq!(values, want);
    assert_eq!(without_ages(&e[6].1), info);
}

#[test]
fn acl_log_records_auth_failures_and_groups_them_like_redis() {
    let server = FakeRedis::builder().paused_clock().start_blocking();
    let mut admin = RawConn::tcp(server.addr());
    assert_eq!(admin.call(&["ACL", "SETUSER", "alice", "on", ">pw", "~k*", "+get", "+multi", "+exec"]), b"+OK\r\n");
    let mut a = RawConn::tcp(server.addr());
    let wrongpass = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n";
    assert_eq!(a.call(&["auth", "alice", "wrong"]), wrongpass);
    let info = client_info_after(&mut a, "auth");
    server.advance_time(std::time::Duration::from_millis(1500));
    let log = acl_log(&mut admin, &["ACL", "LOG"]);
    assert_eq!(log.len(), 1);
    assert_entry(&log[0], [":1", "auth", "toplevel", "auth", "alice", "1.5"], &info);

    // The same failure within 60 s (60 000 ms exactly included) is one entry:
    // its count grows, its age restarts.
    assert_eq!(a.call(&["auth", "alice", "wrong"]), wrongpass);
    server.advance_time(std::time::Duration::from_millis(60_000));
    assert_eq!(a.call(&["auth", "alice", "wrong"]), wrongpass);
    let log = acl_log(&mut admin, &["ACL", "LOG"]);
    assert_eq!(log.len(), 1);
    assert_entry(&log[0], [":3", "auth", "toplevel", "auth", "alice", "0"], &info);
    // A millisecond later than that it is a new one, first.
    server.advance_time(std::time::Duration::from_millis(60_001));
    assert_eq!(a.call(&["auth", "alice", "wrong"]), wrongpass);
    // Another user, and HELLO, are other entries.
    assert_eq!(a.call(&["HELLO", "2", "AUTH", "nobody", "pw"]), wrongpass);
    let hello_info = client_info_after(&mut a, "hello");
    server.advance_time(std::time::Duration::from_millis(250));
    let log = acl_log(&mut admin, &["ACL", "LOG"]);
    assert_eq!(log.len(), 3);
    assert_entry(&log[0], [":1", "auth", "toplevel", "HELLO", "nobody", "0.25"], &hello_info);
    assert_entry(&log[1], [":1", "auth", "toplevel", "auth", "alice", "0.25"], &info);
    assert_entry(&log[2], [":3", "auth", "toplevel", "auth", "alice", "60.250999999999998"], &info);
    assert_eq!(acl_log(&mut admin, &["ACL", "LOG", "2"]).len(), 2);
    assert_eq!(acl_log(&mut admin, &["ACL", "LOG", "-1"]).len(), 0);
    assert_eq!(admin.call(&["ACL", "LOG", "x"]), b"-ERR value is not an integer or out of range\r\n");
    assert_eq!(admin.call(&["ACL", "LOG", "RESET"]), b"+OK\r\n");
    assert_eq!(admin.call(&["ACL", "LOG"]), b"*0\r\n");
}

#[test]
fn acl_log_records_refused_commands_keys_and_channels() {
    let server = FakeRedis::builder().paused_clock().start_blocking();
    let mut admin = RawConn::tcp(server.addr());
    let rules = ["SETUSER", "alice", "on", ">pw", "~k*", "&ch*", "+get", "+publish", "+multi", "+exec", "+client|info"];
    assert_eq!(admin.call(&[&["ACL"][..], &rules[..]].concat()), b"+OK\r\n");
    let mut a = RawConn::tcp(server.addr());
    assert_eq!(a.call(&["AUTH", "alice", "pw"]), b"+OK\r\n");
    assert_eq!(a.call(&["GET", "other"])[..7], b"-NOPERM"[..]);
    let get_info = client_info_after(&mut a, "get");
    assert_eq!(a.call(&["DEL", "k1"])[..7], b"-NOPERM"[..]);
    let del_info = client_info_after(&mut a, "del");
    assert_eq!(a.call(&["PUBLISH", "news", "x"])[..7], b"-NOPERM"[..]);
    let publish_info = client_info_after(&mut a, "publish");
    assert_eq!(a.call(&["MULTI"]), b"+OK\r\n");
    assert_eq!(a.call(&["GET", "other"])[..7], b"-NOPERM"[..]);
    // CLIENT INFO would be queued now: the line is the one before MULTI, in a transaction.
    let multi_info = get_info.replace(" flags=N ", " flags=x ").replace(" multi=-1 ", " multi=0 ");
    let log = acl_log(&mut admin, &["ACL", "LOG"]);
    assert_eq!(log.len(), 4);
    assert_entry(&log[0], [":1", "key", "multi", "other", "alice", "0"], &multi_info);
    assert_entry(&log[1], [":1", "channel", "toplevel", "news", "alice", "0"], &publish_info);
    assert_entry(&log[2], [":1", "command", "toplevel", "del", "alice", "0"], &del_info);
    assert_entry(&log[3], [":1", "key", "toplevel", "other", "alice", "0"], &get_info);
    // At most acllog-max-len entries: the oldest go.
    assert_eq!(admin.call(&["CONFIG", "SET", "acllog-max-len", "2"]), b"+OK\r\n");
    assert_eq!(a.call(&["EXEC"])[..10], b"-EXECABORT"[..]);
    assert_eq!(a.call(&["GET", "other2"])[..7], b"-NOPERM"[..]);
    let log = acl_log(&mut admin, &["ACL", "LOG"]);
    assert_eq!(log.len(), 2);
    assert_eq!(log[0][3].1, "other2");
    assert_eq!(log[1][3].1, "other");
}

/// `FakeRedis::set_password` and `HARNESS SET-PASSWORD` are CONFIG SET
/// requirepass: they reset the default user's passwords to exactly the new
/// one even after ACL SETUSER changed that user.
#[test]
fn set_password_after_acl_setuser_default() {
    let server = FakeRedis::builder().admin(true).start_blocking();
    let mut c = RawConn::tcp(server.addr());
    assert_eq!(c.call(&["ACL", "SETUSER", "default", "resetpass", ">old", "~*"]), b"+OK\r\n");
    server.set_password("new");
    let wrongpass = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n";
    let mut fresh = RawConn::tcp(server.addr());
    assert_eq!(fresh.call(&["AUTH", "old"]), wrongpass);
    assert_eq!(fresh.call(&["AUTH", "new"]), b"+OK\r\n");
    let list = String::from_utf8(c.call(&["ACL", "LIST"])).unwrap();
    let new_hash = "#11507a0e2f5e69d5dfa40a62a1bd7b6ee57e6bcd85c67c9b8431b36fff21c437";
    assert!(list.contains(&format!("user default on {new_hash} ~* &* +@all")), "{list}");
    assert_eq!(c.call(&["HARNESS", "SET-PASSWORD", "newer"]), b"+OK\r\n");
    let mut fresh = RawConn::tcp(server.addr());
    assert_eq!(fresh.call(&["AUTH", "new"]), wrongpass);
    assert_eq!(fresh.call(&["AUTH", "newer"]), b"+OK\r\n");
    // Empty: nopass, and AUTH <password> says none is configured.
    server.set_password("");
    let mut fresh = RawConn::tcp(server.addr());
    assert_eq!(fresh.call(&["PING"]), b"+PONG\r\n");
    assert!(String::from_utf8(c.call(&["ACL", "LIST"])).unwrap().contains("user default on nopass ~* &* +@all"));
    assert_eq!(fresh.call(&["AUTH", "x"])[..31], b"-ERR AUTH <password> called wit"[..]);
}

/// INFO's total_net_input_bytes / total_net_output_bytes count the bytes
/// read from and written to client sockets, as Redis 7.0.15 does for the
/// same exchange (checked against it: 39 and 7, then 64 and 7 plus the
/// first INFO reply): the command being answered is counted, its reply not yet.
#[test]
fn info_counts_network_bytes() {
    let server = FakeRedis::builder().start_blocking();
    let mut c = RawConn::tcp(server.addr());
    let field = |reply: &[u8], name: &str| -> u64 {
        let text = String::from_utf8_lossy(reply);
        let line = text.lines().find_map(|l| l.strip_prefix(&format!("{name}:")).map(str::to_string));
        line.unwrap_or_else(|| panic!("no {name}")).trim().parse().unwrap()
    };
    assert_eq!(c.call(&["PING"]), b"+PONG\r\n");
    let first = c.call(&["INFO", "stats"]);
    assert_eq!(field(&first, "total_net_input_bytes"), 14 + 25);
    assert_eq!(field(&first, "total_net_output_bytes"), 7);
    let second = c.call(&["INFO", "stats"]);
    assert_eq!(field(&second, "total_net_input_bytes"), 14 + 25 + 25);
    assert_eq!(field(&second, "total_net_output_bytes"), 7 + first.len() as u64);
    // Another connection's traffic counts too, and CONFIG RESETSTAT zeroes both.
    let mut other = RawConn::tcp(server.addr());
    assert_eq!(other.call(&["PING"]), b"+PONG\r\n");
    let third = c.call(&["INFO", "stats"]);
    assert_eq!(field(&third, "total_net_input_bytes"), 14 + 25 + 25 + 14 + 25);
    assert_eq!(field(&third, "total_net_output_bytes"), 7 + first.len() as u64 + second.len() as u64 + 7);
    assert_eq!(c.call(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
    let fourth = c.call(&["INFO", "stats"]);
    assert_eq!(field(&fourth, "total_net_input_bytes"), 25);
    assert_eq!(field(&fourth, "total_net_output_bytes"), 5);
}
