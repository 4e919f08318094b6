#!/usr/bin/env bash
# Build a one-folder bundle (packaging/dist/tfr-viewer/) from a clean venv and print its size.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=packaging/build
rm -rf "$BUILD/venv" packaging/dist
python3 -m venv "$BUILD/venv"
"$BUILD/venv/bin/pip" install -q --upgrade pip
"$BUILD/venv/bin/pip" install -q . pyinstaller
"$BUILD/venv/bin/pyinstaller" --noconfirm --clean --log-level WARN \
  --distpath packaging/dist --workpath "$BUILD/work" packaging/tfr-viewer.spec
# Test files that dependencies ship are of no use in the bundle.
find packaging/dist/tfr-viewer -type d \( -name tests -o -name testing \) -prune -exec rm -rf {} +
echo "bundle: packaging/dist/tfr-viewer ($(du -sh packaging/dist/tfr-viewer | cut -f1))"
