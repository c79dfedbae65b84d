#!/usr/bin/env bash
# Create ./.venv with everything MACE-Dance Studio and its tests need, at the versions pinned in
# requirements/cpu.lock (refreshed on purpose by scripts/lock.sh). Safe to run again: it reinstalls only when
# pyproject.toml, the lock or this script changed. The installer is uv (pinned, itself installed by pip from
# pip's cache): with its cache (~/.cache/uv) warm a new venv takes seconds, linked from the cache, and the
# bytecode is compiled once here rather than in every process. MACE_INSTALLER=pip uses pip alone (pip's
# cache, ~/.cache/pip, keeps that fast too) with the same pins.
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
UV_SPEC=uv==0.13.9
LOCK=requirements/cpu.lock
# uv reads its own settings: pass on where pip finds local wheels (e.g. a CPU build of torch), if set.
if [ -n "${PIP_FIND_LINKS:-}" ] && [ -z "${UV_FIND_LINKS:-}" ]; then export UV_FIND_LINKS=$PIP_FIND_LINKS; fi

# The stamp holds the checksum of the install recipe, then one installed extra per line: an install that
# already has every requested extra (for the same recipe) is reused.
stamp=.venv/.mace-installed
recipe=$(cat pyproject.toml scripts/setup.sh "$LOCK" | cksum | cut -d' ' -f1)
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
  install=(.venv/bin/python -m pip install --quiet)
  if [ "${MACE_INSTALLER:-uv}" = uv ] && "${install[@]}" "$UV_SPEC"; then
    install=(.venv/bin/uv pip install --quiet --python .venv/bin/python --compile-bytecode)
  else
    "${install[@]}" --upgrade pip
  fi
  # The lock pins every package below the extras (requirements/cpu.lock); torch is pinned by TORCH_SPEC.
  "${install[@]}" -c "$LOCK" "$TORCH_SPEC" -e ".[$all]"
  # Reference-photo perception: mediapipe 0.10.21 is the last release whose wheel ships the pose and
  # segmentation models (so nothing is downloaded at run time). Its declared dependencies would pull jax and
  # opencv-contrib-python (which clashes with opencv-python-headless), so it goes in without them; what it
  # really imports (protobuf<5, absl-py, flatbuffers, attrs, matplotlib) is in pyproject.toml.
  "${install[@]}" --no-deps "mediapipe==0.10.21"
  printf '%s\n' "$recipe" ${all//,/ } > "$stamp"
fi
