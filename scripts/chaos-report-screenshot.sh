#!/usr/bin/env bash
# A PNG of a chaos HTML report in headless Chromium (Debian's `chromium`), as
# docs/chaos-report.png was made: scripts/chaos-report-screenshot.sh [REPORT] [OUT] [HEIGHT]
set -euo pipefail
REPORT=${1:-target/chaos/report.html}
OUT=${2:-docs/chaos-report.png}
HEIGHT=${3:-1800}
chromium --headless --disable-gpu --no-sandbox --hide-scrollbars --window-size=1100,"$HEIGHT" \
    --screenshot="$(realpath -m "$OUT")" "file://$(realpath "$REPORT")" 2>/dev/null
echo "$OUT"
