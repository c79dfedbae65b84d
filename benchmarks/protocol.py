#!/usr/bin/env python3
"""Round trip of a 1-minute (1800-frame) motion through a live backend on loopback, idle and under attack.

    .venv/bin/python benchmarks/protocol.py [--runs 50] [--frames 1800] [--bomb-mib 4]

What is timed (median over ``--runs`` after warm-up) is one complete ``generate_motion`` job as a client sees it:
the client packs a request whose ``keep`` holds the whole 1800-frame motion (every frame kept) plus the
minute of (silent) music it was made for, as a small FLAC, sends it over TCP loopback to a ``BackendServer``; the server decodes and validates it (msgpack,
array checks, ``Motion`` construction, the WAV header probe, the job folder), queues it, hands it to the
worker thread, whose generator returns the kept motion (nothing is left to regenerate: the same path a
real "regenerate nothing" request takes, with no model time); the worker encodes the result, the I/O
thread forwards it, and the client decodes and validates the motion again. So the motion crosses the wire
both ways, through the real protocol and the real job machinery — nothing is special-cased for the benchmark.

Baseline, measured in the same run: a bare ZeroMQ DEALER -> ROUTER -> DEALER echo of the same byte counts
(request size out, reply size back) with no msgpack, no validation and no threads — the floor of the transport.
Also shown: ``hello`` (one small request/reply through the server's I/O thread) for scale.

Under attack (issue 16): the time for the backend to refuse a 4 MiB msgpack container bomb (one array header
announcing 4 Mi empty arrays; sent, refused with ``too_large``, reply received), and the same job and
``hello`` round trips measured while another connection sends such bombs back to back, next to the idle ones.

Target: median < 10 ms for the 1800-frame round trip.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import zmq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backend.motion_generation import MotionRequest, MotionResult  # noqa: E402
from backend.server import BackendServer  # noqa: E402
from shared import protocol  # noqa: E402
from shared.client import BackendClient  # noqa: E402
from shared.keep import KeepMask, KeepSpec  # noqa: E402
from shared.motion import Motion  # noqa: E402

TARGET_MS = 10.0
WARMUP = 5


class KeepEverythingGenerator:
    """Returns the request's kept motion: a regeneration with every frame kept has nothing to generate."""

    name = "keep-everything"

    def generate(self, request: MotionRequest, ctx=None) -> MotionResult:
        return MotionResult(motion=request.keep.motion, beats=np.arange(0.0, request.keep.motion.duration, 0.5),
                            tempo=120.0, generator=self.name)


def silent_flac(seconds: float) -> bytes:
    """``seconds`` of silence as FLAC bytes (a few KiB: the bytes on the wire are the motion's)."""
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, np.zeros(int(seconds * 8000) + 8000, np.float32), 8000, format="FLAC")
    return buffer.getvalue()


def container_bomb(mib: int) -> bytes:
    count = mib << 20
    return b"\xdd" + count.to_bytes(4, "big") + b"\x90" * count


class Bomber:
    """Another connection sending container bombs back to back (each waits for its refusal) until stopped."""

    def __init__(self, endpoint: str, bomb: bytes):
        self.endpoint, self.bomb, self.sent = endpoint, bomb, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Bomber":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        context = zmq.Context()
        dealer = context.socket(zmq.DEALER)
        dealer.connect(self.endpoint)
        try:
            while not self._stop.is_set():
                dealer.send(self.bomb, copy=False)
                if dealer.poll(10_000):
                    dealer.recv()
                    self.sent += 1
        finally:
            dealer.close(0)
            context.term()


def bomb_refusal_times(endpoint: str, bomb: bytes, runs: int) -> list[float]:
    """Send ``bomb``, receive the backend's ``too_large`` error: the time a refusal takes."""
    context = zmq.Context()
    dealer = context.socket(zmq.DEALER)
    dealer.connect(endpoint)

    def refuse() -> None:
        dealer.send(bomb, copy=False)
        reply = protocol.decode_message(dealer.recv(), expected_types=protocol.SERVER_MESSAGES, peer="backend")
        assert reply.type == "error" and reply.payload["code"] == "too_large", reply

    try:
        return time_calls(refuse, runs)
    finally:
        dealer.close(0)
        context.term()


def dance(frames: int) -> Motion:
    rng = np.random.default_rng(0)
    return Motion(poses=rng.normal(0, 0.3, (frames, 24, 3)), trans=rng.normal(0, 1, (frames, 3)), fps=30.0,
                  contacts=rng.uniform(0, 1, (frames, 4)), metadata={"music": "song.ogg"})


def time_calls(call, runs: int) -> list[float]:
    for _ in range(WARMUP):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return times


def raw_echo_times(request_bytes: int, reply_bytes: int, runs: int) -> list[float]:
    """Bare ZeroMQ over loopback: DEALER sends ``request_bytes``, ROUTER answers ``reply_bytes``."""
    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    dealer = context.socket(zmq.DEALER)
    dealer.connect(f"tcp://127.0.0.1:{port}")
    request, reply = b"\x01" * request_bytes, b"\x02" * reply_bytes

    def round_trip() -> None:
        dealer.send(request)
        identity, _ = router.recv_multipart()
        router.send_multipart([identity, reply])
        dealer.recv()

    try:
        return time_calls(round_trip, runs)
    finally:
        dealer.close(0)
        router.close(0)
        context.term()


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return f"median {statistics.median(times):7.3f} ms   p90 {p90:7.3f} ms   min {ordered[0]:7.3f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--frames", type=int, default=1800)
    parser.add_argument("--bomb-mib", type=int, default=4)
    args = parser.parse_args()

    motion = dance(args.frames)
    keep = KeepSpec(motion, KeepMask.regenerate(args.frames, frames=np.arange(args.frames) >= args.frames // 2))
    audio = silent_flac(motion.duration)
    bomb = container_bomb(args.bomb_mib)
    with tempfile.TemporaryDirectory() as work_root:
        server = BackendServer("tcp://127.0.0.1:0", motion_generator=KeepEverythingGenerator(), work_root=work_root)
        endpoint = server.start()
        try:
            with BackendClient(endpoint, timeout_s=10) as client:
                result = client.generate_motion(audio, "silence.flac", keep=keep)
                assert result.motion.allclose(motion, rot_atol=1e-6, trans_atol=1e-6), "motion changed in transit"
                job_times = time_calls(lambda: client.generate_motion(audio, "silence.flac", keep=keep), args.runs)
                hello_times = time_calls(client.hello, args.runs)
                bomb_times = bomb_refusal_times(endpoint, bomb, max(5, args.runs // 5))
                with Bomber(endpoint, bomb) as bomber:
                    attacked_job_times = time_calls(
                        lambda: client.generate_motion(audio, "silence.flac", keep=keep), args.runs)
                    attacked_hello_times = time_calls(client.hello, args.runs)
                    bombs_during = bomber.sent
        finally:
            server.stop()

    request_bytes = len(protocol.encode_message("generate_motion", protocol.new_job_id(), {
        "audio": audio, "audio_name": "silence.flac", "seed": 0, "genre": None, "duration_s": None, "start_s": 0.0,
        "keep": keep.to_wire()}))
    reply_bytes = len(protocol.encode_message("result", protocol.new_job_id(), {
        "motion": protocol.motion_to_wire(result.motion), "beats": protocol.encode_array(result.beats),
        "tempo": result.tempo, "generator": result.generator}))
    raw_times = raw_echo_times(request_bytes, reply_bytes, args.runs)

    job_median, raw_median = statistics.median(job_times), statistics.median(raw_times)
    print(f"{args.frames}-frame motion round trip via a generate_motion job, {args.runs} runs "
          f"(request {request_bytes / 1024:.0f} KiB, result {reply_bytes / 1024:.0f} KiB):")
    print(f"  protocol + server + job   {summary(job_times)}")
    print(f"  baseline raw zmq echo     {summary(raw_times)}")
    print(f"  hello request/reply       {summary(hello_times)}")
    print(f"  ratio protocol / raw zmq  {job_median / raw_median:.1f}x")
    print(f"Under attack: {args.bomb_mib} MiB msgpack container bombs ({len(bomb):,} bytes each)")
    print(f"  bomb sent -> too_large    {summary(bomb_times)}")
    print(f"  job while bombed          {summary(attacked_job_times)}   "
          f"({statistics.median(attacked_job_times) / job_median:.2f}x idle)")
    print(f"  hello while bombed        {summary(attacked_hello_times)}   "
          f"({statistics.median(attacked_hello_times) / statistics.median(hello_times):.2f}x idle)")
    print(f"  bombs refused meanwhile   {bombs_during}")
    verdict = "PASS" if job_median < TARGET_MS else "FAIL"
    print(f"  target median < {TARGET_MS:g} ms: {verdict} ({job_median:.2f} ms)")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
