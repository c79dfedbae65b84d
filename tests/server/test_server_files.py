"""Issue 24, case by case: hostile files and identities.

Each attack runs against a live backend while another client says ``hello``; what is asserted is the server's
own measure of its I/O loop (the longest stretch between two polls, ``io_longest_gap_s``), not wall time on a
loaded machine, plus the error's code and the field or limit it names. Payloads are built here, small.
"""

from __future__ import annotations

import io
import threading
import time

import numpy as np
import pytest
import soundfile
import zmq
from PIL import Image

from backend.server import ServerLimits
from backend.server.media import MediaChecker
from shared import protocol
from shared.client import BackendClient
from shared.errors import InvalidInputError, NotFoundError, ProtocolError, TooLargeError
from tests.audio_files import write_lying_flac
from tests.server.server_fakes import FakeRenderer, GateGenerator, RawPeer, StepGenerator, make_motion, wav_bytes

#: The longest the I/O loop may go without polling (its own measure).
IO_GAP_S = 0.1


def surround_wav(seconds: float = 1.5, channels: int = 8, rate: int = 8000) -> bytes:
    rng = np.random.default_rng(channels)
    buffer = io.BytesIO()
    soundfile.write(buffer, rng.uniform(-0.3, 0.3, (int(seconds * rate), channels)), rate, format="WAV")
    return buffer.getvalue()


def lying_flac(tmp_path, seconds: float, announced: int) -> bytes:
    return write_lying_flac(tmp_path / "lying.flac", seconds, announced).read_bytes()


def hello_while(server, attack) -> float:
    """Run ``attack()`` while another client says hello again and again; returns the server's longest gap
    between polls meanwhile (every hello must be answered: the client raises after 1 s of silence)."""
    done = threading.Event()
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(attack())
        except BaseException as exc:  # noqa: BLE001 - re-raised below, in the test's thread
            outcome.append(exc)
        finally:
            done.set()

    with BackendClient(server.endpoint, timeout_s=1.0) as other:
        other.hello()
        server.io_longest_gap_s = 0.0  # measure the attack only
        thread = threading.Thread(target=run)
        thread.start()
        while not done.wait(0.01):
            other.hello()
        thread.join()
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return server.io_longest_gap_s


@pytest.fixture
def server(start_server):
    return start_server(StepGenerator(steps=2, step_s=0.01), video_renderer=FakeRenderer(),
                        limits=ServerLimits(max_audio_seconds=20.0))


# ---- crashes and lengths: decoded with a budget, off the I/O thread ----------------------------------------
def test_surround_music_is_danced_to_and_the_backend_lives(server, connect):
    client = connect(server, timeout_s=10)
    result = client.generate_motion(surround_wav(channels=8), "7.1.wav", timeout_s=30)
    assert result.motion.num_frames > 0
    assert client.hello().motion_generator == "step-fake"


@pytest.mark.parametrize("announced", [8000, 0], ids=["header says 1 s", "header says nothing"])
def test_a_lying_flac_is_measured_by_decoding_and_refused_naming_the_limit(server, connect, tmp_path, announced):
    data = lying_flac(tmp_path, 30.0, announced)  # 30 s of music, 20 s allowed per job
    client = connect(server, timeout_s=10)

    def attack():
        with pytest.raises(TooLargeError, match=r"\(audio\) is above the limit of 20 s"):
            client.generate_motion(data, "lying.flac", timeout_s=30)

    assert hello_while(server, attack) < IO_GAP_S


def test_a_large_upload_is_spooled_off_the_io_thread(start_server, connect):
    server = start_server(StepGenerator(steps=1, step_s=0.01), limits=ServerLimits(max_audio_seconds=700.0))
    big = wav_bytes(600.0, rate=16000)  # ~19 MiB, ten minutes
    client = connect(server, timeout_s=20)
    gap = hello_while(server, lambda: client.generate_motion(big, "long.wav", duration_s=2.0, timeout_s=60))
    assert gap < IO_GAP_S


def test_each_client_has_a_temp_disk_quota(start_server, connect):
    generator = GateGenerator()
    server = start_server(generator, limits=ServerLimits(max_client_disk_bytes=100_000))
    greedy, other = connect(server), connect(server)
    audio = wav_bytes(3.0)  # 48 KB
    first, second = (greedy.submit_generate_motion(audio, "a.wav", seed=i) for i in range(2))
    third = greedy.submit_generate_motion(audio, "a.wav", seed=3)
    with pytest.raises(TooLargeError, match="max_client_disk_bytes"):
        greedy.wait(third, timeout_s=5)
    mine = other.submit_generate_motion(audio, "a.wav")  # another client's quota is its own
    deadline = time.monotonic() + 20
    while not (first.done and second.done and mine.done):
        assert time.monotonic() < deadline
        generator.release()
        greedy.poll(), other.poll()
        time.sleep(0.02)
    assert {first.state, second.state, mine.state} == {"done"}


def test_a_crashing_decoder_costs_one_error_and_the_next_file_is_checked(tmp_path):
    checker = MediaChecker()
    try:
        with pytest.raises(InvalidInputError, match="'boom.wav' crashed the decoder"):
            checker._run(_crash, str(tmp_path / "x"), "'boom.wav'")
        path = tmp_path / "fine.wav"
        path.write_bytes(wav_bytes(1.5))
        assert checker.audio_duration(path, "'fine.wav'", 10.0) == pytest.approx(1.5)
    finally:
        checker.close()


def _crash(path: str, name: str) -> None:
    import ctypes

    ctypes.string_at(0)  # a segfault, as a native decoder's


# ---- photos -----------------------------------------------------------------------------------------------
def test_a_gif_reference_is_refused_at_upload_with_one_clear_message(server):
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((96, 64, 3), np.uint8)).save(buffer, format="GIF")
    peer = RawPeer(server.endpoint)
    try:
        reply = peer.exchange(protocol.encode_message("render_video", "gif-job", {
            "motion": protocol.motion_to_wire(make_motion(10)), "reference_image": buffer.getvalue()}))
    finally:
        peer.close()
    assert reply["payload"]["code"] == "bad_input"
    assert reply["payload"]["message"] == "the reference image is a GIF image; a reference photo cannot be GIF"
    assert "PNG, JPEG or WebP" in reply["payload"]["hint"]


# ---- ownership ----------------------------------------------------------------------------------------------
def dealer(context, endpoint: str, routing_id: bytes):
    socket = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.setsockopt(zmq.ROUTING_ID, routing_id)
    socket.connect(endpoint)
    return socket


def test_results_go_to_the_owner_not_to_whoever_takes_its_routing_id(start_server, connect):
    generator = GateGenerator()
    server = start_server(generator)
    owner = connect(server, timeout_s=5)
    token = owner.hello().token
    context = zmq.Context()
    try:
        victim = dealer(context, server.endpoint, b"victim")
        victim.send(protocol.encode_message("generate_motion", "the-job", {
            "token": token, "audio": wav_bytes(1.2), "audio_name": "song.wav"}))
        assert generator.started.wait(10)
        victim.close()  # the owner's connection goes; someone takes its routing id
        time.sleep(0.2)
        thief = dealer(context, server.endpoint, b"victim")
        thief.send(protocol.encode_message("hello", "thief-hello"))
        assert thief.poll(5000)
        thief.recv()
        generator.release()
        time.sleep(0.5)
        stolen = []
        while thief.poll(200):
            stolen.append(protocol.decode_message(thief.recv(), peer="backend").type)
        assert stolen == [] or set(stolen) <= {"heartbeat"}
        thief.close()
    finally:
        context.term()
    # The owner, from a new client with its token, fetches the result; another token cannot.
    with BackendClient(server.endpoint, timeout_s=5, token=token) as returning:
        result = returning.wait(returning.fetch("the-job", "generate_motion"), timeout_s=10)
        assert result.motion.num_frames > 0
    stranger = connect(server, timeout_s=5)
    stranger.hello()
    with pytest.raises(NotFoundError, match="not a job of this client's token"):
        stranger.wait(stranger.fetch("the-job", "generate_motion"), timeout_s=5)


def test_a_reconnecting_owner_follows_its_running_job(start_server, connect):
    generator = GateGenerator()
    server = start_server(generator)
    first = connect(server, timeout_s=5)
    job = first.submit_generate_motion(wav_bytes(1.2), "song.wav")
    assert generator.started.wait(10)
    token = first.token
    first._jobs.clear()  # (so closing does not cancel it: as if the program had died)
    first.close()
    with BackendClient(server.endpoint, timeout_s=5, token=token) as again:
        handle = again.fetch(job.id, "generate_motion")
        deadline = time.monotonic() + 5
        while handle.state != "running":
            assert time.monotonic() < deadline
            again.poll()
        generator.release()
        assert again.wait(handle, timeout_s=10).motion.num_frames > 0


@pytest.mark.parametrize("token, text", [(None, "carries no `token`"), ("forged.token", "not issued by this backend")])
def test_jobs_without_a_valid_token_are_refused_naming_it(server, token, text):
    peer = RawPeer(server.endpoint, token=None)
    try:
        payload = {"audio": wav_bytes(1.2)} | ({} if token is None else {"token": token})
        reply = peer.exchange(protocol.encode_message("generate_motion", "j", payload))
    finally:
        peer.close()
    assert reply["payload"]["code"] == "protocol" and text in reply["payload"]["message"]
    assert "hello" in reply["payload"]["hint"]


def test_an_older_client_gets_a_clear_version_error(server):
    import msgpack

    peer = RawPeer(server.endpoint, token=None)
    try:
        reply = peer.exchange(msgpack.packb({"protocol": 2, "type": "hello", "job": "old", "payload": {}}))
    finally:
        peer.close()
    assert reply["payload"]["code"] == "version_mismatch"
    assert "client speaks 2, the backend speaks 3" in reply["payload"]["message"]


def test_a_client_without_a_token_cannot_fetch(server):
    client = BackendClient(server.endpoint, server_public_key=None, timeout_s=2)
    try:
        with pytest.raises(ProtocolError, match="no token"):
            client.fetch("some-job", "generate_motion")
    finally:
        client.close()


# ---- memory comes back ------------------------------------------------------------------------------------
def rss_mib(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.slow  # a backend process, one normal job, then ~300 MiB of uploads and bombs: ~15 s on 2 cores
def test_an_idle_backend_gives_memory_back_after_a_burst(backend_process, tmp_path):
    proc, endpoint = backend_process("--steps", "1", "--step-s", "0", "--frames", "5", "--work-root", str(tmp_path))
    with BackendClient(endpoint, timeout_s=30) as client:
        client.generate_motion(wav_bytes(1.2), "song.wav", timeout_s=30)
        after_first_job = rss_mib(proc.pid)
        big = wav_bytes(300.0, rate=16000)  # ~9.6 MiB
        flac = lying_flac(tmp_path, 30.0, 0)
        for _ in range(3):  # uploads, spooled and checked, as fast as admission takes them
            jobs = [client.submit_generate_motion(big, "long.wav", duration_s=2.0) for _ in range(6)]
            jobs += [client.submit_generate_motion(flac, "lying.flac", duration_s=2.0) for _ in range(6)]
            for job in jobs:
                try:
                    client.wait(job, timeout_s=60)
                except TooLargeError:
                    pass  # refused at the door while admission was full: also an answer
        time.sleep(1.0)
        status = client.status()
    assert status.queued == 0 and status.admitting == 0
    idle = rss_mib(proc.pid)
    print(f"backend RSS {after_first_job:.0f} MiB after its first job, {idle:.0f} MiB idle after the burst; "
          f"longest I/O gap {status.io_longest_gap_ms:.1f} ms")
    assert idle < after_first_job + 150, (after_first_job, idle)
