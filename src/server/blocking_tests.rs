//! Unit tests of the blocking registry (`crate::engine::blocking`), here
//! because they build a state with the command layer's table and drive
//! real connections.

mod registry {
    use bytes::Bytes;

    use crate::engine::blocking::*;
    use crate::engine::clock::Clock;
    use crate::engine::command::{BlockSpec, ConnState};
    use crate::engine::config::Config;
    use crate::engine::state::State;
    use crate::protocol::Reply;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn state() -> State {
        State::new(Config::default(), 16, 1, crate::engine::state::CommandLog::new(false, 0), crate::cmd::table())
    }

    fn blpop(st: &mut State, id: u64, keys: &[&str]) -> Waiter {
        let mut args: Vec<Bytes> = vec![b("BLPOP")];
        args.extend(keys.iter().map(|k| b(k)));
        args.push(b("0"));
        let conn = ConnState::new(id, true);
        let spec = BlockSpec {
            db: 0,
            keys: keys.iter().map(|k| b(k)).collect(),
            timeout: None,
            on_timeout: Reply::NilArray,
            command: crate::cmd::lookup(b"blpop"),
            rerun: None,
            on_delete: false,
        };
        block(st, &conn, &args, spec).unwrap_or_else(|r| panic!("BLPOP did not block: {r:?}"))
    }

    fn run(st: &mut State, clock: &Clock, args: &[&str]) -> Reply {
        let mut conn = ConnState::new(1000, true);
        let args: Vec<Bytes> = args.iter().map(|a| b(a)).collect();
        crate::engine::exec::execute(st, &mut conn, clock, clock.now_ms(), &args).reply
    }

    #[test]
    fn timeouts_parse_as_redis_7_0() {
        let ms = |s: &str| crate::cmd::util::parse_timeout(s.as_bytes()).map(|d| d.map(|d| d.as_millis()));
        assert_eq!(ms("0"), Ok(None));
        assert_eq!(ms("1"), Ok(Some(1000)));
        assert_eq!(ms("0.0001"), Ok(Some(1)));
        assert_eq!(ms("1e-400"), Ok(Some(1)));
        assert_eq!(ms("-0.0001"), Ok(None));
        assert_eq!(ms("0x10"), Ok(Some(16000)));
        assert_eq!(ms("0x1p-1"), Ok(Some(500)));
        let neg = Err(Reply::error("ERR timeout is negative"));
        assert_eq!(ms("-1"), neg);
        assert_eq!(ms("inf"), neg);
        assert_eq!(ms("1e30"), neg);
        let bad = Err(Reply::error("ERR timeout is not a float or out of range"));
        for s in ["", "x", " 1", "1 ", "nan", "0x", "1e", "0xg"] {
            assert_eq!(ms(s), bad, "{s:?}");
        }
    }

    #[test]
    fn unblock_by_id_replies_and_clears_every_queue() {
        let mut st = state();
        let mut w = blpop(&mut st, 7, &["a", "b", "a"]);
        assert_eq!(st.blocking.len(), 1);
        assert_eq!(st.blocking.keys_len(), 2);
        assert!(unblock(&mut st, 7, true));
        assert_eq!(w.rx.try_recv(), Ok(Reply::error("UNBLOCKED client unblocked via CLIENT UNBLOCK")));
        assert_eq!((st.blocking.len(), st.blocking.keys_len()), (0, 0));
        assert!(!unblock(&mut st, 7, false));

        let mut w = blpop(&mut st, 8, &["a"]);
        assert!(unblock(&mut st, 8, false));
        assert_eq!(w.rx.try_recv(), Ok(Reply::NilArray));
    }

    #[test]
    fn client_unblock_handler() {
        let mut st = state();
        let clock = Clock::real();
        let mut w = blpop(&mut st, 5, &["k"]);
        let mut conn = ConnState::new(1, true);
        let mut call = |st: &mut State, args: &[&str]| {
            let args: Vec<Bytes> = args.iter().map(|a| b(a)).collect();
            crate::engine::exec::execute(st, &mut conn, &clock, 0, &args).reply
        };
        assert_eq!(
            call(&mut st, &["CLIENT", "UNBLOCK", "5", "bogus"]),
            Reply::error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
        );
        assert_eq!(
            call(&mut st, &["CLIENT", "UNBLOCK", "x"]),
            Reply::error("ERR value is not an integer or out of range")
        );
        assert_eq!(
            call(&mut st, &["CLIENT", "unblock", "5", "timeout", "x"]),
            Reply::error("ERR unknown subcommand or wrong number of arguments for 'unblock'. Try CLIENT HELP.")
        );
        assert_eq!(call(&mut st, &["CLIENT", "UNBLOCK", "-1"]), Reply::Int(0));
        assert_eq!(call(&mut st, &["CLIENT", "UNBLOCK", "5", "TIMEOUT"]), Reply::Int(1));
        assert_eq!(w.rx.try_recv(), Ok(Reply::NilArray));
        assert_eq!(call(&mut st, &["CLIENT", "UNBLOCK", "5"]), Reply::Int(0));
    }

    #[test]
    fn ready_key_serves_oldest_first_and_keeps_the_others_queued() {
        let mut st = state();
        let clock = Clock::real();
        let mut w1 = blpop(&mut st, 1, &["l"]);
        let mut w2 = blpop(&mut st, 2, &["other", "l"]);
        let mut w3 = blpop(&mut st, 3, &["l"]);
        assert_eq!(run(&mut st, &clock, &["RPUSH", "l", "x", "y"]), Reply::Int(2));
        assert_eq!(w1.rx.try_recv(), Ok(Reply::Array(vec![Reply::bulk("l"), Reply::bulk("x")])));
        assert_eq!(w2.rx.try_recv(), Ok(Reply::Array(vec![Reply::bulk("l"), Reply::bulk("y")])));
        assert!(w3.rx.try_recv().is_err());
        assert_eq!(st.blocking.len(), 1);
        assert_eq!(st.blocking.keys_len(), 1);
        assert!(st.blocking.is_blocked(3));
        assert!(st.take_ready_keys().is_empty());
        // Nobody waits on "other": pushing it queues nothing.
        run(&mut st, &clock, &["RPUSH", "other", "z"]);
        assert!(st.take_ready_keys().is_empty());
        remove_client(&mut st, 3);
        assert_eq!((st.blocking.len(), st.blocking.keys_len()), (0, 0));
    }

    #[test]
    fn a_swapped_in_db_signals_the_keys_waited_on_at_once() {
        let mut st = state();
        let clock = Clock::real();
        let mut w = blpop(&mut st, 9, &["k"]);
        // Nobody waits in db 1: storing there signals nothing ...
        let now = clock.now_ms();
        st.store_entry(1, &b("k"), crate::store::Entry::new(crate::store::Value::List([b("v")].into()), now));
        assert!(st.take_ready_keys().is_empty());
        // ... until SWAPDB brings the key to db 0, where the client waits.
        st.swap_dbs(0, 1, now);
        serve_ready(&mut st, &clock);
        assert_eq!(w.rx.try_recv(), Ok(Reply::Array(vec![Reply::bulk("k"), Reply::bulk("v")])));
    }

    #[test]
    fn timed_out_only_once() {
        let mut st = state();
        let _w = blpop(&mut st, 4, &["k"]);
        assert_eq!(timed_out(&mut st, 4), Some(Reply::NilArray));
        assert_eq!(timed_out(&mut st, 4), None);
        assert_eq!(st.blocking.keys_len(), 0);
    }
}

mod socket_tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    use crate::FakeRedis;

    const WAIT: Duration = Duration::from_secs(10);

    /// Waits, bounded, until the server reports `n` blocked clients.
    fn wait_blocked(server: &FakeRedis, n: usize) {
        let mut rx = server.shared().lock().blocking.subscribe();
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let r = rt.block_on(async { tokio::time::timeout(WAIT, rx.wait_for(|b| *b == n)).await });
        assert!(matches!(r, Ok(Ok(_))), "expected {n} blocked clients within {WAIT:?}");
    }

    /// A socket that sent `cmd` and is now blocked, with its client id.
    fn blocked(server: &FakeRedis, cmd: &[u8]) -> (TcpStream, u64) {
        let mut s = TcpStream::connect(server.addr()).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        s.write_all(cmd).unwrap();
        wait_blocked(server, 1);
        let id = server.shared().lock().blocking.any_blocked().unwrap();
        (s, id)
    }

    fn read_exact(s: &mut TcpStream, n: usize) -> Vec<u8> {
        let mut buf = vec![0u8; n];
        s.read_exact(&mut buf).unwrap();
        buf
    }

    #[test]
    fn client_unblock_end_to_end_then_buffered_commands_run() {
        let server = FakeRedis::builder().start_blocking();
        let (mut s, id) = blocked(&server, b"BLPOP q 0\r\nPING\r\n");
        assert!(crate::engine::blocking::unblock(&mut server.shared().lock(), id, true));
        let want = b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n+PONG\r\n";
        assert_eq!(read_exact(&mut s, want.len()), want);
        assert_eq!(server.blocked_clients(), 0);

        s.write_all(b"BRPOPLPUSH q d 0\r\n").unwrap();
        wait_blocked(&server, 1);
        assert!(crate::engine::blocking::unblock(&mut server.shared().lock(), id, false));
        assert_eq!(read_exact(&mut s, 5), b"*-1\r\n");
    }

    #[test]
    fn kill_while_blocked_closes_and_unqueues() {
        let server = FakeRedis::builder().start_blocking();
        let (mut s, id) = blocked(&server, b"BLPOP a b 0\r\n");
        {
            let mut st = server.shared().lock();
            st.client_mut(id).unwrap().kill();
        }
        let mut buf = [0u8; 16];
        assert!(matches!(s.read(&mut buf), Ok(0) | Err(_)));
        server.wait_for_open_connections_blocking(0, WAIT).unwrap();
        assert_eq!((server.blocked_clients(), server.blocking_keys()), (0, 0));
    }
}
