#!/usr/bin/env bash
# Start the bundled app offscreen on the demo dataset, wait for the window to load, screenshot, exit 0.
set -euo pipefail
cd "$(dirname "$0")/.."
APP=packaging/dist/tfr-viewer/tfr-viewer
[ -x "$APP" ] || { echo "no bundle: run packaging/build.sh first" >&2; exit 1; }
OUT="${1:-packaging/dist/smoke.png}"
rm -f "$OUT"
VERSION=$("$APP" --version)
echo "$VERSION"
case "$VERSION" in *unknown*) echo "the bundle lacks the package metadata (version $VERSION)" >&2; exit 1;; esac
QT_QPA_PLATFORM=offscreen TFR_VIEWER_CONFIG_DIR="$(mktemp -d)" TFR_VIEWER_CACHE_DIR="$(mktemp -d)" timeout 120 \
  "$APP" --demo --fresh-settings --screenshot "$OUT" --quit-after-load
[ -s "$OUT" ] || { echo "no screenshot written" >&2; exit 1; }
echo "smoke OK: $OUT ($(stat -c %s "$OUT") bytes)"
