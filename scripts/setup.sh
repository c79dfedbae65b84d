#!/usr/bin/env bash
# Create ./.venv with everything MACE-Dance Studio and its tests need. Safe to run again: it reinstalls
# only when pyproject.toml or this script changed. Pip's cache (~/.cache/pip) keeps later runs fast.
set -euo pipefail
cd "$(dirname "$0")/.."

# bpy 5.0.1 (Blender as a Python module, used by the add-on tests) exists for CPython 3.11 only.
PYTHON_BIN=${PYTHON:-}
if [ -z "$PYTHON_BIN" ]; then
  for candidate in python3.11 python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 && \
       "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      PYTHON_BIN=$candidate; break
    fi
  done
fi
if [ -z "$PYTHON_BIN" ]; then
  echo "MACE-Dance Studio needs Python 3.11 (bpy 5.0.1 is built for it). Install it, or set PYTHON=/path/to/python3.11." >&2
  exit 1
fi

# The CPU build of torch keeps the install small; set TORCH_SPEC (e.g. "torch==2.13.0" from the CUDA index)
# for a GPU machine.
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
EXTRAS=${MACE_EXTRAS:-dev,blender,cluster}

# The stamp holds the checksum of the install recipe, then one installed extra per line: an install that
# already has every requested extra (for the same recipe) is reused.
stamp=.venv/.mace-installed
recipe=$(cat pyproject.toml scripts/setup.sh | cksum | cut -d' ' -f1)
wanted=$(printf '%s\n' ${EXTRAS//,/ } | sort -u)
have=""
if [ -f "$stamp" ] && [ "$(head -n 1 "$stamp")" = "$recipe" ]; then
  have=$(tail -n +2 "$stamp")
fi
missing=$(comm -23 <(printf '%s\n' "$wanted") <(printf '%s\n' "$have" | sort -u) | grep -v '^$' || true)

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $PYTHON_BIN"
  "$PYTHON_BIN" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ "$(head -n 1 "$stamp")" != "$recipe" ] || [ -n "$missing" ]; then
  all=$(printf '%s\n' $wanted $have | grep -v '^$' | sort -u | paste -sd, -)
  echo "==> installing MACE-Dance Studio [$all] into .venv (first run takes a few minutes)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet "$TORCH_SPEC"
  .venv/bin/python -m pip install --quiet -e ".[$all]"
  # Reference-photo perception: mediapipe 0.10.21 is the last release whose wheel ships the pose and
  # segmentation models (so nothing is downloaded at run time). Its declared dependencies would pull jax and
  # opencv-contrib-python (which clashes with opencv-python-headless), so it goes in without them; what it
  # really imports (protobuf<5, absl-py, flatbuffers, attrs, matplotlib) is in pyproject.toml.
  .venv/bin/python -m pip install --quiet --no-deps "mediapipe==0.10.21"
  printf '%s\n' "$recipe" ${all//,/ } > "$stamp"
fi
