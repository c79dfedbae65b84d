"""Jobs through a live backend on loopback: results, progress, queue, cancel, many clients, heartbeats."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from tests.server.server_fakes import GateGenerator, StepGenerator, make_motion, wav_bytes
from tests.timing import PROMPTLY_S
from shared import protocol
from shared.client import JobHandle
from shared.keep import KeepMask, KeepSpec
from shared.motion import MotionResult
from shared.errors import BackendUnavailableError, InvalidInputError, JobCancelledError, NotFoundError, TooLargeError


def poll_until(client, condition, timeout_s: float = 5.0) -> list:
    """Poll ``client`` until ``condition()`` holds; returns the events seen."""
    events = []
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        events += client.poll()
        time.sleep(0.005)
    return events + client.poll()


def test_hello_describes_the_backend(start_server, connect):
    weights = {"motion_expert": False, "wan_animate": True, "mace_appearance": True}
    server = start_server(StepGenerator(), device="cpu", installed_weights=weights)
    info = connect(server).hello()
    assert isinstance(info, protocol.Hello) and info.cluster is None
    assert info.weights == weights  # what the add-on's backend status shows
    assert info.protocol_version == protocol.PROTOCOL_VERSION
    assert info.motion_generator == "step-fake"
    assert info.video_renderer is None and info.capabilities.render_video is False
    assert info.device == "cpu"
    assert info.capabilities.limits["max_frames"] == protocol.MAX_FRAMES
    assert "Hiphop" in info.genres


def test_generate_motion_returns_the_generators_motion_and_cleans_up_audio(start_server, connect, tmp_path):
    generator = StepGenerator(steps=2)
    server = start_server(generator)
    client = connect(server)
    job = client.submit_generate_motion(wav_bytes(1.2), "song.wav", seed=7, genre="hiphop",
                                        duration_s=1.0, start_s=0.1)
    result = client.wait(job, timeout_s=10)
    assert client.status(job).job_state == "done"
    assert isinstance(result, MotionResult)
    assert result.motion.allclose(make_motion(30, seed=7))
    assert result.motion.metadata == {"seed": 7}
    np.testing.assert_allclose(result.beats, [0.5, 1.0])
    assert result.tempo == 120.0 and result.generator == "step-fake"
    request = generator.requests[0]
    assert (request.seed, request.genre, request.duration_s, request.start_s) == (7, "hiphop", 1.0, 0.1)
    assert request.audio_path.name == "music"  # the decoder tells the format by content
    assert generator.audio_seen == [True]  # the audio file existed while the job ran …
    assert not request.audio_path.exists()  # … and is gone afterwards
    assert list(tmp_path.iterdir()) == []


def test_keep_spec_reaches_the_generator(start_server, connect):
    generator = StepGenerator()
    server = start_server(generator)
    motion = make_motion(36, seed=1)  # 1.2 s: the whole song
    joints = np.zeros(24, bool)
    joints[[0, 3]] = True
    mask = KeepMask.regenerate(36, frames=np.arange(36) >= 4, joints=joints)
    keep = KeepSpec(motion, mask)
    connect(server).generate_motion(wav_bytes(1.2), "song.wav", keep=keep)
    received = generator.requests[0].keep
    assert isinstance(received, KeepSpec)
    assert received.motion.allclose(motion)
    np.testing.assert_array_equal(received.mask.cells, mask.cells)


def test_progress_streams_before_the_single_result(start_server, connect):
    server = start_server(StepGenerator(steps=4, step_s=0.06))
    client = connect(server)
    job = client.submit_generate_motion(wav_bytes(1.2), "song.wav")
    events = poll_until(client, lambda: job.done)
    kinds = [event.type for event in events if event.job is job]
    assert kinds[0] == "accepted" and kinds[-1] == "result" and kinds.count("result") == 1
    progress = [event.payload["progress"] for event in events if event.type == "progress"]
    assert progress == sorted(progress) and progress[-1] == 1.0 and len(progress) >= 4
    assert job.state == "done" and job.progress == 1.0 and job.error is None


def test_queue_positions_are_reported_and_updated(start_server, connect):
    generator = GateGenerator()
    server = start_server(generator)
    client = connect(server)
    jobs = [client.submit_generate_motion(wav_bytes(1.2), "song.wav", seed=i) for i in range(3)]
    poll_until(client, lambda: jobs[0].state == "running" and jobs[2].queue_position == 1)
    assert [job.state for job in jobs] == ["running", "queued", "queued"]
    assert [job.queue_position for job in jobs] == [None, 0, 1]
    assert client.status(jobs[2]).queue_position == 1
    generator.release()
    poll_until(client, lambda: jobs[0].done and jobs[1].state == "running")
    assert jobs[2].queue_position == 0
    generator.release()
    poll_until(client, lambda: jobs[1].done and generator.started.is_set())
    generator.release()
    poll_until(client, lambda: jobs[2].done)
    assert [job.result.motion.metadata["seed"] for job in jobs] == [0, 1, 2]


def test_cancel_mid_job_stops_between_steps(start_server, connect):
    generator = StepGenerator(steps=200, step_s=0.02)
    server = start_server(generator)
    client = connect(server)
    job = client.submit_generate_motion(wav_bytes(1.2), "song.wav")
    poll_until(client, lambda: job.progress > 0.02)
    client.cancel(job)
    with pytest.raises(JobCancelledError, match="cancelled by its client"):
        client.wait(job, timeout_s=5)
    assert job.state == "cancelled" and job.done
    assert generator.steps_done < 100
    # The worker is free again: the next job runs.
    generator.steps = 1
    assert client.generate_motion(wav_bytes(1.2), "song.wav").tempo == 120.0


def test_cancel_a_queued_job(start_server, connect):
    generator = GateGenerator()
    server = start_server(generator)
    client = connect(server)
    first = client.submit_generate_motion(wav_bytes(1.2), "song.wav")
    second = client.submit_generate_motion(wav_bytes(1.2), "song.wav")
    poll_until(client, lambda: second.queue_position == 0)
    client.cancel(second)
    poll_until(client, lambda: second.done)
    assert second.state == "cancelled" and "before it started" in second.error.message
    generator.release()
    assert client.wait(first, timeout_s=5).motion.num_frames == 30
    assert len(generator.requests) == 1


def test_a_client_cannot_cancel_another_clients_job(start_server, connect):
    generator = GateGenerator()
    server = start_server(generator)
    owner, other = connect(server), connect(server)
    job = owner.submit_generate_motion(wav_bytes(1.2), "song.wav")
    poll_until(owner, lambda: job.state == "running")
    other.hello()  # a client with its own token
    stolen = JobHandle(job.id, job.kind)  # the other client learnt the id somehow
    other._jobs[job.id] = stolen
    other.cancel(stolen)
    with pytest.raises(NotFoundError, match="no job"):
        other.wait(stolen, timeout_s=5)
    generator.release()
    assert owner.wait(job, timeout_s=5) is job.result


def test_concurrent_clients_each_get_their_own_results(start_server, connect):
    server = start_server(StepGenerator(steps=2, step_s=0.01))
    clients = [connect(server) for _ in range(4)]
    audio = wav_bytes(1.2)
    results: dict[int, list[int]] = {}
    errors = []

    def use(index: int) -> None:
        try:
            client = clients[index]
            jobs = [client.submit_generate_motion(audio, "song.wav", seed=index * 10 + k) for k in range(3)]
            results[index] = [client.wait(job, timeout_s=20).motion.metadata["seed"] for job in jobs]
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=use, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert results == {i: [i * 10, i * 10 + 1, i * 10 + 2] for i in range(4)}


def test_hello_is_answered_while_a_job_computes(start_server, connect):
    generator = GateGenerator()
    server = start_server(generator)
    client = connect(server)
    job = client.submit_generate_motion(wav_bytes(1.2), "song.wav")
    poll_until(client, lambda: job.state == "running")
    # The gate never opens by itself: a server that needed the worker to answer would time out here.
    assert connect(server, timeout_s=2.0).hello().motion_generator == "gate-fake"
    assert client.status(job).job_state == "running"
    generator.release()
    client.wait(job, timeout_s=5)


def test_heartbeats_keep_a_slow_job_alive_past_the_client_timeout(start_server, connect):
    server = start_server(StepGenerator(steps=6, step_s=0.3), heartbeat_interval_s=0.1)
    client = connect(server, timeout_s=1.0)  # ten heartbeats: a busy machine may stall the server's thread a while
    job = client.submit_generate_motion(wav_bytes(1.2), "song.wav")
    # Progress arrives only every 0.3 s and the whole job takes ~1.8 s, well past timeout_s.
    assert client.wait(job, timeout_s=10).motion.num_frames == 30


def test_duplicate_job_ids_are_refused(start_server, connect):
    server = start_server(StepGenerator())
    client = connect(server)
    job = client.submit_generate_motion(wav_bytes(1.2), "song.wav")
    client.wait(job, timeout_s=5)
    client._jobs.pop(job.id)
    again = type(job)(job.id, job.kind)
    client._jobs[job.id] = again
    client._send("generate_motion", job.id, {"audio": wav_bytes(1.2), "audio_name": "a.wav"})
    with pytest.raises(InvalidInputError, match="already used"):
        client.wait(again, timeout_s=5)


def test_full_queue_is_refused_before_work(start_server, connect):
    from backend.server import ServerLimits

    generator = GateGenerator()
    server = start_server(generator, limits=ServerLimits(max_queued_jobs=1))
    client = connect(server)
    running = client.submit_generate_motion(wav_bytes(1.2), "song.wav")
    poll_until(client, lambda: running.state == "running")
    queued = client.submit_generate_motion(wav_bytes(1.2), "song.wav")
    refused = client.submit_generate_motion(wav_bytes(1.2), "song.wav")
    with pytest.raises(TooLargeError, match="queue is full"):
        client.wait(refused, timeout_s=5)
    for _ in range(2):
        generator.release()
        time.sleep(0.05)
    client.wait(running, timeout_s=5)
    generator.release()
    client.wait(queued, timeout_s=5)


def test_no_backend_gives_a_clear_error_within_the_timeout(connect):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = connect(f"tcp://127.0.0.1:{port}", timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError, match="no backend answered") as info:
        client.hello()
    assert time.monotonic() - started < PROMPTLY_S  # the client's 0.5 s, not its default 10 s
    assert "mace-dance serve" in info.value.hint
    with pytest.raises(BackendUnavailableError):  # the first job asks for the token that will own it
        client.submit_generate_motion(wav_bytes(0.2), "song.wav")


def test_ipv6_loopback(connect):
    from backend.server import BackendServer

    server = BackendServer("tcp://[::1]:0", motion_generator=StepGenerator())
    try:
        endpoint = server.start()
    except Exception as exc:  # noqa: BLE001 - a machine without IPv6 loopback
        pytest.skip(f"no IPv6 loopback here: {exc}")
    try:
        assert connect(endpoint).hello().motion_generator == "step-fake"
    finally:
        server.stop(5)


def test_a_busy_port_is_reported(start_server, connect):
    from backend.server import BackendServer

    first = start_server(StepGenerator())
    second = BackendServer(first.endpoint, motion_generator=StepGenerator())
    with pytest.raises(BackendUnavailableError, match="cannot bind") as info:
        second.start()
    assert "already using this port" in info.value.hint
    assert connect(first).hello().motion_generator == "step-fake"  # the first one is unaffected


def test_sampling_reaches_the_generator_and_bad_sampling_is_refused(start_server, connect):
    from shared.errors import InvalidInputError
    from shared.sampling import SamplerChoice

    generator = StepGenerator()
    client = connect(start_server(generator))
    client.generate_motion(wav_bytes(1.2), "song.wav", sampling=SamplerChoice("ddim", 12))
    client.generate_motion(wav_bytes(1.2), "song.wav")
    assert [request.sampling for request in generator.requests] == [SamplerChoice("ddim", 12), None]
    for bad in ({"sampler": "euler"}, {"steps": 0}, {"steps": "ten"}):
        payload = {"audio": wav_bytes(1.2), "audio_name": "song.wav", "sampling": bad}
        with pytest.raises(InvalidInputError, match="sampl|steps"):
            client.wait(client._submit("generate_motion", payload), 5.0)
    assert len(generator.requests) == 2  # refused before any work
