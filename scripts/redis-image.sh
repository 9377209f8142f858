#!/usr/bin/env bash
# Builds a Redis image from this machine's Debian redis-server, with no
# registry: a root filesystem holding the binary and the libraries `ldd`
# lists, imported with `docker import`.
# Usage: scripts/redis-image.sh [IMAGE]   (default redis-harness/redis:7)
set -euo pipefail
IMAGE=${1:-redis-harness/redis:7}
BIN=$(command -v redis-server || true)
[ -n "$BIN" ] || { echo "redis-image: redis-server not found (apt-get install redis-server)" >&2; exit 2; }
command -v docker >/dev/null || { echo "redis-image: docker not found" >&2; exit 2; }
ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT
mkdir -p "$ROOT/usr/bin" "$ROOT/tmp" "$ROOT/data" "$ROOT/etc"
cp -L "$BIN" "$ROOT/usr/bin/redis-server"
# Every shared library the binary needs, and the dynamic loader.
ldd "$BIN" | grep -o '/[^ ]*' | sort -u | while read -r lib; do
    cp --parents -L "$lib" "$ROOT/"
done
chmod 1777 "$ROOT/tmp"
echo 'root:x:0:0:root:/root:/bin/sh' > "$ROOT/etc/passwd"
echo 'root:x:0:' > "$ROOT/etc/group"
tar -C "$ROOT" -c . | docker import \
    -c 'EXPOSE 6379' \
    -c 'WORKDIR /data' \
    -c 'CMD ["/usr/bin/redis-server", "--bind", "0.0.0.0", "-::*", "--protected-mode", "no", "--save", "", "--appendonly", "no", "--logfile", ""]' \
    - "$IMAGE" >/dev/null
echo "built $IMAGE from $BIN ($(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'))"
