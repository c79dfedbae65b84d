"""``serve --ray`` on a real local Ray cluster: many clients at once, cancel, a worker killed mid-job.

And the other way round: without ``--ray`` the backend never imports Ray.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from backend.cluster.executor import RayExecutor
from backend.cluster.pool import RayWorkerPool
from backend.server import BackendServer
from shared.client import BackendClient
from shared.errors import BackendUnavailableError, JobCancelledError
from tests.cluster.cluster_fakes import StepEngines
from tests.server.server_fakes import REPO, wav_bytes

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # slow: each test starts a local Ray cluster

MUSIC = REPO / "examples" / "music" / "groove_120bpm.ogg"


def _wait_until(condition, timeout_s: float, what: str, clients=(), events: list | None = None) -> None:
    """Poll ``clients`` (collecting their events into ``events``) until ``condition()``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        for client in clients:
            polled = client.poll()
            if events is not None:
                events.extend(polled)
        time.sleep(0.05)


def test_serve_ray_runs_several_clients_jobs_at_once(ray_cluster, tmp_path):
    from backend.choreography import ChoreographerGenerator
    from backend.cli import build_parser
    from backend.cli.serve import build_server
    from backend.motion_generation import MotionRequest

    args = build_parser().parse_args(["serve", "--address", "tcp://127.0.0.1:0", "--ray", "local",
                                      "--generator", "choreographer", "--renderer", "puppet"])
    server, close = build_server(args, work_root=tmp_path, heartbeat_interval_s=0.2)
    clients = []
    try:
        server.start()
        clients = [BackendClient(server.endpoint, timeout_s=60) for _ in range(3)]
        hello = clients[0].hello()
        assert hello.device == "ray" and hello.cluster.cpus == 2 and hello.cluster.gpus == 0
        assert hello.cluster.placement == {"generate_motion": "cpu", "render_video": "cpu"}
        assert hello.cluster.workers == ()  # workers start as jobs need them
        audio = MUSIC.read_bytes()
        jobs = [client.submit_generate_motion(audio, "groove.ogg", seed=seed, duration_s=3.0)
                for seed, client in enumerate(clients, start=1)]
        on_workers_at_once, one_waited = [0], [False]

        def watch() -> bool:
            on_workers = [job for job in jobs if job.state == "running" and job.progress > 0]
            on_workers_at_once[0] = max(on_workers_at_once[0], len(on_workers))
            one_waited[0] |= any(job.message == "waiting for a free CPU worker" for job in jobs)
            return all(job.done for job in jobs)

        _wait_until(watch, 600, "three jobs", clients)
        assert [job.state for job in jobs] == ["done"] * 3, [job.error for job in jobs]
        assert on_workers_at_once[0] == 2  # one worker per free CPU, both busy at once
        assert one_waited[0]  # the third job waited its turn
        # a render job: its photo and music travel to the worker, the mp4 comes back
        keypoints = json.loads((REPO / "examples" / "reference_keypoints.json").read_text())
        video = clients[0].wait(clients[0].submit_render_video(
            jobs[0].result.motion, (REPO / "examples" / "reference.png").read_bytes(), audio_bytes=audio,
            audio_name="groove.ogg", width=128, height=192, options={"reference_keypoints": keypoints}), 600)
        assert video.video_bytes[4:8] == b"ftyp" and video.frames == jobs[0].result.motion.num_frames
        workers = clients[0].hello().cluster.workers  # what each worker loaded and can run
        assert len(workers) == 2 and {w.device for w in workers} == {"cpu"}
        assert all(w.loaded == ("choreographer", "puppet") for w in workers), workers
        assert all(set(w.can_run) == {"generate_motion", "render_video"} for w in workers)
    finally:
        for client in clients:
            client.close()
        server.stop(timeout_s=30)
        close()
    # What the workers made is exactly what the choreographer makes here for the same request.
    path = tmp_path / "groove.ogg"
    path.write_bytes(audio)
    local = ChoreographerGenerator().generate(MotionRequest(audio_path=path, seed=2, duration_s=3.0))
    assert jobs[1].result.motion.allclose(local.motion)
    assert not jobs[0].result.motion.allclose(local.motion)  # seeds differ, dances differ


@pytest.fixture
def step_backend(ray_cluster, tmp_path):
    """A backend whose 2 Ray CPU workers run 8 s fake jobs (0.04 s steps, cancellable between them)."""
    pool = RayWorkerPool(StepEngines(steps=200, step_s=0.04), placement={"motion": "cpu"}, max_workers={"cpu": 2})
    server = BackendServer("tcp://127.0.0.1:0", motion_generator=StepEngines().build("motion", "cpu"),
                           executor=RayExecutor.factory(pool, max_retries=1), work_root=tmp_path,
                           heartbeat_interval_s=0.2)
    server.start()
    client = BackendClient(server.endpoint, timeout_s=60)
    yield server, client
    client.close()
    server.stop(timeout_s=30)
    pool.close()


def _worker_pid(server: BackendServer, job) -> int:
    import ray

    actor = server._worker.worker_for(job.id)
    assert actor is not None, f"job {job.id} is not running on a worker"
    return ray.get(actor.describe.remote(), timeout=60)["pid"]


def test_cancel_reaches_the_running_task_and_a_killed_worker_is_retried(step_backend):
    server, client = step_backend
    audio = wav_bytes(1.2)
    doomed, survivor = (client.submit_generate_motion(audio, "a.wav", seed=seed) for seed in (1, 2))
    _wait_until(lambda: doomed.progress > 0.05 and survivor.progress > 0.05, 300, "both jobs to run", [client])

    client.cancel(doomed)
    cancelled_at = time.monotonic()
    _wait_until(lambda: doomed.done, 30, "the cancelled job to stop", [client])
    assert doomed.state == "cancelled" and isinstance(doomed.error, JobCancelledError)
    assert doomed.progress < 0.9 and time.monotonic() - cancelled_at < 10  # it stopped mid-job, between steps
    # the freed worker takes the next job at once (it would wait if the cancelled task still ran)
    follower = client.submit_generate_motion(audio, "a.wav", seed=3)
    _wait_until(lambda: follower.state == "running", 60, "the next job to start on the freed worker", [client])

    events = []
    os.kill(_worker_pid(server, survivor), signal.SIGKILL)
    _wait_until(lambda: survivor.done, 300, "the retried job", [client], events)
    messages = [event.payload.get("message", "") for event in events if event.job is survivor]
    assert any("died; retrying from the start (try 2 of 2)" in m for m in messages), set(messages)
    assert survivor.state == "done", survivor.error
    assert survivor.result.motion.metadata["seed"] == 2  # the retry ran the same request
    _wait_until(lambda: follower.done, 300, "the follower", [client])
    assert follower.state == "done"


def test_a_killed_worker_without_retries_gives_a_clear_error(step_backend):
    server, client = step_backend
    server._worker.max_retries = 0
    job = client.submit_generate_motion(wav_bytes(1.2), "a.wav", seed=4)
    _wait_until(lambda: job.progress > 0.05, 300, "the job to run", [client])
    os.kill(_worker_pid(server, job), signal.SIGKILL)
    _wait_until(lambda: job.done, 120, "the job to fail", [client])
    assert job.state == "failed" and isinstance(job.error, BackendUnavailableError)
    assert "worker running this job died (once; retries are off)" in job.error.message
    assert "ray status" in job.error.hint
    # the worker was restarted by Ray: the backend keeps serving
    again = client.submit_generate_motion(wav_bytes(1.2), "a.wav", seed=5)
    _wait_until(lambda: again.done, 300, "a job after the restart", [client])
    assert again.state == "done", again.error


def test_serve_without_ray_never_imports_ray(tmp_path):
    script = (
        "import sys\n"
        "from backend.cli import build_parser\n"
        "from backend.cli.serve import build_server\n"
        "args = build_parser().parse_args(['serve', '--address', 'tcp://127.0.0.1:0', '--generator', 'choreographer',"
        " '--renderer', 'puppet'])\n"
        "server, close = build_server(args)\n"
        "server.start(); assert server.hello_info().cluster is None; server.stop(10); close()\n"
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith(('ray.', 'backend.cluster'))))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_a_render_whose_worker_died_continues_from_its_last_segment(ray_cluster, tmp_path):
    from tests.cluster.cluster_fakes import SegmentEngines
    from tests.server.server_fakes import make_motion, png_bytes

    engines = SegmentEngines(segments=40, step_s=0.1)
    pool = RayWorkerPool(engines, max_workers={"cpu": 1})  # one worker: Ray restarts it on this node
    server = BackendServer("tcp://127.0.0.1:0", motion_generator=engines.build("motion", "cpu"),
                           video_renderer=engines.build("video", "cpu"), executor=RayExecutor.factory(pool),
                           work_root=tmp_path, heartbeat_interval_s=0.2)
    server.start()
    client = BackendClient(server.endpoint, timeout_s=60)
    try:
        job = client.submit_render_video(make_motion(20), png_bytes(64, 96), width=64, height=96)
        _wait_until(lambda: job.progress >= 0.25, 300, "ten segments", [client])
        os.kill(_worker_pid(server, job), signal.SIGKILL)
        _wait_until(lambda: job.done, 300, "the retried render", [client])
        assert job.state == "done", job.error
        kept = int(job.result.video_bytes.split(b":")[1])
        assert 10 <= kept < 40  # the retry took up what the killed try had finished, and rendered the rest
    finally:
        client.close()
        server.stop(timeout_s=30)
        pool.close()


@pytest.mark.slow  # two Ray nodes that each import torch and build a tiny Wan; two 4-segment renders (~1 min)
def test_a_render_whose_node_died_continues_on_another_node_frame_for_frame(ray_cluster, ray_nodes, tmp_path):
    """The worker's node dies during segment 3 of 4 (each node has a temporary folder of its own, so
    nothing is shared through a disk): the retry runs on another node, restores the two finished segments
    from the head, denoises only segments 3 and 4, and returns the very video an uninterrupted render does."""
    import io
    import shutil

    import numpy as np
    from PIL import Image
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from backend.appearance.video_io import read_frames
    from backend.appearance.wan import WanAnimateRenderer
    from tests.backend.appearance.conftest import draw_person
    from tests.backend.appearance.test_wan_animate import tiny_options
    from tests.cluster.cluster_fakes import STALL_AT_SEGMENT, TinyWanEngines
    from tests.server.server_fakes import make_motion

    @ray_cluster.remote(num_cpus=2)
    class HeadCpus:  # keeps the workers off the head, so that its node can die
        def ready(self):
            return True

    head = NodeAffinitySchedulingStrategy(ray_cluster.get_runtime_context().get_node_id(), soft=False)
    holder = HeadCpus.options(scheduling_strategy=head).remote()
    ray_cluster.get(holder.ready.remote(), timeout=60)
    first = ray_nodes.add_node(num_cpus=1, env_vars={"TMPDIR": str(tmp_path / "tmp-a"), STALL_AT_SEGMENT: "3"})
    (tmp_path / "tmp-a").mkdir()
    (tmp_path / "tmp-b").mkdir()
    second = None
    pool = RayWorkerPool(TinyWanEngines(), max_workers={"cpu": 1})
    server = BackendServer("tcp://127.0.0.1:0", motion_generator=TinyWanEngines().build("motion", "cpu"),
                           video_renderer=WanAnimateRenderer(options=tiny_options()),  # parses options only
                           executor=RayExecutor.factory(pool), work_root=tmp_path, heartbeat_interval_s=0.2)
    server.start()
    client = BackendClient(server.endpoint, timeout_s=60)
    photo = io.BytesIO()
    Image.fromarray(draw_person(64, 96)).save(photo, format="PNG")
    try:
        events = []
        job = client.submit_render_video(make_motion(30), photo.getvalue(), width=64, height=96)
        _wait_until(lambda: "segment 3/4" in job.message or job.done, 600, "segment 3 on the first node", [client], events)
        assert not job.done, job.error
        assert ray_cluster.get(server._worker.worker_for(job.id).describe.remote(), timeout=60)["node"] == first.node_id
        kept = sorted(path.name for path in (tmp_path / "tmp-a").rglob("segment-*.npz"))
        assert kept == ["segment-00000.npz", "segment-00001.npz"]  # on the first node's own disk
        second = ray_nodes.add_node(num_cpus=1, env_vars={"TMPDIR": str(tmp_path / "tmp-b")})
        ray_nodes.remove_node(first)  # the worker and its node's disk are gone:
        shutil.rmtree(tmp_path / "tmp-a")
        _wait_until(lambda: job.done, 600, "the retried render", [client], events)
        assert job.state == "done", job.error
        retry = ray_cluster.get(pool.workers["cpu"][0].describe.remote(), timeout=60)
        assert retry["node"] == second.node_id

        messages = [event.payload.get("message", "") for event in events if event.job is job]
        retried = next(i for i, m in enumerate(messages) if "retrying from its last finished segment (try 2 of 2)" in m)
        after = messages[retried:]
        assert "segment 2/4 kept from before" in after and "segment 3/4 kept from before" not in after
        denoised = {m.split(",")[0] for m in after if ", step " in m}
        assert denoised == {"segment 3/4", "segment 4/4"}, denoised  # segments 1 and 2 came from the head
        _wait_until(lambda: ray_cluster.get(pool.keeper.held.remote()) == 0, 30, "the keeper to drop the job")
        assert not any((tmp_path / "tmp-b").rglob("segment-*.npz"))  # the video is written: the node's copy went

        whole = client.submit_render_video(make_motion(30), photo.getvalue(), width=64, height=96)
        _wait_until(lambda: whole.done, 600, "the uninterrupted render", [client])
        assert whole.state == "done", whole.error
        frames = []
        for name, result in (("resumed.mp4", job.result), ("whole.mp4", whole.result)):
            (tmp_path / name).write_bytes(result.video_bytes)
            frames.append(list(read_frames(tmp_path / name)))
        assert len(frames[0]) == len(frames[1]) == 30
        assert all(np.array_equal(a, b) for a, b in zip(*frames))
    finally:
        client.close()
        server.stop(timeout_s=30)
        pool.close()
        ray_cluster.kill(holder)
        for node in (first, second):
            if node is not None and node in ray_nodes.worker_nodes:
                ray_nodes.remove_node(node)
