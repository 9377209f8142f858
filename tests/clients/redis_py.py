#!/usr/bin/env python3
"""redis-py against the fake and a real Redis: the same calls, the same results.

Usage: redis_py.py FAKE_PORT REAL_PORT

Each step is a redis-py call (or a pipeline, a transaction, a Pub/Sub
exchange) run on both servers, with RESP2 and with RESP3; its Python result,
or the class and text of the exception it raised, must be equal. Results
that Redis leaves unordered are sorted first. Prints one line per mismatch
and exits 1 if there was any; exits 3 if redis-py is not installed.
"""
import sys

try:
    import redis
except ImportError:
    print("redis-py is not installed (pip install redis)")
    sys.exit(3)


def unordered(x):
    """A result whose order Redis leaves undefined, in a comparable order."""
    if isinstance(x, dict):
        return sorted(x.items())
    return sorted(x, key=repr)


def plain(x):
    """Exceptions inside results (pipelines) as their class and text."""
    if isinstance(x, Exception):
        return (type(x).__name__, str(x))
    if isinstance(x, (list, tuple)):
        return type(x)(plain(i) for i in x)
    return x


def pipeline(r):
    p = r.pipeline(transaction=False)
    p.set("p:a", 1).incr("p:a").get("p:a").lpush("p:l", *range(5)).lrange("p:l", 0, -1)
    p.hset("p:h", mapping={"f": 1}).hgetall("p:h").get("p:l")  # WRONGTYPE inside
    return p.execute(raise_on_error=False)


def transaction(r):
    p = r.pipeline(transaction=True)
    p.set("t:a", "x").append("t:a", "yz").strlen("t:a").expire("t:a", 100).ttl("t:a")
    return p.execute()


def watch_conflict(r, other):
    with r.pipeline() as p:
        p.watch("w:k")
        other.set("w:k", "changed")
        p.multi()
        p.set("w:k", "mine")
        try:
            p.execute()
            return "executed"
        except redis.WatchError as e:
            return ("WatchError", str(e))


def pubsub(r):
    ps = r.pubsub()
    ps.subscribe("chan")
    msgs = [ps.get_message(timeout=2)]
    n = r.publish("chan", "hello")
    msgs.append(ps.get_message(timeout=2))
    ps.psubscribe("ch*")
    msgs.append(ps.get_message(timeout=2))
    ps.unsubscribe("chan")
    msgs.append(ps.get_message(timeout=2))
    ps.close()
    return n, msgs


def scan_all(r):
    r.mset({f"s:{i}": i for i in range(50)})
    return (
        sorted(r.scan_iter(match="s:*", count=7)),
        sorted(r.hscan_iter("h:scan")),
        r.hset("h:scan", mapping={f"f{i}": i for i in range(20)}),
        sorted(r.hscan_iter("h:scan", match="f1*")),
    )


def info_fields(r):
    info = r.info()
    server = r.info("server")
    return (
        sorted(k for k in ("redis_version", "redis_mode", "connected_clients", "used_memory", "role") if k in info),
        server["redis_version"],
        # avg_ttl is Redis's running estimate from its expiry cycle's samples
        # (0 until a cycle has sampled); the fake reports the exact mean.
        {db: {k: v for k, v in d.items() if k != "avg_ttl"} for db, d in r.info("keyspace").items()},
    )


STEPS = [
    ("ping", lambda r: r.ping()),
    ("echo", lambda r: r.echo("hi")),
    ("set/get", lambda r: (r.set("k", "v"), r.get("k"), r.get("missing"))),
    ("set options", lambda r: (r.set("k", "v2", nx=True), r.set("k", "v3", xx=True, get=True), r.set("k", 5, ex=100, get=True))),
    ("set bad expire", lambda r: r.set("k", "v", ex=0)),
    ("ttl", lambda r: (r.ttl("k"), r.pttl("missing"), r.persist("k"), r.ttl("k"))),
    ("incr", lambda r: (r.incr("n"), r.incrby("n", 10), r.decr("n"), r.incrbyfloat("n", 1.5))),
    ("incr on text", lambda r: (r.set("txt", "abc"), r.incr("txt"))),
    ("mset/mget", lambda r: (r.mset({"a": 1, "b": 2}), r.mget("a", "b", "zz"), r.msetnx({"a": 9, "c": 3}))),
    ("getrange/setrange", lambda r: (r.set("g", "Hello World"), r.getrange("g", 0, 4), r.setrange("g", 6, "Redis"), r.get("g"))),
    ("getex/getdel", lambda r: (r.getex("g", px=5000), r.pttl("g") > 0, r.getdel("g"), r.exists("g"))),
    ("lcs", lambda r: (r.mset({"l1": "ohmytext", "l2": "mynewtext"}), r.lcs("l1", "l2"), r.lcs("l1", "l2", len=True))),
    ("keys", lambda r: (r.mset({"kk1": 1, "kk2": 2}), sorted(r.keys("kk*")), r.type("kk1"), r.delete("kk1", "nope"), r.unlink("kk2"))),
    ("rename", lambda r: (r.set("r1", "x"), r.rename("r1", "r2"), r.renamenx("r2", "a"), r.copy("r2", "r3"), r.get("r3"))),
    ("rename missing", lambda r: r.rename("nope", "x")),
    ("expire flags", lambda r: (r.set("e", 1), r.expire("e", 100, nx=True), r.expire("e", 50, gt=True), r.expiretime("e") > 0, r.pexpireat("e", 1))),
    ("object", lambda r: (r.set("o", "12"), r.object("encoding", "o"), r.set("o2", "x" * 50), r.object("encoding", "o2"))),
    ("hash", lambda r: (r.hset("h", mapping={"a": 1, "b": "x"}), r.hget("h", "a"), r.hgetall("h"), r.hincrby("h", "a", 5), r.hincrbyfloat("h", "a", 0.5), r.hmget("h", "a", "zz"), r.hkeys("h"), r.hvals("h"), r.hlen("h"), r.hexists("h", "b"), r.hdel("h", "b", "zz"), r.hstrlen("h", "a"), r.hsetnx("h", "a", 1))),
    ("hash wrongtype", lambda r: (r.set("str", "x"), r.hget("str", "f"))),
    ("list", lambda r: (r.rpush("L", "a", "b", "c"), r.lpush("L", "z"), r.lrange("L", 0, -1), r.lindex("L", 1), r.linsert("L", "before", "b", "x"), r.lpos("L", "b"), r.lset("L", 0, "y"), r.lrem("L", 0, "x"), r.ltrim("L", 0, 1), r.lrange("L", 0, -1), r.lpop("L"), r.rpop("L", 2), r.llen("L"))),
    ("list moves", lambda r: (r.rpush("M", 1, 2, 3), r.lmove("M", "M2", "LEFT", "RIGHT"), r.rpoplpush("M", "M2"), r.lmpop(2, "none", "M", direction="RIGHT", count=5), r.lrange("M2", 0, -1))),
    ("blocking timeout", lambda r: (r.blpop(["nolist"], timeout=0.05), r.brpoplpush("nolist", "x", timeout=0.05))),
    ("blocking ready", lambda r: (r.rpush("BL", "v"), r.blpop(["BL"], timeout=1), r.rpush("BL", "w"), r.blmpop(1, 1, "BL", direction="LEFT"))),
    ("set", lambda r: (r.sadd("S", 1, 2, 3), r.sadd("S2", 3, 4), r.smembers("S"), r.sismember("S", 1), r.smismember("S", [1, 9]), r.scard("S"), r.sinter("S", "S2"), r.sunion("S", "S2"), r.sdiff("S", "S2"), r.sinterstore("S3", ["S", "S2"]), r.sintercard(2, ["S", "S2"]), r.smove("S", "S2", 1), r.srem("S", 2, 9))),
    ("zset", lambda r: (r.zadd("Z", {"a": 1, "b": 2, "c": 3}), r.zadd("Z", {"a": 5}, xx=True, ch=True), r.zscore("Z", "a"), r.zmscore("Z", ["a", "zz"]), r.zrange("Z", 0, -1, withscores=True), r.zrangebyscore("Z", 2, "+inf", withscores=True), r.zrevrange("Z", 0, 1), r.zrank("Z", "a"), r.zrevrank("Z", "a"), r.zincrby("Z", 2.5, "b"), r.zcount("Z", "-inf", 4), r.zcard("Z"), r.zrem("Z", "c"), r.zpopmin("Z"), r.zpopmax("Z", 2))),
    ("zset lex and stores", lambda r: (r.zadd("ZL", {"a": 0, "b": 0, "c": 0}), r.zrangebylex("ZL", "[a", "(c"), r.zlexcount("ZL", "-", "+"), r.zadd("ZO", {"b": 1, "x": 2}), r.zunionstore("ZU", ["ZL", "ZO"]), r.zrange("ZU", 0, -1, withscores=True), r.zinter(["ZL", "ZO"], withscores=True), r.zdiff(["ZL", "ZO"]), r.zmpop(1, ["ZU"], min=True, count=2), r.zrangestore("ZS", "ZL", 0, 1), r.zremrangebyrank("ZL", 0, 0))),
    ("zset bad score", lambda r: r.zadd("Z", {"a": "notanumber"})),
    ("unordered replies", lambda r: (r.sadd("US", *range(10), "x"), unordered(r.smembers("US")), r.hset("UH", mapping={str(i): i for i in range(200)}), len(r.hgetall("UH")))),
    ("pipeline", pipeline),
    ("transaction", transaction),
    ("multi error", lambda r: r.pipeline(transaction=True).set("x", 1).lpush("x", 1).get("x").execute(raise_on_error=False)),
    ("scan", scan_all),
    ("select/swapdb", lambda r: (r.swapdb(0, 1), r.dbsize(), r.swapdb(0, 1), r.dbsize() > 0)),
    ("client", lambda r: (r.client_setname("tester"), r.client_getname(), r.client_id() > 0, r.client_no_evict("on"))),
    ("config", lambda r: (r.config_get("maxmemory*"), r.config_set("maxmemory-policy", "allkeys-lru"), r.config_get("maxmemory-policy"), r.config_set("no-such", "1"))),
    ("config bad value", lambda r: r.config_set("maxmemory", "lots")),
    ("info", info_fields),
    ("time", lambda r: len(r.time())),
    ("dbsize/flushdb", lambda r: (r.dbsize() > 0, r.flushdb(), r.dbsize())),
    ("unknown command", lambda r: r.execute_command("NOSUCHCOMMAND", "a")),
    ("wrong arity", lambda r: r.execute_command("GET")),
    ("command count", lambda r: r.execute_command("COMMAND", "INFO", "get")),
    ("acl", lambda r: (r.acl_whoami(), r.acl_setuser("u1", enabled=True, passwords=["+pw"], commands=["+get"], keys=["k*"]), r.acl_users(), r.acl_deluser("u1"))),
    ("auth wrong", lambda r: r.auth("nope")),
]


def run(port, proto, name, step, other):
    # No retries: redis-py retries connection errors (AUTH failures among
    # them) with backoff, which would only repeat the same reply slowly.
    no_retry = redis.retry.Retry(redis.backoff.NoBackoff(), 0)
    r = redis.Redis(port=port, protocol=proto, decode_responses=True, socket_timeout=5, retry=no_retry)
    try:
        if name == "watch conflict":
            return plain(step(r, other))
        return plain(step(r))
    except redis.RedisError as e:
        return (type(e).__name__, str(e))
    finally:
        r.close()


def main():
    fake, real = int(sys.argv[1]), int(sys.argv[2])
    steps = STEPS + [("watch conflict", watch_conflict), ("pubsub", pubsub)]
    bad = 0
    total = 0
    for proto in (2, 3):
        for port in (fake, real):
            redis.Redis(port=port).flushall()
        for name, step in steps:
            got = []
            for port in (fake, real):
                other = redis.Redis(port=port, decode_responses=True)
                got.append(run(port, proto, name, step, other))
                other.close()
            total += 1
            if got[0] != got[1]:
                bad += 1
                print(f"RESP{proto} {name}:\n    fake: {got[0]!r}\n    real: {got[1]!r}")
    print(f"redis-py {redis.__version__}: {total - bad}/{total} steps gave the same result")
    sys.exit(1 if bad else 0)


main()
