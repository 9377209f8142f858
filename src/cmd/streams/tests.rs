//! Unit tests of the stream commands through dispatch (the differential
//! scripts under `fixtures/diff/streams*.redis` compare them with Redis).

use bytes::Bytes;

use crate::cmd::{dispatch, ConnState, Ctx};
use crate::engine::clock::Clock;
use crate::engine::config::Config;
use crate::engine::state::{CommandLog, State};
use crate::protocol::Reply;

struct Fixture {
    st: State,
    clock: Clock,
    conn: ConnState,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            st: State::new(Config::default(), 16, 1, CommandLog::new(false, 0), crate::cmd::table()),
            clock: Clock::paused_at(1_700_000_000_000),
            conn: ConnState::new(1, true),
        }
    }

    fn run(&mut self, cmd: &[&str]) -> Reply {
        let args: Vec<Bytes> = cmd.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())).collect();
        let now = self.clock.now_ms();
        dispatch(&mut Ctx { st: &mut self.st, conn: &mut self.conn, now, clock: &self.clock }, &args)
    }
}

fn bulk(s: &str) -> Reply {
    Reply::bulk(Bytes::copy_from_slice(s.as_bytes()))
}

#[test]
fn xadd_ids_follow_the_clock_and_the_top_item() {
    let mut f = Fixture::new();
    assert_eq!(f.run(&["XADD", "s", "*", "f", "v"]), bulk("1700000000000-0"));
    assert_eq!(f.run(&["XADD", "s", "*", "f", "v"]), bulk("1700000000000-1"));
    assert_eq!(f.run(&["XADD", "s", "1700000000000-*", "f", "v"]), bulk("1700000000000-2"));
    assert_eq!(
        f.run(&["XADD", "s", "5-1", "f", "v"]),
        Reply::error("ERR The ID specified in XADD is equal or smaller than the target stream top item")
    );
    assert_eq!(
        f.run(&["XADD", "s", "0-0", "f", "v"]),
        Reply::error("ERR The ID specified in XADD must be greater than 0-0")
    );
    assert_eq!(
        f.run(&["XADD", "m", "18446744073709551615-18446744073709551615", "f", "v"]),
        bulk("18446744073709551615-18446744073709551615")
    );
    assert_eq!(
        f.run(&["XADD", "m", "*", "f", "v"]),
        Reply::error("ERR The stream has exhausted the last possible ID, unable to add more items")
    );
    assert_eq!(f.run(&["XLEN", "s"]), Reply::Int(3));
    assert_eq!(f.run(&["TYPE", "s"]), Reply::status("stream"));
    assert_eq!(f.run(&["OBJECT", "ENCODING", "s"]), bulk("stream"));
    assert_eq!(f.run(&["XADD", "none", "NOMKSTREAM", "*", "f", "v"]), Reply::Nil);
    assert_eq!(f.run(&["EXISTS", "none"]), Reply::Int(0));
}

#[test]
fn group_reads_fill_the_pel_and_acks_empty_it() {
    let mut f = Fixture::new();
    f.run(&["XADD", "s", "1-1", "a", "1"]);
    f.run(&["XADD", "s", "2-1", "b", "2"]);
    assert_eq!(f.run(&["XGROUP", "CREATE", "s", "g", "0"]), Reply::ok());
    let r = f.run(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"]);
    let Reply::Array(streams) = r else { panic!("{r:?}") };
    assert_eq!(streams.len(), 1);
    assert_eq!(
        f.run(&["XPENDING", "s", "g"]),
        Reply::Array(vec![
            Reply::Int(2),
            bulk("1-1"),
            bulk("2-1"),
            Reply::Array(vec![Reply::Array(vec![bulk("c"), bulk("2")])]),
        ])
    );
    assert_eq!(f.run(&["XACK", "s", "g", "1-1", "2-1", "3-1"]), Reply::Int(2));
    assert_eq!(
        f.run(&["XPENDING", "s", "g"]),
        Reply::Array(vec![Reply::Int(0), Reply::Nil, Reply::Nil, Reply::NilArray])
    );
    assert_eq!(f.run(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"]), Reply::NilArray);
}

#[test]
fn memory_accounting_follows_stream_writes() {
    let mut f = Fixture::new();
    for cmd in [
        &["XADD", "s", "1-1", "a", "1"][..],
        &["XADD", "s", "2-1", "b", "2", "c", "3"],
        &["XGROUP", "CREATE", "s", "g", "0"],
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"],
        &["XCLAIM", "s", "g", "d", "0", "1-1"],
        &["XAUTOCLAIM", "s", "g", "e", "0", "0"],
        &["XDEL", "s", "1-1"],
        &["XACK", "s", "g", "2-1"],
        &["XTRIM", "s", "MAXLEN", "0"],
        &["XGROUP", "DESTROY", "s", "g"],
    ] {
        let r = f.run(cmd);
        assert!(!r.is_error(), "{cmd:?}: {r:?}");
        assert_eq!(f.st.db(0).used_memory(), f.st.db(0).measured_memory(), "after {cmd:?}");
    }
}
