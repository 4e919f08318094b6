#!/usr/bin/env bash
# Build a wheel, install it into a fresh venv and run it from another folder.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=$(mktemp -d)
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
QT_QPA_PLATFORM=offscreen TFR_VIEWER_CONFIG_DIR="$WORK/config" timeout 120 \
  venv/bin/tfr-viewer --demo --screenshot "$WORK/wheel.png" --quit-after-load
[ -s "$WORK/wheel.png" ] && echo "wheel smoke OK: $WORK/wheel.png"
