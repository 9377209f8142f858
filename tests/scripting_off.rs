//! Built without the `scripting` feature (`cargo test --no-default-features
//! --test scripting_off`): the scripting commands are unknown commands,
//! answered with Redis's text for one, and everything else still runs.
#![cfg(not(feature = "scripting"))]

use redis_harness::{FakeRedis, Reply};

#[test]
fn scripting_commands_are_unknown_commands() {
    let server = FakeRedis::builder().start_blocking();
    assert_eq!(
        server.run(["EVAL", "return 1", "0"]),
        Reply::error("ERR unknown command 'EVAL', with args beginning with: 'return 1' '0' ")
    );
    for cmd in [
        &["evalsha", "0000000000000000000000000000000000000000", "0"][..],
        &["EVAL_RO", "return 1", "0"],
        &["EVALSHA_RO", "x", "0"],
        &["SCRIPT", "LOAD", "return 1"],
        &["FUNCTION", "LIST"],
        &["FCALL", "f", "0"],
        &["FCALL_RO", "f", "0"],
    ] {
        let Reply::Error(text) = server.run(cmd) else { panic!("{cmd:?} did not answer an error") };
        let expected = format!("ERR unknown command '{}', with args beginning with: ", cmd[0]);
        assert!(text.starts_with(expected.as_bytes()), "{cmd:?}: {}", String::from_utf8_lossy(&text));
    }
    assert_eq!(server.run(["SET", "k", "v"]), Reply::ok());
    assert_eq!(server.run(["GET", "k"]), Reply::bulk("v"));
}
