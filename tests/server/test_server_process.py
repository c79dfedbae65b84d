"""A backend in its own process: killed (the client notices within its timeout) or signalled (graceful)."""

from __future__ import annotations

import signal
import time

import pytest

from shared.errors import BackendUnavailableError, JobCancelledError
from tests.server.server_fakes import wav_bytes
from tests.timing import PROMPTLY_S


def wait_running(client, job, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while job.state != "running":
        assert time.monotonic() < deadline, job
        client.poll()
        time.sleep(0.01)


def test_killed_backend_is_reported_within_the_client_timeout(backend_process, connect):
    proc, endpoint = backend_process("--steps", "1000", "--step-s", "0.05")
    client = connect(endpoint, timeout_s=30.0)  # a new process on a loaded machine may be slow to start the job
    job = client.submit_generate_motion(wav_bytes(1.2), "song.wav")
    wait_running(client, job)
    client.timeout_s = 1.0  # from now on 1 s of silence means the backend is gone
    proc.kill()
    proc.wait(5)
    killed = time.monotonic()
    with pytest.raises(BackendUnavailableError, match="no backend answered") as info:
        client.wait(job)
    assert time.monotonic() - killed < PROMPTLY_S  # the client's 1 s, not its default 10 s
    assert "mace-dance serve" in info.value.hint
    assert job.state == "failed"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_cancels_the_running_job_and_replies(backend_process, connect, signum):
    proc, endpoint = backend_process("--steps", "1000", "--step-s", "0.02")
    client = connect(endpoint, timeout_s=5.0)
    running = client.submit_generate_motion(wav_bytes(1.2), "song.wav")
    queued = client.submit_generate_motion(wav_bytes(1.2), "song.wav")
    wait_running(client, running)
    proc.send_signal(signum)
    for job in (running, queued):
        with pytest.raises(JobCancelledError, match="shutting down"):
            client.wait(job, timeout_s=5)
        assert job.state == "cancelled"
    assert proc.wait(10) == 0


def test_job_folders_of_a_killed_backend_are_removed_by_the_next_one(backend_process, connect, tmp_path):
    proc, endpoint = backend_process("--steps", "1000", "--step-s", "0.05", "--work-root", str(tmp_path))
    client = connect(endpoint, timeout_s=30.0)
    running = client.submit_generate_motion(wav_bytes(1.2), "song.wav")
    client.submit_generate_motion(wav_bytes(1.2), "song.wav")  # queued, its folder made too
    wait_running(client, running)
    proc.kill()
    proc.wait(5)
    left = sorted(path.name for path in tmp_path.iterdir())
    assert len(left) == 2 and all(name.startswith(f"mace-dance-job-{proc.pid}-") for name in left)
    _, endpoint = backend_process("--work-root", str(tmp_path))
    assert connect(endpoint).hello().motion_generator == "step-fake"
    assert list(tmp_path.iterdir()) == []
