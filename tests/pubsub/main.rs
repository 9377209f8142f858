//! Pub/sub, transactions and keyspace notifications through a real client
//! (the `redis` crate), in RESP2 and RESP3.

use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::MultiplexedConnection;
use redis::{AsyncCommands, AsyncConnectionConfig, PushInfo, PushKind, Value};
use redis_harness::{FakeRedis, SubscriptionKind};
use tokio::sync::mpsc::UnboundedReceiver;

/// Bound on every wait for a message.
const WAIT: Duration = Duration::from_secs(5);

/// redis-rs's default budgets (500 ms a reply, 1 s to connect) can be missed
/// on a loaded machine: no response timeout, a generous connect timeout.
fn patient() -> redis::AsyncConnectionConfig {
    AsyncConnectionConfig::new().set_response_timeout(None).set_connection_timeout(Some(Duration::from_secs(10)))
}

async fn conn(server: &FakeRedis) -> MultiplexedConnection {
    let client = redis::Client::open(server.url()).unwrap();
    client.get_multiplexed_async_connection_with_config(&patient()).await.unwrap()
}

/// A RESP3 connection whose pushes land in the returned channel.
async fn resp3_conn(server: &FakeRedis) -> (MultiplexedConnection, UnboundedReceiver<PushInfo>) {
    let client = redis::Client::open(format!("{}/?protocol=resp3", server.url())).unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let config = patient().set_push_sender(tx);
    let con = client.get_multiplexed_async_connection_with_config(&config).await.unwrap();
    (con, rx)
}

/// The next `message`/`pmessage` push, skipping subscription confirmations.
async fn next_message(rx: &mut UnboundedReceiver<PushInfo>) -> PushInfo {
    loop {
        let push = tokio::time::timeout(WAIT, rx.recv()).await.expect("no push in time").expect("push channel closed");
        if matches!(push.kind, PushKind::Message | PushKind::PMessage | PushKind::SMessage) {
            return push;
        }
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

#[tokio::test]
async fn resp2_subscriber_gets_messages_from_clients_and_from_the_handle() {
    let server = FakeRedis::start().await;
    let client = redis::Client::open(server.url()).unwrap();
    let mut sub = client.get_async_pubsub().await.unwrap();
    sub.subscribe("news").await.unwrap();
    sub.psubscribe("n*").await.unwrap();
    let mut publisher = conn(&server).await;

    let receivers: i64 = publisher.publish("news", "hello").await.unwrap();
    assert_eq!(receivers, 2, "channel and pattern subscription both count");
    let receivers: i64 = publisher.publish("nothing-else", "x").await.unwrap();
    assert_eq!(receivers, 1, "only the pattern matches");
    assert_eq!(server.publish("news", "from the handle"), 2);

    let mut stream = sub.on_message();
    let mut got = Vec::new();
    for _ in 0..5 {
        let msg = tokio::time::timeout(WAIT, stream.next()).await.expect("no message in time").expect("stream ended");
        let pattern: Option<String> = msg.get_pattern().unwrap();
        got.push((msg.get_channel_name().to_string(), pattern, msg.get_payload::<String>().unwrap()));
    }
    assert_eq!(
        got,
        vec![
            ("news".into(), None, "hello".into()),
            ("news".into(), Some("n*".into()), "hello".into()),
            ("nothing-else".into(), Some("n*".into()), "x".into()),
            ("news".into(), None, "from the handle".into()),
            ("news".into(), Some("n*".into()), "from the handle".into()),
        ]
    );
}

#[tokio::test]
async fn resp3_push_frames_interleave_with_replies() {
    let server = FakeRedis::start().await;
    let (mut sub, mut pushes) = resp3_conn(&server).await;
    sub.subscribe("ch").await.unwrap();
    let mut publisher = conn(&server).await;

    let receivers: i64 = publisher.publish("ch", "one").await.unwrap();
    assert_eq!(receivers, 1);
    let push = next_message(&mut pushes).await;
    assert_eq!(push.kind, PushKind::Message);
    assert_eq!(push.data.iter().map(text).collect::<Vec<_>>(), ["ch", "one"]);

    // A subscribed RESP3 connection still runs ordinary commands.
    let _: () = sub.set("k", "v").await.unwrap();
    let v: String = sub.get("k").await.unwrap();
    assert_eq!(v, "v");

    assert_eq!(server.publish("ch", "two"), 1);
    let push = next_message(&mut pushes).await;
    assert_eq!(push.data.iter().map(text).collect::<Vec<_>>(), ["ch", "two"]);

    // Publishing to itself: the push arrives, and so does PUBLISH's reply.
    let receivers: i64 = sub.publish("ch", "self").await.unwrap();
    assert_eq!(receivers, 1);
    let push = next_message(&mut pushes).await;
    assert_eq!(push.data.iter().map(text).collect::<Vec<_>>(), ["ch", "self"]);
}

#[tokio::test]
async fn pipelines_and_atomic_transactions() {
    let server = FakeRedis::start().await;
    let mut con = conn(&server).await;

    let (a, b): (String, Option<String>) =
        redis::pipe().set("a", "1").ignore().get("a").get("missing").query_async(&mut con).await.unwrap();
    assert_eq!((a.as_str(), b), ("1", None));

    let (old, new): (String, String) =
        redis::pipe().atomic().cmd("SET").arg("a").arg("2").arg("GET").get("a").query_async(&mut con).await.unwrap();
    assert_eq!((old.as_str(), new.as_str()), ("1", "2"));
    assert_eq!(server.get("a").as_deref(), Some(&b"2"[..]));

    // The transaction is visible to the server as MULTI ... EXEC.
    let names: Vec<String> = server.commands().iter().map(|c| c.name()).collect();
    let multi = names.iter().position(|n| n == "MULTI").expect("MULTI sent");
    assert_eq!(names[multi..multi + 4], ["MULTI", "SET", "GET", "EXEC"]);
}

#[tokio::test]
async fn watch_conflict_fails_exec_with_a_null_reply() {
    let server = FakeRedis::start().await;
    let mut watcher = conn(&server).await;
    let mut other = conn(&server).await;
    let _: () = watcher.set("balance", 10).await.unwrap();

    let _: () = redis::cmd("WATCH").arg("balance").query_async(&mut watcher).await.unwrap();
    let _: () = other.set("balance", 99).await.unwrap();
    let result: Option<(i64,)> = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("balance")
        .arg(0)
        .ignore()
        .get("balance")
        .query_async(&mut watcher)
        .await
        .unwrap();
    assert_eq!(result, None, "EXEC must fail after a concurrent write");
    assert_eq!(server.get("balance").as_deref(), Some(&b"99"[..]));

    // Without a conflict the same transaction goes through.
    let _: () = redis::cmd("WATCH").arg("balance").query_async(&mut watcher).await.unwrap();
    let result: Option<(i64,)> = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("balance")
        .arg(0)
        .ignore()
        .get("balance")
        .query_async(&mut watcher)
        .await
        .unwrap();
    assert_eq!(result, Some((0,)));
}

#[tokio::test]
async fn watched_key_expiring_fails_exec() {
    let server = FakeRedis::builder().paused_clock().start().await;
    let mut con = conn(&server).await;
    let _: () = redis::cmd("SET").arg("lease").arg("x").arg("PX").arg(100).query_async(&mut con).await.unwrap();
    let _: () = redis::cmd("WATCH").arg("lease").query_async(&mut con).await.unwrap();
    server.advance_time(Duration::from_millis(150));
    let result: Option<(Option<String>,)> = redis::pipe().atomic().get("lease").query_async(&mut con).await.unwrap();
    assert_eq!(result, None);
}

#[tokio::test]
async fn keyspace_notification_for_an_expiring_key() {
    let server = FakeRedis::builder().paused_clock().notify_keyspace_events("KEA").start().await;
    let (mut sub, mut pushes) = resp3_conn(&server).await;
    sub.psubscribe("__key*@0__:*").await.unwrap();
    sub.subscribe("__keyevent@0__:expired").await.unwrap();
    let mut con = conn(&server).await;
    let _: () = redis::cmd("SET").arg("session").arg("x").arg("EX").arg(10).query_async(&mut con).await.unwrap();

    // SET with EX fires `set` then `expire`, each on both channels.
    let mut seen = Vec::new();
    for _ in 0..4 {
        let p = next_message(&mut pushes).await;
        seen.push(p.data.iter().map(text).collect::<Vec<_>>());
    }
    assert_eq!(
        seen,
        vec![
            vec!["__key*@0__:*", "__keyspace@0__:session", "set"],
            vec!["__key*@0__:*", "__keyevent@0__:set", "session"],
            vec!["__key*@0__:*", "__keyspace@0__:session", "expire"],
            vec!["__key*@0__:*", "__keyevent@0__:expire", "session"],
        ]
    );

    // Nothing happens until the clock reaches the expiry...
    server.advance_time(Duration::from_secs(9));
    // Pushes queued before a reply are written before it: after this round
    // trip, anything the advance had fired would already be in the channel.
    let _: String = redis::cmd("PING").query_async(&mut sub).await.unwrap();
    assert!(pushes.try_recv().is_err());
    // ...then active expiry reclaims the key and notifies.
    server.advance_time(Duration::from_secs(1));
    let mut seen = Vec::new();
    for _ in 0..3 {
        let p = next_message(&mut pushes).await;
        seen.push((p.kind, p.data.iter().map(text).collect::<Vec<_>>()));
    }
    assert_eq!(
        seen,
        vec![
            (PushKind::PMessage, vec!["__key*@0__:*".to_string(), "__keyspace@0__:session".into(), "expired".into()]),
            (PushKind::Message, vec!["__keyevent@0__:expired".to_string(), "session".into()]),
            (PushKind::PMessage, vec!["__key*@0__:*".to_string(), "__keyevent@0__:expired".into(), "session".into()]),
        ]
    );
    assert_eq!(server.get("session"), None);
}

#[tokio::test]
async fn invalid_notify_flags_refuse_to_start() {
    let err = FakeRedis::builder().notify_keyspace_events("KEQ").try_start().unwrap_err();
    assert!(err.to_string().contains("Invalid event class character"), "{err}");
}

#[tokio::test]
async fn disconnecting_a_subscriber_drops_its_subscriptions() {
    let server = FakeRedis::start().await;
    let client = redis::Client::open(server.url()).unwrap();
    let mut sub = client.get_async_pubsub().await.unwrap();
    sub.subscribe("a").await.unwrap();
    sub.psubscribe("p*").await.unwrap();

    let subs = server.subscriptions();
    assert_eq!(subs.len(), 2, "{subs:?}");
    let id = subs[0].client_id;
    assert!(subs.iter().all(|s| s.client_id == id));
    assert_eq!(subs[0].kind, SubscriptionKind::Channel);
    assert_eq!(&subs[0].channel[..], b"a");
    assert_eq!(subs[1].kind, SubscriptionKind::Pattern);
    assert_eq!(&subs[1].channel[..], b"p*");

    drop(sub);
    server.wait_for_open_connections(0, WAIT).await.unwrap();
    assert!(server.subscriptions().is_empty());
    assert_eq!(server.publish("a", "nobody"), 0);
}
