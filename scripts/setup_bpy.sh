#!/usr/bin/env bash
# Create ./.venv-bpy<VERSION> with an older Blender-as-a-module and what the add-on's tests need, to check the
# add-on against the Blender versions it supports (4.2 LTS … 5.0), at the versions pinned in
# requirements/bpy-<major.minor>.lock (refreshed by scripts/lock.sh). Usage: scripts/setup_bpy.sh 4.2.23
# Installs with uv from ./.venv (scripts/setup.sh puts it there), or pip when there is none.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$1
venv=".venv-bpy${version%.*}"
lock="requirements/bpy-${version%.*}.lock"
[ -f "$lock" ] || { echo "no $lock: pin bpy $version with scripts/lock.sh first" >&2; exit 1; }
stamp="$venv/.mace-installed-$version-$(cksum < "$lock" | cut -d' ' -f1)"
[ -f "$stamp" ] && exit 0
python_bin=$(.venv/bin/python -c 'import sys; print(sys._base_executable)')  # the Python 3.11 .venv was made with
echo "==> creating $venv with bpy $version (Blender $version as a Python module)"
rm -rf "$venv"
"$python_bin" -m venv "$venv"
if [ -x .venv/bin/uv ] && [ "${MACE_INSTALLER:-uv}" = uv ]; then
  .venv/bin/uv pip install --quiet --python "$venv/bin/python" --compile-bytecode -r "$lock"
else
  "$venv/bin/python" -m pip install --quiet -r "$lock"
fi
touch "$stamp"
