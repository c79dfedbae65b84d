#!/usr/bin/env bash
# Create ./.venv-bpy<VERSION> with an older Blender-as-a-module and what the add-on's tests need, to check the
# add-on against the Blender versions it supports (4.2 LTS … 5.0). Usage: scripts/setup_bpy.sh 4.2.23
set -euo pipefail
cd "$(dirname "$0")/.."
version=$1
venv=".venv-bpy${version%.*}"
stamp="$venv/.mace-installed-$version"
[ -f "$stamp" ] && exit 0
python_bin=$(.venv/bin/python -c 'import sys; print(sys._base_executable)')  # the Python 3.11 .venv was made with
echo "==> creating $venv with bpy $version (Blender $version as a Python module)"
rm -rf "$venv"
"$python_bin" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
# Blender 4.x wheels are built against numpy 1.x.
"$venv/bin/python" -m pip install --quiet "bpy==$version" "numpy<2" scipy msgpack pyzmq pytest pytest-timeout hypothesis
touch "$stamp"
