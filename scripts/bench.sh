#!/usr/bin/env bash
# Benchmarks for the fake server (numbers, never assertions):
#  1. start-to-first-PONG, median over many starts in one process;
#  2. redis-benchmark throughput against the fake and a real redis-server,
#     side by side, same flags, reported as the ratio fake/real per test
#     and as server CPU time per request.
# Usage: scripts/bench.sh [N_REQUESTS] [ROUNDS]   (defaults 200000, 3)
# BENCH_BIN_DIR=dir runs prebuilt `startup` and `redis-harness` binaries from
# dir instead of building this checkout (to compare two commits back to back).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
ROUNDS=${2:-3}
TESTS=set,get,incr,mset
for bin in redis-server redis-benchmark; do
    command -v "$bin" >/dev/null || { echo "bench: $bin not found (apt-get install redis-server redis-tools)" >&2; exit 2; }
done

if [ -n "${BENCH_BIN_DIR:-}" ]; then
    STARTUP="$BENCH_BIN_DIR/startup"
    SERVE="$BENCH_BIN_DIR/redis-harness"
else
    cargo build --release --quiet --example startup --bin redis-harness
    STARTUP=./target/release/examples/startup
    SERVE=./target/release/redis-harness
fi
echo "== start-up ($STARTUP)"
"$STARTUP" 2000

# shellcheck source=scripts/bench_servers.sh
source scripts/bench_servers.sh "$SERVE"
run() { # port pid test pipeline -> "name,rps,cpu_us_per_request"
    local before after line
    before=$(cpu_ticks "$2")
    line=$(redis-benchmark -p "$1" -t "$3" -c 50 -n "$N" -P "$4" --csv 2>/dev/null | tail -n 1 | cut -d, -f1,2 | tr -d '"')
    after=$(cpu_ticks "$2")
    awk -v l="$line" -v t=$((after - before)) -v hz="$HZ" -v n="$N" 'BEGIN { printf "%s,%.2f\n", l, t * 1e6 / hz / n }'
}

# Each test runs on both servers back to back, ROUNDS times, the order
# alternating, and the table gives the median of each column: this machine
# is a shared VM whose throughput drifts by tens of percent from one minute
# to the next, and pairing the runs makes the drift hit both servers alike.
# Server CPU per request (user + system, from /proc) is the number that load
# disturbs least: a busy machine slows both servers' wall-clock throughput
# but barely changes the work each does per request.
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "== throughput: redis-benchmark -t <test> -c 50 -n $N -P {1,16}, fake vs redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), median of $ROUNDS paired rounds"
printf '| test | pipeline | fake rps | real rps | fake/real | fake CPU us/req | real CPU us/req |\n|---|---|---|---|---|---|---|\n'
for P in 1 16; do
    for t in ${TESTS//,/ }; do
        : > "$TMP/rounds"
        for round in $(seq 1 "$ROUNDS"); do
            if [ $((round % 2)) -eq 1 ]; then
                IFS=, read -r name f fc < <(run "$FAKE_PORT" "$FAKE_PID" "$t" "$P")
                IFS=, read -r _ r rc < <(run "$REAL_PORT" "$REAL_PID" "$t" "$P")
            else
                IFS=, read -r _ r rc < <(run "$REAL_PORT" "$REAL_PID" "$t" "$P")
                IFS=, read -r name f fc < <(run "$FAKE_PORT" "$FAKE_PID" "$t" "$P")
            fi
            echo "$f $r $fc $rc" >> "$TMP/rounds"
        done
        col() { awk -v c="$1" '{ print $c }' "$TMP/rounds" | median; }
        ratio=$(awk '{ print $1 / $2 }' "$TMP/rounds" | median)
        awk -v t="$name" -v p="$P" -v f="$(col 1)" -v r="$(col 2)" -v q="$ratio" -v fc="$(col 3)" -v rc="$(col 4)" \
            'BEGIN { printf "| %s | %s | %.0f | %.0f | %.2f | %.2f | %.2f |\n", t, p, f, r, q, fc, rc }'
    done
done
