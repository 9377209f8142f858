#!/usr/bin/env bash
# EVAL throughput, fake vs redis-server 7.0.15 (numbers, never assertions):
#   redis-benchmark -n N -c 50 eval "return redis.call('incr',KEYS[1])" 1 k
# ROUNDS paired rounds, the order alternating; per round: requests/s of
# each server, the ratio fake/real, and each server's CPU time per request
# (user + system from /proc, the number load disturbs least).
# Usage: bash scripts/bench_eval.sh [N=200000] [ROUNDS=3] [FAKE_BIN=target/release/redis-harness]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
ROUNDS=${2:-3}
FAKE_BIN=${3:-target/release/redis-harness}
for bin in redis-server redis-benchmark redis-cli; do
    command -v "$bin" >/dev/null || { echo "bench_eval: $bin not found (apt-get install redis-server redis-tools)" >&2; exit 2; }
done
[ -x "$FAKE_BIN" ] || { echo "bench_eval: build it first: cargo build --release -p redis-harness-cli" >&2; exit 2; }

# shellcheck source=scripts/bench_servers.sh
source scripts/bench_servers.sh "$FAKE_BIN"
run() { # port pid -> "rps cpu_us_per_request"
    local before after rps
    before=$(cpu_ticks "$2")
    rps=$(redis-benchmark -p "$1" -c 50 -n "$N" --csv eval "return redis.call('incr',KEYS[1])" 1 k 2>/dev/null | tail -n 1 | awk -F'","' '{ print $2 }')
    after=$(cpu_ticks "$2")
    awk -v r="$rps" -v t=$((after - before)) -v hz="$HZ" -v n="$N" 'BEGIN { printf "%s %.2f\n", r, t * 1e6 / hz / n }'
}
echo "== redis-benchmark -c 50 -n $N eval \"return redis.call('incr',KEYS[1])\" 1 k; fake ($FAKE_BIN) vs redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/')"
echo "round fake_rps real_rps fake/real fake_cpu_us/req real_cpu_us/req"
for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) -eq 1 ]; then
        f=$(run "$FAKE_PORT" "$FAKE_PID"); g=$(run "$REAL_PORT" "$REAL_PID")
    else
        g=$(run "$REAL_PORT" "$REAL_PID"); f=$(run "$FAKE_PORT" "$FAKE_PID")
    fi
    set -- $f $g
    awk -v r="$r" -v f="$1" -v g="$3" -v fc="$2" -v gc="$4" 'BEGIN { printf "%d %s %s %.2f %s %s\n", r, f, g, f / g, fc, gc }'
done
