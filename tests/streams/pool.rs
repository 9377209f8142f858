//! Issue 15 item 4: a blocking stream read through the pool. A dropped
//! XREADGROUP BLOCK future must not hand its reply to the next caller of
//! the pool: the pool closes the socket the read was pending on, the fake
//! forgets the blocked client, and the entry XADD adds next is delivered to
//! whoever reads next, never lost in a dead connection's PEL.

use redis_harness::pool::{Cmd, Pool, Value};
use redis_harness::{FakeRedis, Reply};

use super::{wait_blocked, WAIT};

#[tokio::test]
async fn a_dropped_xreadgroup_never_answers_a_later_caller() {
    let server = FakeRedis::start().await;
    assert_eq!(server.run(["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]), Reply::ok());
    let pool = Pool::builder(&server.url()).pool_size(1).max_retries(0).build().unwrap();
    {
        let mut c = pool.get().await.unwrap();
        let read = Cmd::from_args(["XREADGROUP", "GROUP", "g", "c1", "BLOCK", "0", "STREAMS", "s", ">"]);
        let fut = c.query(&read);
        tokio::pin!(fut);
        // Drive the read until the server holds it blocked, then drop it.
        tokio::select! {
            r = &mut fut => panic!("XREADGROUP BLOCK 0 answered on an empty stream: {r:?}"),
            _ = wait_blocked(&server, 1) => {}
        }
    }
    // The pool closed that socket: the server no longer counts a blocked client.
    wait_blocked(&server, 0).await;
    // An entry added now goes to nobody yet (the dead reader took nothing).
    let Reply::Bulk(id) = server.run(["XADD", "s", "*", "f", "v"]) else { panic!("XADD gave no id") };
    let mut c = tokio::time::timeout(WAIT, pool.get()).await.expect("a connection within the bound").unwrap();
    // The next caller's own command gets its own reply, not the stale read.
    assert_eq!(c.query(&Cmd::from_args(["PING"])).await.unwrap(), Value::Simple("PONG".into()));
    let pending = server.run(["XPENDING", "s", "g"]);
    let Reply::Array(p) = &pending else { panic!("{pending:?}") };
    assert_eq!(p[0], Reply::Int(0), "nothing was delivered to the dropped reader: {pending:?}");
    let got = c.query(&Cmd::from_args(["XREADGROUP", "GROUP", "g", "c2", "COUNT", "10", "STREAMS", "s", ">"])).await;
    let text = format!("{got:?}");
    assert!(text.contains(&String::from_utf8_lossy(&id).to_string()), "the entry reaches the next reader: {text}");
}
