"""A real local Ray cluster (2 CPUs, small object store) shared by the cluster tests, and left clean."""

from __future__ import annotations

import time

import psutil
import pytest



@pytest.fixture(scope="session")
def ray_cluster():
    """``ray.init(num_cpus=2)``; after the last test, Ray is shut down and none of its processes remain."""
    import ray  # the `cluster` extra; scripts/test.sh installs it

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    ray.init(num_cpus=2, object_store_memory=100 * 1024 * 1024, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    yield ray
    ray.shutdown()
    deadline = time.monotonic() + 30
    while True:
        left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before and p.is_running()
                and p.status() != psutil.STATUS_ZOMBIE]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    for process in left:
        process.kill()
    assert not left, f"Ray left processes behind: {[p.name() for p in left]}"
