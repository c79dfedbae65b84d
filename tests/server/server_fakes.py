"""Small stand-ins for the motion generator and video renderer, for server tests.

Run as a script it serves a backend with a slow fake generator (for kill / signal tests) and prints its
endpoint on the first line of stdout.
"""

from __future__ import annotations

from dataclasses import dataclass

import argparse
import io
import sys
import threading
import time
from pathlib import Path

import msgpack
import numpy as np
import zmq

from backend.motion_generation import MotionRequest, MotionResult
from backend.progress import JobContext
from shared import protocol
from shared.motion import Motion

REPO = Path(__file__).resolve().parents[2]


def make_motion(frames: int, seed: int = 0, fps: float = 30.0) -> Motion:
    """A deterministic random-looking (T, 24, 3) motion; ``seed`` makes it recognisable."""
    rng = np.random.default_rng(seed)
    return Motion(poses=rng.normal(0, 0.3, (frames, 24, 3)), trans=rng.normal(0, 1, (frames, 3)), fps=fps,
                  metadata={"seed": seed})


def wav_bytes(seconds: float = 1.0, rate: int = 8000) -> bytes:
    """A short mono sine WAV file."""
    import soundfile

    t = np.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    soundfile.write(buffer, 0.3 * np.sin(2 * np.pi * 440 * t), rate, format="WAV")
    return buffer.getvalue()


def png_bytes(width: int = 64, height: int = 96) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.full((height, width, 3), 200, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


class StepGenerator:
    """Works in ``steps`` steps of ``step_s`` seconds, reporting and honouring cancel between them.

    Records each request, whether its audio file existed during the job, and how many steps ran.
    """

    name = "step-fake"

    def __init__(self, steps: int = 3, step_s: float = 0.0, frames: int = 30):
        self.steps, self.step_s, self.frames = steps, step_s, frames
        self.requests: list[MotionRequest] = []
        self.audio_seen: list[bool] = []
        self.steps_done = 0
        self.started = threading.Event()

    def generate(self, request: MotionRequest, ctx: JobContext | None = None) -> MotionResult:
        ctx = ctx or JobContext.null()
        self.requests.append(request)
        self.audio_seen.append(Path(request.audio_path).is_file())
        self.started.set()
        for step in range(self.steps):
            ctx.check_cancelled()
            time.sleep(self.step_s)
            self.steps_done += 1
            ctx.report((step + 1) / self.steps, f"step {step + 1}/{self.steps}")
        motion = make_motion(self.frames, request.seed)
        return MotionResult(motion=motion, beats=np.array([0.5, 1.0]), tempo=120.0, generator=self.name)


class GateGenerator(StepGenerator):
    """Runs until ``release()`` (checking cancel every 10 ms): makes queue states deterministic."""

    name = "gate-fake"

    def __init__(self, frames: int = 30):
        super().__init__(steps=1, frames=frames)
        self.gate = threading.Event()

    def release(self) -> None:
        self.gate.set()

    def generate(self, request: MotionRequest, ctx: JobContext | None = None) -> MotionResult:
        ctx = ctx or JobContext.null()
        self.started.set()
        while not self.gate.wait(0.01):
            ctx.check_cancelled()
        self.started.clear()
        self.gate.clear()
        return super().generate(request, ctx)


@dataclass
class FakeOptions:
    fake_option: object = None


class FakeRenderer:
    """Validates the request like a real renderer, then writes placeholder bytes instead of a video."""

    name = "fake-renderer"
    OPTION_NAMES = ("fake_option",)

    def __init__(self):
        self.requests = []

    def request_options(self, values: dict) -> FakeOptions:
        return FakeOptions(**values)

    def render(self, request, ctx: JobContext | None = None):
        from backend.appearance import RenderResult

        request.validate()
        self.requests.append(request)
        (ctx or JobContext.null()).report(1.0, "rendered")
        out_path = Path(request.out_path)
        out_path.write_bytes(b"video:%d" % request.motion.num_frames)
        pose_path = None
        if request.options.pose_video:
            pose_path = out_path.with_name(out_path.stem + "_pose.mp4")
            pose_path.write_bytes(b"pose")
        return RenderResult(out_path, self.name, request.motion.num_frames, request.output_fps, pose_path)


class RawPeer:
    """A bare DEALER socket for sending arbitrary bytes to the backend.

    It says ``hello`` first and puts its ``token`` into the payload of every request it sends that is a
    well-formed envelope without one (so tests of a request's fields reach those fields); bytes that are not
    such an envelope go out untouched. ``token=None`` sends everything untouched.
    """

    OWNED = ("generate_motion", "render_video", "cancel", "fetch", "heartbeat", "status")

    def __init__(self, endpoint: str, token: str | bool | None = True):
        self.context = zmq.Context()
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(endpoint)
        self.token = None
        if token is True:
            self.token = self.exchange(protocol.encode_message("hello", "raw-peer-hello"))["payload"]["token"]
        elif isinstance(token, str):
            self.token = token

    def send(self, *frames: bytes) -> None:
        self.socket.send_multipart([*frames[:-1], self.with_token(frames[-1])] if frames else [])

    def with_token(self, message: bytes) -> bytes:
        if self.token is None or len(message) > 64 << 20:
            return message
        try:
            envelope = msgpack.unpackb(message, raw=False, max_array_len=64, max_map_len=64)
        except Exception:  # noqa: BLE001 - not an envelope: sent as it is
            return message
        if not (isinstance(envelope, dict) and envelope.get("type") in self.OWNED
                and isinstance(envelope.get("payload"), dict) and "token" not in envelope["payload"]):
            return message
        envelope["payload"]["token"] = self.token
        return msgpack.packb(envelope, use_bin_type=True)

    def receive(self, timeout_s: float = 5.0, skip=("heartbeat", "progress", "accepted")) -> dict:
        """The next reply that is not a heartbeat/progress, as a plain dict."""
        while True:
            assert self.socket.poll(timeout_s * 1000), "no reply from the backend"
            reply = msgpack.unpackb(self.socket.recv(), raw=False)
            if reply["type"] not in skip:
                return reply

    def exchange(self, *frames: bytes) -> dict:
        self.send(*frames)
        return self.receive()

    def round(self, messages: list[bytes], token: str) -> list[dict]:
        """Send ``messages`` then a hello; returns every reply up to and including the hello's."""
        for message in messages:
            self.socket.send(self.with_token(message))
        self.socket.send(protocol.encode_message("hello", token))
        received = []
        while True:
            received.append(self.receive(10.0, skip=()))
            if received[-1]["type"] == "hello" and received[-1]["job"] == token:
                return received

    def close(self) -> None:
        self.socket.close()
        self.context.term()


def main() -> None:
    from backend.server import BackendServer, serve_until_signalled

    from backend.server import ServerLimits

    parser = argparse.ArgumentParser()
    parser.add_argument("--step-s", type=float, default=0.05)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--renderer", action="store_true", help="also serve FakeRenderer")
    parser.add_argument("--max-message-bytes", type=int, default=protocol.MAX_MESSAGE_BYTES)
    parser.add_argument("--work-root", default=None)
    args = parser.parse_args()
    server = BackendServer("tcp://127.0.0.1:0", motion_generator=StepGenerator(args.steps, args.step_s, args.frames),
                           video_renderer=FakeRenderer() if args.renderer else None,
                           limits=ServerLimits(max_message_bytes=args.max_message_bytes), work_root=args.work_root,
                           heartbeat_interval_s=0.2)
    serve_until_signalled(server, on_ready=lambda endpoint: print(endpoint, flush=True))
    sys.exit(0)


if __name__ == "__main__":
    main()
