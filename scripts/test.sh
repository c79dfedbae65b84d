#!/usr/bin/env bash
# Run the test suite (sets up .venv first).
#   bash scripts/test.sh            everything: the whole suite on bpy 5.0.1, then the add-on's tests again on
#                                   Blender 4.2 LTS and 4.5 (each in its own .venv-bpy<version>)
#   bash scripts/test.sh ARGS...    only pytest with ARGS on the main environment, e.g. `-k protocol`
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ $# -gt 0 ]; then
  exec .venv/bin/python -m pytest "$@"
fi
.venv/bin/python -m pytest
for version in 4.2.23 4.5.15; do
  bash scripts/setup_bpy.sh "$version"
  echo "==> the add-on's tests on bpy $version"
  MACE_DANCE_BACKEND_PYTHON="$PWD/.venv/bin/python" ".venv-bpy${version%.*}/bin/python" -m pytest tests/blender_addon -q
done
