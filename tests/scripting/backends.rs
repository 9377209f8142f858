//! The README's rate limiter (redis-rs `Script`) and owner-checked lock
//! (a FUNCTION library called with FCALL) on every backend this machine can
//! run: the fake, a `redis-server` process, a container.

use redis_harness::backend::Backend;

use crate::common::backend_kinds;

const LIMITER: &str = "local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return n <= tonumber(ARGV[1]) and 1 or 0";

const LOCK_LIB: &str = "#!lua name=lock
redis.register_function('unlock', function(keys, args)
  if redis.call('GET', keys[1]) == args[1] then return redis.call('DEL', keys[1]) end
  return 0
end)";

#[test]
fn rate_limiter_and_lock_behave_alike_on_every_backend() {
    for kind in backend_kinds() {
        let Some(redis) =
            Backend::start_or_skip(Backend::builder(kind), "rate_limiter_and_lock_behave_alike_on_every_backend")
        else {
            continue;
        };
        let mut con = redis::Client::open(redis.url()).expect("url").get_connection().expect("connect");
        let limiter = redis::Script::new(LIMITER);
        let allowed: Vec<i64> =
            (0..5).map(|_| limiter.key("rate:alice").arg(3).arg(60).invoke(&mut con).expect("limiter")).collect();
        assert_eq!(allowed, [1, 1, 1, 0, 0], "{kind}");
        let ttl: i64 = redis::cmd("TTL").arg("rate:alice").query(&mut con).expect("ttl");
        assert!((1..=60).contains(&ttl), "{kind}: ttl {ttl}");

        let _: () = redis::cmd("FUNCTION").arg("FLUSH").query(&mut con).expect("flush");
        let name: String = redis::cmd("FUNCTION").arg("LOAD").arg(LOCK_LIB).query(&mut con).expect("load");
        assert_eq!(name, "lock", "{kind}");
        let taken: bool = redis::cmd("SET")
            .arg("lock:job")
            .arg("worker-1")
            .arg("NX")
            .arg("PX")
            .arg(30_000)
            .query(&mut con)
            .expect("set");
        assert!(taken, "{kind}");
        let again: Option<String> = redis::cmd("SET")
            .arg("lock:job")
            .arg("worker-2")
            .arg("NX")
            .arg("PX")
            .arg(30_000)
            .query(&mut con)
            .expect("set");
        assert_eq!(again, None, "{kind}: the lock is held");
        let unlock = |owner: &str, con: &mut redis::Connection| -> i64 {
            redis::cmd("FCALL").arg("unlock").arg(1).arg("lock:job").arg(owner).query(con).expect("fcall")
        };
        assert_eq!(unlock("worker-2", &mut con), 0, "{kind}");
        assert_eq!(unlock("worker-1", &mut con), 1, "{kind}");
        let gone: Option<String> = redis::cmd("GET").arg("lock:job").query(&mut con).expect("get");
        assert_eq!(gone, None, "{kind}");
    }
}
