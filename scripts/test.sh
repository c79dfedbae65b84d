#!/usr/bin/env bash
# Run the test suite (sets up .venv first) and say how long it took.
#   bash scripts/test.sh            everything: the whole suite on bpy 5.0.1, then the add-on's core tests again
#                                   on Blender 4.2 LTS and 4.5 side by side (each in its own .venv-bpy<version>;
#                                   the slow add-on tests run on 5.0 only)
#   bash scripts/test.sh ARGS...    only pytest with ARGS on the main environment, e.g. `-k protocol`, or the
#                                   fast tier: `-m "not slow"` (every module's core tests)
#
# pytest runs on every core (pytest-xdist, at most 4 workers; MACE_TEST_WORKERS=N to choose, 1 for one process), with
# `--dist loadgroup`: each test file stays on one worker, and files sharing an expensive session fixture or
# warm-up (the Ray cluster, the analysed music, diffusers, the pose model, bpy) share a worker too (the groups
# and the scheduler that reads them are in tests/conftest.py). Each worker's torch/BLAS uses one thread
# (OMP_NUM_THREADS=1 unless set): the workers already fill the cores, more threads only contend.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
trap 'echo "==> scripts/test.sh: $((SECONDS - started)) s in all (load average now: $(cut -d" " -f1-3 /proc/loadavg 2>/dev/null || echo unknown))"' EXIT
bash scripts/setup.sh
echo "==> set-up: $((SECONDS - started)) s"
# Keep compiled modules, and pytest's assertion-rewritten test modules, in the (git-ignored) __pycache__ folders
# even where the environment says not to (PYTHONDONTWRITEBYTECODE): recompiling them costs each test
# process ~3.5 s of its start-up on every run.
unset PYTHONDONTWRITEBYTECODE
workers=${MACE_TEST_WORKERS:-$(nproc 2>/dev/null || echo 1)}
[ "$workers" -gt 4 ] && workers=4
parallel=()
if [ "$workers" -gt 1 ]; then
  parallel=(-n "$workers" --dist loadgroup --no-loadscope-reorder)
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
fi
if [ $# -gt 0 ]; then
  .venv/bin/python -m pytest ${parallel[@]+"${parallel[@]}"} "$@"
  exit
fi
.venv/bin/python -m pytest ${parallel[@]+"${parallel[@]}"}
echo "==> pytest done: $((SECONDS - started)) s"
# The add-on's core tests on the older Blenders: both at once (each is one process; they share nothing but
# the read-only checkout), each reported whole when it ends.
logs=$(mktemp -d)
pids=()
for version in 4.2.23 4.5.15; do
  (
    bash scripts/setup_bpy.sh "$version"
    echo "==> the add-on's core tests on bpy $version"
    MACE_DANCE_BACKEND_PYTHON="$PWD/.venv/bin/python" ".venv-bpy${version%.*}/bin/python" -m pytest tests/blender_addon \
      -q -p no:cacheprovider -m "not slow"
  ) > "$logs/$version.log" 2>&1 &
  pids+=($!)
done
failed=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || failed=1
done
cat "$logs"/4.2.23.log "$logs"/4.5.15.log
rm -rf "$logs"
exit $failed
