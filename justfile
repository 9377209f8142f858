# Recipes are exactly what CI runs: `just ci` here tells you what CI will say.

default: ci

# Everything CI checks.
ci: fmt-check clippy minimal test doc chaos-real

fmt-check:
    cargo fmt --all -- --check

clippy:
    cargo clippy --workspace --all-targets --all-features -- -D warnings

# The crate without its default features (no Lua): it builds, lints clean,
# and its unit tests and the scripting-off test pass.
minimal:
    cargo clippy -p redis-harness --no-default-features --all-targets -- -D warnings
    cargo test -p redis-harness --no-default-features --lib --test scripting_off

# The README's test command (every test binary runs even when one fails),
# then the tests skipped for want of a real Redis or Docker, with the reasons.
test:
    #!/usr/bin/env bash
    set -u
    log="$PWD/target/skipped-tests.txt"; mkdir -p target; : > "$log"
    REDIS_HARNESS_SKIP_LOG="$log" cargo test --workspace --all-features --no-fail-fast; status=$?
    if [ -s "$log" ]; then
        echo; echo "skipped ($(wc -l < "$log"); REDIS_HARNESS_REQUIRE_REAL=1 makes them fail instead):"; sort "$log" | sed 's/^/  /'
    fi
    exit $status

doc:
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --all-features --no-deps

# Run the standalone fake server (Ctrl-C to stop). The same release build as `chaos`.
serve *ARGS:
    cargo run --release -p redis-harness-cli -- serve {{ARGS}}

# Benchmarks: start-up time and redis-benchmark throughput, fake vs real.
bench:
    bash scripts/bench.sh

# Write the test PKI (CA, server, client and broken variants) to fixtures/certs/.
certs:
    cargo run -q -p certs-gen -- --out fixtures/certs

# Build the local Redis image (no registry needed) for container tests.
redis-image:
    bash scripts/redis-image.sh

# Pool benchmark: redis-harness pool vs deadpool-redis, bb8-redis and redis-rs, fake and real server.
bench-pool:
    cargo bench --bench pool_bench

# Tests parametrised by backend, and the differential reference, on a redis-server process.
test-process:
    REDIS_HARNESS_BACKEND=process cargo test --all-features --test backends --test differential --test pool

# The same on a Redis container (all differential scripts); needs Docker and an image:
# `just redis-image` and REDIS_HARNESS_IMAGE=redis-harness/redis:7 (CI exports it).
test-container:
    REDIS_HARNESS_BACKEND=container cargo test --all-features --test backends --test differential --test pool

# Everything on every backend: the full suite (backend tests on all three,
# differential on the process plus the container subset), then the container pass.
test-all: test test-container

# Chaos scenarios (fixtures/scenarios) against the fake server, HTML report in target/chaos/report.html;
# `just chaos reset-storm --backend process --json target/chaos/results.json`. The same build as `serve`.
chaos *ARGS:
    cargo run --release -p redis-harness-cli -- chaos {{ARGS}}

# A backend this machine lacks is skipped with the reason, unless
# REDIS_HARNESS_REQUIRE_REAL=1. Container: `just redis-image` and
# REDIS_HARNESS_IMAGE=redis-harness/redis:7 (CI exports it).
# Every chaos scenario on a real redis-server, then on a Redis container (CI runs this).
chaos-real SEED="42":
    cargo build --release -p redis-harness-cli
    target/release/redis-harness chaos --backend process --seed {{SEED}} --skip-unavailable --json target/chaos/process.json --report target/chaos/process.html
    target/release/redis-harness chaos --backend container --seed {{SEED}} --skip-unavailable --json target/chaos/container.json --report target/chaos/container.html

# The fuzz targets alone (request parser, command dispatch; `just test` runs them too, bounded).
# FUZZ_SEED=N replays a printed seed; failures are kept in proptest-regressions/fuzz.txt.
fuzz:
    cargo test --all-features --test fuzz
    cargo test --all-features --lib protocol::

# Fuzzing, long run (about 100x the bounded one, release build).
fuzz-long CASES="300000":
    PROPTEST_CASES={{CASES}} cargo test --release --all-features --test fuzz -- --nocapture
    PROPTEST_CASES={{CASES}} cargo test --release --all-features --lib protocol:: -- --nocapture

# Pool property suites, long run: >= 10000 cases per suite, seed printed (replay with PROPS_SEED=...).
props-long:
    PROPTEST_CASES=10000 cargo test --release --all-features --test props -- --nocapture
