//! FUNCTION/FCALL through redis-rs, redis-rs's `Script` falling back to EVAL
//! after SCRIPT FLUSH, and ACL rules applied to every `redis.call`.

use redis_harness::{FakeRedis, Reply};

fn sync_conn(server: &FakeRedis) -> redis::Connection {
    redis::Client::open(server.url()).expect("valid url").get_connection().expect("connect")
}

/// The names of the commands the server received, in order.
fn names(server: &FakeRedis) -> Vec<String> {
    server.commands().iter().map(|c| c.name()).collect()
}

#[test]
fn redis_rs_script_falls_back_to_eval_after_script_flush() {
    let server = FakeRedis::builder().start_blocking();
    let mut con = sync_conn(&server);
    let script = redis::Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    let n: i64 = script.key("counter").arg(2).invoke(&mut con).expect("first invoke");
    assert_eq!(n, 2);
    let n: i64 = script.key("counter").arg(2).invoke(&mut con).expect("cached invoke");
    assert_eq!(n, 4);
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut con).expect("flush");
    let n: i64 = script.key("counter").arg(2).invoke(&mut con).expect("invoke after flush");
    assert_eq!(n, 6, "the script ran once more, not twice");
    // The sync client answers NOSCRIPT with SCRIPT LOAD and a second EVALSHA:
    // EVALSHA (NOSCRIPT), SCRIPT LOAD, EVALSHA; EVALSHA; SCRIPT FLUSH; then the
    // fallback again. The INCRBYs the scripts ran are recorded after each run.
    let seen: Vec<String> = names(&server).into_iter().filter(|n| n != "CLIENT").collect();
    let expected = [
        "EVALSHA", "SCRIPT", "EVALSHA", "INCRBY", "EVALSHA", "INCRBY", "SCRIPT", "EVALSHA", "SCRIPT", "EVALSHA",
        "INCRBY",
    ];
    assert_eq!(seen, expected);
}

#[test]
fn fcall_runs_a_loaded_library_and_dump_restores_it() {
    let server = FakeRedis::builder().start_blocking();
    let mut con = sync_conn(&server);
    let lib = "#!lua name=counters\n\
        redis.register_function('bump', function(keys, args) return redis.call('INCRBY', keys[1], args[1]) end)\n\
        redis.register_function{function_name='peek', callback=function(keys) return redis.call('GET', keys[1]) end, flags={'no-writes'}}";
    let name: String = redis::cmd("FUNCTION").arg("LOAD").arg(lib).query(&mut con).expect("load");
    assert_eq!(name, "counters");
    let n: i64 = redis::cmd("FCALL").arg("bump").arg(1).arg("c").arg(5).query(&mut con).expect("fcall");
    assert_eq!(n, 5);
    let v: String = redis::cmd("FCALL_RO").arg("peek").arg(1).arg("c").query(&mut con).expect("fcall_ro");
    assert_eq!(v, "5");
    let err = redis::cmd("FCALL_RO").arg("bump").arg(1).arg("c").arg(1).query::<i64>(&mut con).expect_err("ro");
    assert!(err.to_string().contains("Can not execute a script with write flag using *_ro command."), "{err}");

    let info: String = redis::cmd("INFO").arg("memory").query(&mut con).expect("info");
    assert!(info.contains("number_of_functions:2\r\n") && info.contains("number_of_libraries:1\r\n"), "{info}");
    let payload: Vec<u8> = redis::cmd("FUNCTION").arg("DUMP").query(&mut con).expect("dump");
    let _: () = redis::cmd("FUNCTION").arg("FLUSH").query(&mut con).expect("flush");
    let err = redis::cmd("FCALL").arg("bump").arg(1).arg("c").arg(1).query::<i64>(&mut con).expect_err("gone");
    assert!(err.to_string().contains("Function not found"), "{err}");
    let _: () = redis::cmd("FUNCTION").arg("RESTORE").arg(&payload).query(&mut con).expect("restore");
    let n: i64 = redis::cmd("FCALL").arg("bump").arg(1).arg("c").arg(1).query(&mut con).expect("restored");
    assert_eq!(n, 6);
    let again: Vec<u8> = redis::cmd("FUNCTION").arg("DUMP").query(&mut con).expect("dump again");
    assert_eq!(again, payload, "a restored library dumps to the same bytes");
    let err = redis::cmd("FUNCTION").arg("RESTORE").arg(&payload).query::<()>(&mut con).expect_err("collision");
    assert!(err.to_string().contains("Library counters already exists"), "{err}");
}

/// Every ACL LOG entry's `context` field.
fn acl_log_contexts(server: &FakeRedis) -> Vec<Reply> {
    let Reply::Array(entries) = server.run(["ACL", "LOG"]) else { panic!("ACL LOG is an array") };
    entries
        .into_iter()
        .map(|e| {
            let Reply::Map(fields) = e else { panic!("an entry is a map: {e:?}") };
            fields.into_iter().find(|(k, _)| *k == Reply::bulk("context")).map(|(_, v)| v).expect("context field")
        })
        .collect()
}

#[test]
fn acl_rules_apply_to_every_redis_call_and_log_context_lua() {
    let server = FakeRedis::builder().start_blocking();
    assert_eq!(server.run(["ACL", "SETUSER", "app", "on", "nopass", "~app:*", "+@all", "-set"]), Reply::ok());
    let mut con = sync_conn(&server);
    let _: () = redis::cmd("AUTH").arg("app").arg("").query(&mut con).expect("auth");
    let call = |con: &mut redis::Connection, body: &str| {
        redis::cmd("EVAL").arg(body).arg(0).query::<redis::Value>(con).map_err(|e| e.to_string())
    };
    let err = call(&mut con, "return redis.call('SET', 'app:k', 'v')").expect_err("set is refused");
    assert!(err.contains("The user executing the script can't run this command or subcommand"), "{err}");
    let err = call(&mut con, "return redis.call('GET', 'other')").expect_err("the key is refused");
    assert!(err.contains("can't access at least one of the keys mentioned in the command arguments"), "{err}");
    let ok = call(&mut con, "return redis.call('INCR', 'app:n')").expect("allowed");
    assert_eq!(ok, redis::Value::Int(1));
    assert_eq!(acl_log_contexts(&server), vec![Reply::bulk("lua"), Reply::bulk("lua")]);
    // Sent directly, the same refusal is logged as top-level.
    let err = redis::cmd("SET").arg("app:k").arg("v").query::<()>(&mut con).expect_err("refused");
    assert!(err.to_string().contains("no permissions to run the 'set' command"), "{err}");
    assert_eq!(acl_log_contexts(&server)[0], Reply::bulk("toplevel"));
}
