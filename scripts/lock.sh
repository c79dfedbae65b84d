#!/usr/bin/env bash
# Refresh the pinned installs in requirements/ — on purpose, in a commit of its own, after the tests pass.
#
#   bash scripts/lock.sh                 the newest releases pyproject.toml's ranges allow (then run
#                                        `bash scripts/test.sh` on the new set before committing it)
#   bash scripts/lock.sh --from-venvs    exactly what ./.venv and ./.venv-bpy<version> have installed now
#                                        (the set the tests last passed with), e.g. after a manual upgrade
#
# requirements/cpu.lock pins what scripts/setup.sh installs on a CPU machine (the dev, blender and cluster
# extras and everything below them, for Linux x86_64 and Python 3.11); torch itself is pinned by TORCH_SPEC in
# setup.sh (so a CUDA build can be chosen) and mediapipe by its --no-deps line there; the cuda extra stays a
# range. requirements/bpy-<version>.lock pins each older-Blender venv of scripts/setup_bpy.sh.
# pyproject.toml keeps its ranges for people who pip-install the package.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
uv=.venv/bin/uv
from_venvs=false
[ "${1:-}" = "--from-venvs" ] && from_venvs=true

compile() {  # compile OUTPUT INPUT... [uv options]
  local output=$1; shift
  "$uv" pip compile --quiet --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
    --custom-compile-command "bash scripts/lock.sh" ${UV_FIND_LINKS:+--find-links "$UV_FIND_LINKS"} \
    --upgrade -o "$output" "$@"
}

pins=$(mktemp); trap 'rm -f "$pins"' EXIT
constrain=()
if $from_venvs; then
  .venv/bin/python -m pip freeze --exclude-editable | grep -v '^mediapipe==' > "$pins"
  constrain=(-c "$pins")
fi
compile requirements/cpu.lock pyproject.toml --extra dev --extra blender --extra cluster "${constrain[@]}"
sed -i "s|-c $pins|-c the tested .venv (pip freeze)|" requirements/cpu.lock
# torch: pinned by TORCH_SPEC (CPU or CUDA build); its own dependencies stay pinned here.
sed -i '/^torch==/,/^[^ ]/{/^torch==/d;/^    #/d}' requirements/cpu.lock

for version in 4.2.23 4.5.15; do
  input=$(mktemp)
  { cat requirements/bpy.in; echo "bpy==$version"; } > "$input"
  constrain=()
  venv=".venv-bpy${version%.*}"
  if $from_venvs && [ -x "$venv/bin/python" ]; then
    "$venv/bin/python" -m pip freeze > "$pins"
    constrain=(-c "$pins")
  fi
  compile "requirements/bpy-${version%.*}.lock" "$input" "${constrain[@]}"
  sed -i "s|$input|requirements/bpy.in + bpy==$version|; s|-c $pins|-c the tested $venv (pip freeze)|" \
    "requirements/bpy-${version%.*}.lock"
  rm -f "$input"
done
echo "==> requirements/*.lock refreshed: run bash scripts/test.sh, then commit them on their own"
