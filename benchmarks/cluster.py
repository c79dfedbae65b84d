#!/usr/bin/env python3
"""Jobs per minute for one batch: one after another here, then on a local Ray cluster of 1 and of 2 workers.

    .venv/bin/python benchmarks/cluster.py [--rows 8] [--seconds 3]

The batch is ``--rows`` rows of ``mace-dance batch`` (the embedded choreographer, ``--seconds`` of the
example song each, a different seed per row), run three ways in one process:

1. sequentially in this process (``run_batch`` without Ray) — the baseline;
2. as Ray tasks on a private local cluster with 1 CPU (1 worker: rows run one at a time);
3. the same on a cluster with 2 CPUs (2 workers: 2 rows at a time).

Each way first runs a 2-row warm-up batch (imports, numba's compiled kernels, Ray's worker processes), so
what is timed is steady-state work. A Ray task with ``num_cpus=1`` runs with one thread per math library
(Ray sets ``OMP_NUM_THREADS=1``), so this process does the same, or the baseline would use both cores.
Printed: jobs/minute for each, the speed-up of 2 workers over 1 (on 2 CPU cores it should approach 2x;
other processes on the machine take their share), and the per-job overhead Ray adds, two ways: (time with
1 worker - sequential time) / rows, and the round trip of an empty task on the warm 1-worker cluster.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_variable] = "1"  # as in a Ray worker with num_cpus=1 (before numpy and torch load)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backend.cluster.batch import read_manifest, run_batch  # noqa: E402

MUSIC = REPO / "examples" / "music" / "groove_120bpm.ogg"


def _manifest(folder: Path, rows: int, seconds: float, first_seed: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "batch.csv"
    lines = ["music,seed,duration_s,output"] + [f"{MUSIC},{seed},{seconds},{folder / f'row{seed}.npz'}"
                                                 for seed in range(first_seed, first_seed + rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _timed_batch(folder: Path, rows: int, seconds: float, ray_address: str | None) -> float:
    """Seconds for the batch after a 2-row warm-up; fails loudly if a row failed."""
    warmup = run_batch(read_manifest(_manifest(folder / "warmup", 2, seconds, 10_000), generator="choreographer"),
                       ray_address=ray_address, progress=False)
    rows_ = read_manifest(_manifest(folder / "timed", rows, seconds, 0), generator="choreographer")
    started = time.perf_counter()
    summary = run_batch(rows_, ray_address=ray_address, progress=False)
    elapsed = time.perf_counter() - started
    for result in (warmup, summary):
        if result.count("failed"):
            raise SystemExit(result.report())
    return elapsed


def _empty_task_seconds(runs: int = 50) -> float:
    """Median round trip of a no-op Ray task (submit, schedule on a warm worker, return) on this cluster."""
    import statistics

    import ray

    noop = ray.remote(num_cpus=1)(lambda: None)
    ray.get(noop.remote())
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        ray.get(noop.remote())
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=8, help="rows in the timed batch (default 8)")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds of music per row (default 3)")
    args = parser.parse_args()
    import ray

    with tempfile.TemporaryDirectory(prefix="mace-dance-bench-cluster-") as tmp:
        tmp = Path(tmp)
        times = {"sequential (this process)": _timed_batch(tmp / "seq", args.rows, args.seconds, None)}
        for workers in (1, 2):
            ray.init(num_cpus=workers, object_store_memory=100 * 1024 * 1024, include_dashboard=False,
                     log_to_driver=False, configure_logging=False)
            try:  # run_batch joins the cluster this process already started
                times[f"Ray, {workers} worker{'s' if workers > 1 else ''}"] = _timed_batch(
                    tmp / f"ray{workers}", args.rows, args.seconds, "local")
                if workers == 1:
                    empty_task = _empty_task_seconds()
            finally:
                ray.shutdown()
    print(f"batch of {args.rows} choreographer rows, {args.seconds:g} s of music each (after a 2-row warm-up)")
    for name, elapsed in times.items():
        print(f"  {name:<26} {elapsed:7.1f} s   {60 * args.rows / elapsed:6.1f} jobs/minute")
    sequential, one, two = times.values()
    print(f"  2 workers vs 1 worker: {one / two:.2f}x (ideal 2x on 2 free cores)")
    print(f"  Ray's overhead per job (1 worker vs sequential): {(one - sequential) / args.rows:+.2f} s "
          f"({(one - sequential) / sequential:+.0%} of the sequential time)")
    print(f"  an empty Ray task's round trip (warm worker): {1000 * empty_task:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
