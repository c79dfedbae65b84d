"""A real local Ray cluster (a head node of 2 CPUs, small object store) shared by the cluster tests, to
which a test may add a node and remove it again (``ray_nodes``), and left clean when the last cluster test
ends (package scope: the tests of other folders never share their process with a Ray driver)."""

from __future__ import annotations

import time

import psutil
import pytest



def _is_ray(process: psutil.Process) -> bool:
    """A live process of Ray's (raylet, GCS, workers): other tests' children (e.g. the server's media-check
    pool) may still run when the session ends and are not Ray's to clean up."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE and "ray" in " ".join(process.cmdline())
    except psutil.Error:  # gone meanwhile
        return False


@pytest.fixture(scope="package")
def ray_nodes():
    """A ``ray.cluster_utils.Cluster``: its head node has 2 CPUs and no GPU; this process is connected to
    it. After the last test, Ray is shut down and none of its processes remain."""
    import ray  # the `cluster` extra; scripts/test.sh installs it
    from ray.cluster_utils import Cluster

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    nodes = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 2, "num_gpus": 0, "object_store_memory": 100 * 1024 * 1024, "include_dashboard": False})
    ray.init(address=nodes.address, log_to_driver=False, configure_logging=False)
    yield nodes
    ray.shutdown()
    nodes.shutdown()
    deadline = time.monotonic() + 30
    while True:
        left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before and _is_ray(p)]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    for process in left:
        process.kill()
    assert not left, f"Ray left processes behind: {[p.name() for p in left]}"


@pytest.fixture(scope="package")
def ray_cluster(ray_nodes):
    """The ``ray`` module, connected to the shared local cluster."""
    import ray

    return ray
