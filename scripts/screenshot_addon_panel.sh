#!/usr/bin/env bash
# The README's screenshot of the Dance tab in a real Blender window (docs/blender_panel.png): builds the add-on's
# zip, makes a short dance with the backend's embedded choreographer, and runs scripts/screenshot_addon_panel.py
# in a Blender window on a virtual X display.
#
#   scripts/screenshot_addon_panel.sh                   # BLENDER=blender, PYTHON=.venv/bin/python
#   BLENDER=/path/to/blender scripts/screenshot_addon_panel.sh docs/blender_panel.png
#
# Needs xvfb-run, xwd and netpbm (Debian: apt-get install xvfb xauth x11-apps netpbm). The Blender runs with a
# throwaway HOME, so the add-on is installed from the zip into a fresh user folder, not into yours.
set -euo pipefail
cd "$(dirname "$0")/.."
BLENDER=${BLENDER:-blender}
PYTHON=${PYTHON:-.venv/bin/python}
OUT=${1:-docs/blender_panel.png}
MUSIC=examples/music/groove_120bpm.ogg
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PYTHON" scripts/build_addon.py --wheels-dir build/wheels
"$PYTHON" -m backend.cli generate "$MUSIC" -o "$work/dance" --seed 3 --duration 6 --generator choreographer --no-preview
mkdir -p "$work/home"
HOME="$work/home" xvfb-run -a -s "-screen 0 1920x1080x24" "$BLENDER" --python scripts/screenshot_addon_panel.py -- \
    --zip "build/mace_dance-$(sed -n 's/^version = "\(.*\)"/\1/p' blender_addon/blender_manifest.toml).zip" \
    --motion "$(ls "$work"/dance/*.npz | head -1)" --music "$MUSIC" --out "$OUT"
