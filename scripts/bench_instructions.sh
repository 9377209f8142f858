#!/usr/bin/env bash
# Instructions per request, counted by callgrind (repeatable whatever else
# the machine does, unlike requests/s on a shared 2-core box): the server
# runs under `valgrind --tool=callgrind` twice, serving N1 and then N2
# requests of one redis-benchmark test, and the difference of the two totals
# over N2-N1 is what one request costs (start-up and shutdown cancel out).
# Usage: scripts/bench_instructions.sh BIN [TEST=set] [PIPELINE=16] [N1=20000] [N2=60000]
#   BIN: a `redis-harness` release binary (`serve` subcommand).
set -euo pipefail
BIN=${1:?usage: bench_instructions.sh BIN [TEST] [PIPELINE] [N1] [N2]}
TEST=${2:-set}
P=${3:-16}
N1=${4:-20000}
N2=${5:-60000}
for tool in valgrind callgrind_annotate redis-benchmark redis-cli; do
    command -v "$tool" >/dev/null || { echo "bench_instructions: $tool not found (apt-get install valgrind redis-tools)" >&2; exit 2; }
done
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
total() { # requests -> instructions the server executed
    local n=$1 port pid
    port=$(free_port)
    valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.$n" "$BIN" serve --port "$port" >"$TMP/log.$n" 2>&1 &
    pid=$!
    for _ in $(seq 1 600); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    redis-benchmark -p "$port" -t "$TEST" -n "$n" -c 10 -P "$P" -q >/dev/null
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    callgrind_annotate "$TMP/cg.$n" >"$TMP/annotate.$n" 2>/dev/null
    awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }' "$TMP/annotate.$n"
}
a=$(total "$N1")
b=$(total "$N2")
echo "$BIN: $TEST -P $P: $(( (b - a) / (N2 - N1) )) instructions per request (totals $a for $N1, $b for $N2)"
