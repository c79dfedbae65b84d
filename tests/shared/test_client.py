"""shared.client against a scripted backend (a bare ROUTER socket): replies, errors, silence, bad data."""

from __future__ import annotations

import threading
import time

import msgpack
import numpy as np
import pytest
import zmq

from shared import protocol
from shared.client import BackendClient
from shared.keep import KeepMask, KeepSpec
from shared.errors import (
    BackendUnavailableError,
    MissingWeightsError,
    OutOfMemoryError,
    ProtocolError,
    TooLargeError,
    VersionMismatchError,
)
from shared.motion import Motion


class ScriptedBackend:
    """A ROUTER on loopback answering each request with ``script(envelope) -> [raw reply bytes]``."""

    def __init__(self, script):
        self.script = script
        self.context = zmq.Context()
        self.socket = self.context.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        port = self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self.received: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            if not self.socket.poll(20):
                continue
            identity, data = self.socket.recv_multipart()
            envelope = msgpack.unpackb(data, raw=False)
            self.received.append(envelope)
            for reply in self.script(envelope):
                self.socket.send_multipart([identity, reply])

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.socket.close()
        self.context.term()


@pytest.fixture
def scripted():
    backends, clients = [], []

    def make(script, **client_kwargs):
        backend = ScriptedBackend(script)
        backends.append(backend)
        client = BackendClient(backend.endpoint, **{"timeout_s": 2.0, "token": "scripted-token", **client_kwargs})
        clients.append(client)
        return backend, client

    yield make
    for client in clients:
        client.close()
    for backend in backends:
        backend.close()


def reply(msg_type, job, payload, version=protocol.PROTOCOL_VERSION):
    return msgpack.packb({"protocol": version, "type": msg_type, "job": job, "payload": payload}, use_bin_type=True)


def test_hello_from_a_newer_backend_says_to_upgrade_the_client(scripted):
    _, client = scripted(lambda env: [reply("hello", env["job"], {}, version=protocol.PROTOCOL_VERSION + 1)])
    with pytest.raises(VersionMismatchError, match=f"backend speaks {protocol.PROTOCOL_VERSION + 1}") as info:
        client.hello()
    assert "upgrade the Blender add-on" in info.value.hint


@pytest.mark.parametrize("code, cls", [("missing_weights", MissingWeightsError), ("out_of_memory", OutOfMemoryError)])
def test_remote_errors_become_the_matching_class(scripted, code, cls):
    error = {"code": code, "message": "it went wrong", "hint": "do this"}
    _, client = scripted(lambda env: [reply("accepted", env["job"], {"state": "queued", "queue_position": 0}),
                                      reply("error", env["job"], error)])
    job = client.submit_generate_motion(b"RIFF", "a.wav")
    with pytest.raises(cls) as info:
        client.wait(job, timeout_s=5)
    assert (info.value.message, info.value.hint) == ("it went wrong", "do this")
    assert job.state == "failed" and job.error is info.value


def test_requests_carry_every_field(scripted):
    backend, client = scripted(lambda env: [])
    motion = Motion(poses=np.zeros((4, 24, 3)), trans=np.zeros((4, 3)), fps=30)
    keep = KeepSpec(motion, KeepMask.regenerate(4, frames=np.array([0, 1, 1, 0], bool)))
    client.submit_generate_motion(b"abc", "x.ogg", seed=5, genre="Jazz", duration_s=3.0, start_s=1.0, keep=keep)
    client.submit_render_video(motion, b"png", audio_bytes=b"ogg", audio_name="x.ogg", width=64, height=96,
                               options={"pose_video": True, "mask": np.ones((2, 2), np.uint8)})
    deadline = time.monotonic() + 30  # a loaded machine may take seconds
    while len(backend.received) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    generate, render = backend.received
    assert generate["type"] == "generate_motion" and len(generate["job"]) == 32
    assert {k: generate["payload"][k] for k in ("audio", "audio_name", "seed", "genre", "duration_s", "start_s")} == {
        "audio": b"abc", "audio_name": "x.ogg", "seed": 5, "genre": "Jazz", "duration_s": 3.0, "start_s": 1.0}
    assert KeepSpec.from_wire(generate["payload"]["keep"]).mask.frames_fully_kept.tolist() == [True, False, False, True]
    assert render["type"] == "render_video"
    assert protocol.motion_from_wire(render["payload"]["motion"]).num_frames == 4
    assert (render["payload"]["width"], render["payload"]["height"], render["payload"]["audio"]) == (64, 96, b"ogg")
    assert protocol.decode_array(render["payload"]["options"]["mask"], "mask").shape == (2, 2)


def poll_until_events(client, timeout_s: float = 30.0) -> list:
    """``client.poll()`` until it returns events (a loaded machine may take seconds)."""
    deadline = time.monotonic() + timeout_s
    while not (events := client.poll()):
        assert time.monotonic() < deadline, "no event"
        time.sleep(0.01)
    return events


def test_poll_fails_jobs_of_a_silent_backend_without_raising(scripted):
    _, client = scripted(lambda env: [reply("accepted", env["job"], {"state": "queued", "queue_position": 3})],
                         timeout_s=0.3)
    job = client.submit_generate_motion(b"RIFF", "a.wav")
    events = poll_until_events(client)
    assert [e.type for e in events] == ["accepted"] and job.queue_position == 3 and job.state == "queued"
    events = poll_until_events(client)  # accepted, then no heartbeat for 0.3 s: dead
    assert [e.type for e in events] == ["error"] and events[0].job is job
    assert job.state == "failed" and isinstance(job.error, BackendUnavailableError)
    assert client.poll() == []


def test_an_unreadable_result_fails_the_job_with_a_protocol_error(scripted):
    _, client = scripted(lambda env: [reply("result", env["job"], {"motion": {"poses": 1}})])
    job = client.submit_generate_motion(b"RIFF", "a.wav")
    with pytest.raises(ProtocolError, match="result could not be read"):
        client.wait(job, timeout_s=5)


def test_messages_for_unknown_jobs_and_garbage_are_ignored(scripted):
    def script(env):
        return [b"\xc1garbage", reply("progress", "someone-else", {"progress": 0.5}),
                reply("result", env["job"], {"motion": protocol.motion_to_wire(
                    Motion(poses=np.zeros((2, 24, 3)), trans=np.zeros((2, 3)), fps=30)),
                    "beats": protocol.encode_array(np.array([0.5])), "tempo": 100.0, "generator": "g"})]

    _, client = scripted(script)
    result = client.generate_motion(b"RIFF", "a.wav", timeout_s=5)
    assert result.motion.num_frames == 2 and result.tempo == 100.0 and result.beats.tolist() == [0.5]


def test_wait_timeout_leaves_the_job_running(scripted):
    _, client = scripted(lambda env: [reply("progress", env["job"], {"state": "running", "progress": 0.1})])
    job = client.submit_generate_motion(b"RIFF", "a.wav")
    with pytest.raises(TimeoutError, match="still running"):
        client.wait(job, timeout_s=0.3)
    assert not job.done


def test_oversized_requests_are_refused_before_sending(scripted, monkeypatch):
    backend, client = scripted(lambda env: [])
    monkeypatch.setattr(protocol, "MAX_MESSAGE_BYTES", 1000)
    with pytest.raises(TooLargeError, match="above the limit of 1,000"):
        client.submit_generate_motion(b"\0" * 2000, "a.wav")
    time.sleep(0.1)
    assert backend.received == []


def test_closed_client_says_so():
    client = BackendClient("tcp://127.0.0.1:1", timeout_s=0.2)
    with client:
        pass
    with pytest.raises(BackendUnavailableError, match="closed"):
        client.submit_generate_motion(b"x", "a.wav")
