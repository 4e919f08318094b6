#!/usr/bin/env bash
# Build a wheel, install it into a fresh venv and run it from another folder.
# Usage: packaging/wheel_smoke.sh [SCREENSHOT.png]  (the screenshot is kept only when asked for)
set -euo pipefail
SHOT_OUT="${1:+$(realpath -m "$1")}"
cd "$(dirname "$0")/.."
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT  # the venv alone is ~370 MB
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q --upgrade pip
"$WORK/venv/bin/pip" wheel -q --no-deps -w "$WORK/wheel" .
"$WORK/venv/bin/pip" install -q "$WORK"/wheel/*.whl
FIXTURE="$(pwd)/tests/data/tf_jpeg/slide_000.tfrecords"
cp "$FIXTURE" "$WORK/"
cd "$WORK"
venv/bin/tfr-viewer --version
venv/bin/tfr-viewer info "$WORK/slide_000.tfrecords"
venv/bin/python -c "from tfr_viewer.resources import icon_path; assert icon_path().is_file() and icon_path(256).is_file(); print('icons in the wheel: OK')"
QT_QPA_PLATFORM=offscreen TFR_VIEWER_CONFIG_DIR="$WORK/config" TFR_VIEWER_CACHE_DIR="$WORK/cache" timeout 120 \
  venv/bin/tfr-viewer --demo --screenshot "$WORK/wheel.png" --quit-after-load  # the demo is generated afresh
[ -s "$WORK/wheel.png" ] || { echo "no screenshot written" >&2; exit 1; }
[ -z "$SHOT_OUT" ] || cp "$WORK/wheel.png" "$SHOT_OUT"
echo "wheel smoke OK${SHOT_OUT:+: $SHOT_OUT}"
