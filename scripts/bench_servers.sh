# Sourced by bench.sh and bench_eval.sh: starts `$1 serve` (the fake) and a
# redis-server side by side on free loopback ports, waits for both to answer
# PING, and stops both on exit. Sets FAKE_PORT/FAKE_PID, REAL_PORT/REAL_PID,
# TMP, HZ, and cpu_ticks PID (utime + stime of a server, in clock ticks).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
FAKE_PORT=$(free_port)
REAL_PORT=$(free_port)
TMP=$(mktemp -d)
cleanup() {
    [ -n "${FAKE_PID:-}" ] && kill "$FAKE_PID" 2>/dev/null || true
    [ -n "${REAL_PID:-}" ] && kill "$REAL_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
"$1" serve --port "$FAKE_PORT" > "$TMP/fake.log" 2>&1 &
FAKE_PID=$!
redis-server --port "$REAL_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP" --daemonize no > "$TMP/real.log" 2>&1 &
REAL_PID=$!
for port in "$FAKE_PORT" "$REAL_PORT"; do
    for _ in $(seq 1 200); do
        redis-cli -p "$port" ping >/dev/null 2>&1 && break
        sleep 0.05
    done
done
HZ=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
