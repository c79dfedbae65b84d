"""Placement per job on a real local Ray cluster: a GPU node that joins after the backend started gets the
GPU jobs; a GPU job on a cluster without a GPU fails at once with the reason; weights are checked on the
worker that would use them, not on the head."""

from __future__ import annotations

import time

import pytest

from backend.cli import main
from backend.cluster.executor import RayExecutor
from backend.cluster.pool import RayWorkerPool, placement_for
from backend.cluster.serve import OnWorkers, head_engines
from backend.config import BackendConfig
from backend.jobwork import EngineSpec
from backend.server import BackendServer
from shared.client import BackendClient
from shared.errors import BackendUnavailableError, MissingWeightsError
from tests.cluster.cluster_fakes import StepEngines
from tests.server.server_fakes import wav_bytes

def test_engines_that_need_a_gpu_are_placed_on_gpu_workers_unless_asked(tmp_path):
    spec = EngineSpec(BackendConfig(home=tmp_path / "no-weights"), generator="motion_expert", renderer="wan")
    generator, renderer = head_engines(spec)  # the head holds no weights, and needs none
    assert generator == OnWorkers("motion_expert") and renderer.name == "wan-animate"
    assert placement_for(generator, renderer) == {"motion": "gpu", "video": "gpu"}
    assert placement_for(generator, renderer, gpu_engines_on_cpu=True) == {"motion": "cpu", "video": "cpu"}
    assert placement_for(OnWorkers("choreographer"), None) == {"motion": "cpu"}


def _backend(pool, tmp_path):
    server = BackendServer("tcp://127.0.0.1:0", motion_generator=StepEngines().build("motion", "cpu"),
                           executor=RayExecutor.factory(pool), work_root=tmp_path, heartbeat_interval_s=0.2)
    server.start()
    return server, BackendClient(server.endpoint, timeout_s=60)


def _wait(job, client, condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what} (job: {job.state}, {job.message!r})"
        client.poll()
        time.sleep(0.05)


@pytest.mark.slow  # starts a Ray node and a worker on it
@pytest.mark.timeout(600)
def test_a_gpu_node_that_joins_after_the_backend_started_gets_its_gpu_jobs(ray_cluster, ray_nodes, tmp_path, capsys):
    pool = RayWorkerPool(StepEngines(steps=4), placement={"motion": "gpu"}, gpu_device="cpu",
                         wait_for_gpu_s=300)  # told to wait: an autoscaler would bring a GPU node
    server, client = _backend(pool, tmp_path)
    node = None
    try:
        assert client.hello().cluster.gpus == 0
        job = client.submit_generate_motion(wav_bytes(1.2), "a.wav", seed=7)
        _wait(job, client, lambda: "waiting for a GPU node" in (job.message or ""), 60, "the job to wait")
        node = ray_nodes.add_node(num_cpus=1, num_gpus=1)  # a CPU node advertising one GPU
        joined = time.monotonic()
        _wait(job, client, lambda: job.done, 120, "the job to run on the new node")
        assert job.state == "done", job.error
        assert time.monotonic() - joined < 60
        assert job.result.motion.metadata == {"seed": 7}
        cluster = client.hello().cluster
        assert cluster.gpus == 1 and len(cluster.nodes) == 2
        (worker,) = cluster.workers
        assert worker.node_id == node.node_id and worker.can_run == ("generate_motion",)
        assert worker.loaded == ("step-fake",) and worker.device == "cpu"  # the device override of the test
        assert main(["info", "--ray", ray_nodes.address]) == 0  # the same, for whoever runs the cluster
        shown = capsys.readouterr().out
        assert "2 node(s), 3 CPU(s), 1 GPU(s)" in shown
        assert f"node {node.node_id[:12]}" in shown and "loaded step-fake; runs generate_motion" in shown
    finally:
        client.close()
        server.stop(timeout_s=30)
        pool.close()
        if node is not None:
            ray_nodes.remove_node(node)


@pytest.mark.slow  # starts Ray workers
@pytest.mark.timeout(300)
def test_a_gpu_job_on_a_cluster_without_gpus_fails_at_once_saying_why(ray_cluster, tmp_path):
    pool = RayWorkerPool(StepEngines(), placement={"motion": "gpu"}, gpu_device="cpu")
    server, client = _backend(pool, tmp_path)
    try:
        started = time.monotonic()
        job = client.submit_generate_motion(wav_bytes(1.2), "a.wav")
        _wait(job, client, lambda: job.done, 60, "the job to fail")
        assert time.monotonic() - started < 60
        assert job.state == "failed" and isinstance(job.error, BackendUnavailableError)
        assert "needs a GPU and the Ray cluster has none" in job.error.message
        assert "--wait-for-gpu" in job.error.hint
    finally:
        client.close()
        server.stop(timeout_s=30)
        pool.close()


@pytest.mark.slow  # starts a Ray worker that looks for the Motion Expert's weights
@pytest.mark.timeout(300)
def test_weights_are_checked_on_the_worker_that_would_use_them(ray_cluster, tmp_path):
    spec = EngineSpec(BackendConfig(home=tmp_path / "no-weights"), generator="motion_expert", renderer="puppet")
    pool = RayWorkerPool(spec, placement={"motion": "cpu"}, max_workers={"cpu": 1})
    (tmp_path / "jobs").mkdir()
    server, client = _backend(pool, tmp_path / "jobs")
    try:
        job = client.submit_generate_motion(wav_bytes(1.2), "a.wav")
        _wait(job, client, lambda: job.done, 120, "the job to fail")
        assert job.state == "failed" and isinstance(job.error, MissingWeightsError), job.error
        assert job.error.message.startswith("on Ray node ")
        assert "weights download" in job.error.hint
        assert client.hello().cluster.workers == ()  # the worker that could not load them is gone
    finally:
        client.close()
        server.stop(timeout_s=30)
        pool.close()
