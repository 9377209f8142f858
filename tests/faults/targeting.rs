//! Targeting by what a user means: ACL categories, globs, command families,
//! the warning for a rule that never fired, and the fake's report of the
//! commands it does not implement.

use std::sync::{Mutex, OnceLock};

use redis::AsyncCommands;
use redis_harness::fault::FaultRule;
use redis_harness::{FakeRedis, Reply};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

use super::connect;

/// Every `tracing` event of the test binary, as `LEVEL message field=value...`.
static EVENTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// A subscriber that keeps every event (global: the fake logs from its own thread).
struct Capture;

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.push_str(&format!(" {value:?}"));
        } else {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut line = Line(event.metadata().level().to_string());
        event.record(&mut line);
        EVENTS.lock().unwrap().push(line.0);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// The events logged so far that contain `needle`.
fn logged(needle: &str) -> Vec<String> {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| tracing::subscriber::set_global_default(Capture).expect("no other global subscriber"));
    EVENTS.lock().unwrap().iter().filter(|l| l.contains(needle)).cloned().collect()
}

fn install_capture() {
    logged("");
}

#[tokio::test]
async fn a_category_targets_every_command_in_it() {
    let server = FakeRedis::start().await;
    let writes = server.fault(FaultRule::error("READONLY injected").on(["@write"]));
    let mut con = connect(&server, None).await;
    let e = con.set_ex::<_, _, ()>("k", "v", 60).await.unwrap_err();
    assert_eq!(e.code(), Some("READONLY"), "SETEX is @write");
    let e = con.hset::<_, _, _, ()>("h", "f", "v").await.unwrap_err();
    assert_eq!(e.code(), Some("READONLY"), "HSET is @write");
    assert_eq!(con.get::<_, Option<String>>("k").await.unwrap(), None, "GET is not @write");
    assert_eq!(writes.hits(), 2);
    drop(writes);

    let blocking = server.fault(FaultRule::error("ERR blocked").on(["@blocking"]));
    let e = con.blpop::<_, ()>("l", 0.01).await.unwrap_err();
    assert_eq!(e.code(), Some("ERR"));
    assert_eq!(con.lpop::<_, Option<String>>("l", None).await.unwrap(), None, "LPOP does not block");
    assert_eq!(blocking.hits(), 1);
}

#[tokio::test]
async fn a_subcommand_is_judged_by_its_own_categories() {
    let server = FakeRedis::start().await;
    let dangerous = server.fault(FaultRule::error("ERR no").on(["@dangerous"]));
    let mut con = connect(&server, None).await;
    let id: i64 = redis::cmd("CLIENT").arg("ID").query_async(&mut con).await.unwrap();
    assert!(id > 0, "CLIENT ID is not @dangerous");
    let e = redis::cmd("CLIENT").arg("KILL").arg("ID").arg(id + 1000).query_async::<()>(&mut con).await.unwrap_err();
    assert_eq!(e.code(), Some("ERR"));
    assert_eq!(dangerous.hits(), 1, "CLIENT KILL is @dangerous");
}

#[tokio::test]
async fn a_family_targets_the_variants_clients_send() {
    let server = FakeRedis::start().await;
    let family = server.fault(FaultRule::error("ERR set family").on_family("SET").expect(4));
    let mut con = connect(&server, None).await;
    for r in [
        con.set::<_, _, ()>("a", "1").await,
        con.set_ex::<_, _, ()>("b", "1", 60).await,
        con.set_nx::<_, _, ()>("c", "1").await,
        con.mset::<_, _, ()>(&[("d", "1"), ("e", "2")]).await,
    ] {
        assert_eq!(r.unwrap_err().code(), Some("ERR"));
    }
    let _: () = con.hset("h", "f", "v").await.unwrap();
    let _: () = con.append("a", "x").await.unwrap();
    drop(family); // fired exactly four times: no panic
}

#[tokio::test]
async fn a_glob_targets_names_that_match_it() {
    let server = FakeRedis::start().await;
    let glob = server.fault(FaultRule::error("ERR h").on(["H*"]));
    let mut con = connect(&server, None).await;
    assert!(con.hset::<_, _, _, ()>("h", "f", "v").await.is_err());
    assert!(con.hget::<_, _, Option<String>>("h", "f").await.is_err());
    let _: () = con.set("k", "v").await.unwrap();
    assert_eq!(glob.hits(), 2);
}

#[tokio::test]
async fn the_rule_text_takes_categories_globs_and_families() {
    let server = FakeRedis::start().await;
    let rule: FaultRule = "error READONLY cmd=@write".parse().unwrap();
    let writes = server.fault(rule);
    let family = server.fault("error LOADING family=GET".parse::<FaultRule>().unwrap());
    let mut con = connect(&server, None).await;
    assert_eq!(con.set_ex::<_, _, ()>("k", "v", 60).await.unwrap_err().code(), Some("READONLY"));
    assert_eq!(con.mget::<_, Vec<Option<String>>>(&["a", "b"]).await.unwrap_err().code(), Some("LOADING"));
    assert_eq!((writes.hits(), family.hits()), (1, 1));
    let e = "latency 200ms cmd=@wirte".parse::<FaultRule>().unwrap_err();
    assert!(e.to_string().contains("`@wirte` is not a Redis ACL category"), "{e}");
}

#[test]
#[should_panic(expected = "FaultRule::on: `@wirte` is not a Redis ACL category")]
fn a_misspelt_category_panics_in_the_builder() {
    let _ = FaultRule::close().on(["@wirte"]);
}

#[tokio::test]
async fn a_rule_that_never_fired_is_reported_when_its_guard_drops() {
    install_capture();
    let server = FakeRedis::start().await;
    let exact = server.fault(FaultRule::error("ERR never-fired-exact").on(["SET"]));
    let mut con = connect(&server, None).await;
    let _: () = con.set_ex("k", "v", 60).await.unwrap();
    assert_eq!(exact.hits(), 0, "cmd=SET does not match the SETEX redis-rs sends");
    drop(exact);
    let warned = logged("ERR never-fired-exact");
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].starts_with("WARN"), "{warned:?}");
    assert!(
        warned[0].contains("never fired; the server received SETEX (not SET): target them with family=SET"),
        "{warned:?}"
    );

    // A rule that fired, or whose expectation allows zero firings, is not reported.
    let fired = server.fault(FaultRule::error("ERR fired-once").on(["GET"]));
    assert!(con.get::<_, Option<String>>("k").await.is_err());
    drop(fired);
    drop(server.fault(FaultRule::error("ERR allowed-zero").on(["GET"]).expect(0..)));
    assert!(logged("ERR fired-once").is_empty() && logged("ERR allowed-zero").is_empty());

    // A kept rule is reported when the server drops.
    server.fault(FaultRule::error("ERR kept-never").on(["PING"])).keep();
    drop(con);
    drop(server);
    assert_eq!(logged("ERR kept-never").len(), 1);
}

#[test]
fn unsupported_commands_are_listed_and_logged_once_per_name() {
    install_capture();
    let server = FakeRedis::builder().start_blocking();
    let mut con = super::raw(&server);
    for _ in 0..3 {
        super::send(&mut con, &["WAIT", "1", "0"]);
        let (reply, _) = super::common::read_exact_counting(
            &mut con,
            b"-ERR unknown command 'WAIT', with args beginning with: '1' '0' \r\n".len(),
        );
        assert_eq!(
            reply, b"-ERR unknown command 'WAIT', with args beginning with: '1' '0' \r\n",
            "the reply is Redis's"
        );
    }
    assert_eq!(
        server.run(["CLIENT", "TRACKING", "on"]),
        Reply::error("ERR unknown subcommand 'TRACKING'. Try CLIENT HELP.")
    );
    server.run(["NOTACOMMAND"]);
    assert_eq!(server.run(["GET", "k"]), Reply::Nil);
    assert_eq!(
        server.unsupported_commands(),
        vec![("CLIENT TRACKING".to_string(), 1), ("NOTACOMMAND".to_string(), 1), ("WAIT".to_string(), 3)]
    );
    let wait_log = logged("does not implement WAIT (a Redis 7.0 command)");
    assert!(wait_log.len() == 1 && wait_log[0].starts_with("WARN"), "logged once, as a warning: {wait_log:?}");
    assert!(!logged("does not implement CLIENT TRACKING").is_empty());
    let typo = logged("NOTACOMMAND is not a Redis 7.0 command");
    assert_eq!(typo.len(), 1, "logged once per name, not per command: {typo:?}");
}
