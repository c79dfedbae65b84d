"""Fuzz a live backend: ≥ 10,000 random, mutated and hostile messages, every one answered, bounded memory,
then a normal job works.

Messages are random bytes, random msgpack values, envelopes with random payloads, valid requests (hello,
status, cancel, generate_motion with real WAV bytes, render_video with a real motion and PNG) with fields
deleted, replaced by random values or with their bytes flipped, cut or extended, and issue 16's hostile
cases: container bombs up to 4 MiB, many small containers, huge strings, extension types, deep nesting,
absurd declared array shapes, kept motions and motions at absurd frame rates, and bad render options.
After each batch a `hello` must come back (the backend neither crashed nor hung), every message must have had
its reply, and no reply may be an `internal` error (an exception the handlers did not anticipate).

The backend runs in its own process, so its memory is its own: the test reads its resident set size from
/proc before the first batch, after every batch and at the end (VmHWM, the peak), and the growth over the
whole test must stay under 300 MiB.
"""

from __future__ import annotations

import math
from pathlib import Path

import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from shared import protocol
from shared.client import BackendClient
from shared.errors import MaceError
from shared.keep import KeepMask, KeepSpec
from tests.server.server_fakes import RawPeer, make_motion, png_bytes, wav_bytes

BATCH = 40
BATCHES = 260  # 10,400 messages
IMMEDIATE_REPLIES = ("error", "hello", "status", "cancel", "accepted")  # one per request (jobs: once admitted)
MAX_MESSAGE_BYTES = 8 << 20  # room for 4 MiB bombs to reach the parser
MAX_RSS_GROWTH_MIB = 300

FIELD_NAMES = ["protocol", "type", "job", "payload", "audio", "audio_name", "seed", "genre", "duration_s", "start_s",
               "keep", "motion", "poses", "trans", "fps", "betas", "gender", "contacts", "metadata", "cells",
               "reference_image", "width", "height", "options", "dtype", "shape", "data",
               "pose_video", "camera", "reference_keypoints", "audio_offset_s"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20), st.binary(max_size=40), st.sampled_from(protocol.CLIENT_MESSAGES + ("", "hello\x00")),
    st.sampled_from(["<f4", "<f8", "|O", "|b1", ">f4", "<U8", "V8"]),
    st.sampled_from([1e-300, 1e-3, 1e300, 2**63 - 1, -(2**63), math.nan]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=8)), inner, max_size=4),
        st.builds(lambda dtype, shape, data: {"dtype": dtype, "shape": shape, "data": data},
                  st.sampled_from(["<f4", "<f8", "|b1", "|u1", "<i8", "|O"]),
                  st.lists(st.integers(-2, 30), max_size=4), st.binary(max_size=64)),
    ),
    max_leaves=12,
)


def templates() -> list[dict]:
    """Valid requests, as envelopes (dicts) before packing."""
    motion = protocol.motion_to_wire(make_motion(8))
    keep = KeepSpec(make_motion(8), KeepMask.regenerate(8, frames=np.arange(8) >= 3)).to_wire()
    audio = wav_bytes(1.2, rate=4000)

    def env(msg_type, job, payload):
        return {"protocol": protocol.PROTOCOL_VERSION, "type": msg_type, "job": job, "payload": payload}

    return [
        env("hello", "t-hello", {}),
        env("status", "t-status", {}),
        env("cancel", "job-gen", {}),
        env("generate_motion", "job-gen", {"audio": audio, "audio_name": "a.wav", "seed": 3, "genre": "Hiphop",
                                           "duration_s": 1.0, "start_s": 0.0, "keep": None}),
        env("generate_motion", "job-keep", {"audio": audio, "audio_name": "a.wav", "keep": keep}),
        env("render_video", "job-render", {"motion": motion, "reference_image": png_bytes(), "audio": None,
                                           "width": 64, "height": 96, "options": {"pose_video": True}}),
    ]


def paths(obj, prefix=()):
    """Every (path to a map entry) in a nested envelope."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield prefix + (key,)
            yield from paths(value, prefix + (key,))


@st.composite
def mutated(draw, bases):
    envelope = msgpack.unpackb(msgpack.packb(draw(st.sampled_from(bases)), use_bin_type=True), raw=False)
    if envelope["type"] in ("generate_motion", "render_video") and draw(st.booleans()):
        envelope["job"] = protocol.new_job_id()  # a fresh id, so a request that stays valid runs
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.sampled_from(list(paths(envelope)) or [("payload",)]))
        parent = envelope
        for key in where[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["delete", "replace", "add"]))
        if action == "delete":
            parent.pop(where[-1], None)
        elif action == "replace":
            parent[where[-1]] = draw(values)
        else:
            parent[draw(st.sampled_from(FIELD_NAMES))] = draw(values)
    data = msgpack.packb(envelope, use_bin_type=True)
    if draw(st.booleans()):  # byte-level damage on top
        position = draw(st.integers(0, len(data) - 1))
        damage = draw(st.sampled_from(["flip", "cut", "insert"]))
        if damage == "flip":
            data = data[:position] + bytes([data[position] ^ draw(st.integers(1, 255))]) + data[position + 1:]
        elif damage == "cut":
            data = data[:position]
        else:
            data = data[:position] + draw(st.binary(min_size=1, max_size=8)) + data[position:]
    return data


def random_envelope(draw_payload):
    return st.builds(
        lambda msg_type, job, payload, version: msgpack.packb(
            {"protocol": version, "type": msg_type, "job": job, "payload": payload}, use_bin_type=True),
        st.one_of(st.sampled_from(protocol.CLIENT_MESSAGES), st.text(max_size=10)),
        st.one_of(st.none(), st.text(max_size=12), st.integers(-(2**63), 2**64 - 1)),
        draw_payload,
        st.one_of(st.just(protocol.PROTOCOL_VERSION), st.integers(-3, 5)),
    )


def container_bomb(count: int) -> bytes:
    return b"\xdd" + count.to_bytes(4, "big") + b"\x90" * count


def envelope_head(msg_type: str = "generate_motion", job: str = "bomb") -> bytes:
    """A well-formed envelope up to its payload, which the caller appends (raw bytes)."""
    return b"\x84" + b"".join(msgpack.packb(x) for x in ("protocol", protocol.PROTOCOL_VERSION, "type", msg_type,
                                                         "job", job, "payload"))


BAD_OPTIONS = [
    {"pose_style": ["wan"]}, {"pose_style": "nope"}, {"camera": {"yaw_deg": "x"}}, {"camera": {"distance_m": "far"}},
    {"camera": {"yaw_deg": 1e300}}, {"camera": {"projection": 3}}, {"reference_keypoints": {"nose": "abc"}},
    {"reference_keypoints": [[1, 2]] * 19}, {"audio_offset_s": None}, {"audio_offset_s": -1}, {"hands": "yes"},
    {"reference_alpha": {"dtype": "|u1", "shape": [2, 2], "data": b"1234"}},
    {"reference_keypoints": {"dtype": "<f4", "shape": [0, 2**63 - 1, 2**63 - 1], "data": b""}},
]


@st.composite
def hostile(draw, bases):
    """Issue 16's attacks, each drawn with random sizes or values."""
    kind = draw(st.sampled_from(["bomb", "bomb in a job", "small containers", "long string", "extension",
                                 "deep", "absurd shape", "kept fps", "motion fps", "options"]))
    if kind == "bomb":
        return container_bomb(draw(st.sampled_from([70_000, 1 << 20, 4 << 20])))
    if kind == "bomb in a job":
        return envelope_head(draw(st.sampled_from(("generate_motion", "render_video")))) + container_bomb(1 << 20)
    if kind == "small containers":
        inner = draw(st.integers(2, 64))
        return b"\xdc\x7f\xff" + (b"\xdc" + inner.to_bytes(2, "big") + b"\x90" * inner) * 0x7FFF
    if kind == "long string":
        return envelope_head() + b"\xdb" + (1 << 20).to_bytes(4, "big") + b"a" * (1 << 20)
    if kind == "extension":
        return envelope_head() + b"\xc7\x10\x05" + b"\x00" * 16
    if kind == "deep":
        return b"\x91" * draw(st.integers(100, 5000)) + b"\x90"
    envelope = msgpack.unpackb(msgpack.packb(draw(st.sampled_from(bases[3:])), use_bin_type=True), raw=False)
    envelope["job"] = protocol.new_job_id()
    payload = envelope["payload"]
    if kind == "absurd shape":
        target = payload.get("motion") or (payload.get("keep") or {}).get("motion") or payload
        target["poses"] = {"dtype": "<f4", "shape": [0, 2**63 - 1, 2**63 - 1], "data": b""}
    elif kind == "kept fps":
        payload["keep"] = KeepSpec(make_motion(60), KeepMask.regenerate(60)).to_wire()
        payload["keep"]["motion"]["fps"] = draw(st.sampled_from([1e-300, 1e-3, 0.5, 1e6, math.inf]))
    elif kind == "motion fps" and "motion" in payload:
        payload["motion"]["fps"] = draw(st.sampled_from([1e-300, 1e-3, 1e6]))
    elif "options" in payload:
        payload["options"] = draw(st.sampled_from(BAD_OPTIONS))
    return msgpack.packb(envelope, use_bin_type=True)


def message_strategy(bases):
    packable = values.map(lambda value: msgpack.packb(value, use_bin_type=True))
    return st.one_of(
        st.binary(min_size=0, max_size=120),
        packable,
        random_envelope(st.dictionaries(st.sampled_from(FIELD_NAMES), values, max_size=6)),
        mutated(bases),
        mutated(bases),
        mutated(bases),
        hostile(bases),
    )


def expects_reply(message: bytes) -> bool:
    """Every message is answered at once, except a well-formed client `heartbeat` (it needs no answer)."""
    try:
        return protocol.decode_message(message, expected_types=protocol.CLIENT_MESSAGES).type != "heartbeat"
    except MaceError:
        return True


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """A process's resident set size (``VmRSS``) or its peak so far (``VmHWM``), MiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} in /proc/{pid}/status")


@pytest.mark.slow  # thousands of fuzzed messages against a real backend process
def test_fuzzed_messages_never_stop_the_backend(backend_process, tmp_path):
    proc, endpoint = backend_process("--steps", "1", "--step-s", "0", "--frames", "5", "--renderer",
                                     "--max-message-bytes", str(MAX_MESSAGE_BYTES), "--work-root", str(tmp_path))
    peer = RawPeer(endpoint)
    bases = templates()
    stats = {"sent": 0, "answered": 0, "errors": 0, "jobs": 0}
    peer.round([], "warm-up")
    baseline = rss_mib(proc.pid)
    samples = [baseline]

    @settings(max_examples=BATCHES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.generate])  # no shrinking: a live backend's failing batch as it came
    @given(st.lists(message_strategy(bases), min_size=BATCH, max_size=BATCH))
    def batch(messages):
        token = f"sentinel-{stats['sent']}"
        replies = peer.round(messages, token)
        samples.append(rss_mib(proc.pid))
        stats["sent"] += len(messages)
        immediate = [r for r in replies[:-1] if r["type"] in IMMEDIATE_REPLIES]
        expected = sum(map(expects_reply, messages))  # decoded once: a bomb takes the decoder a while
        while len(immediate) < expected:  # job requests are answered after admission
            reply = peer.receive(10.0, skip=())
            replies.append(reply)
            immediate += [reply] if reply["type"] in IMMEDIATE_REPLIES else []
        stats["answered"] += len(immediate)
        stats["errors"] += sum(r["type"] == "error" for r in replies)
        stats["jobs"] += sum(r["type"] == "accepted" for r in replies)
        internal = [r["payload"] for r in replies if r["type"] == "error" and r["payload"].get("code") == "internal"]
        assert internal == []
        assert len(immediate) >= expected

    try:
        batch()
    finally:
        peer.close()
    growth = max(max(samples), rss_mib(proc.pid, "VmHWM")) - baseline
    print(f"backend RSS {baseline:.0f} MiB before the fuzz, peak growth {growth:.0f} MiB over {stats}")
    assert growth < MAX_RSS_GROWTH_MIB, (growth, stats)
    assert stats["sent"] >= 10_000, stats
    assert stats["errors"] >= stats["sent"] // 2  # most fuzz is malformed and was told so
    assert stats["jobs"] > 0  # some mutations stayed valid and ran
    # A normal client and a normal job still work.
    with BackendClient(endpoint, timeout_s=10) as client:
        result = client.generate_motion(wav_bytes(1.2), "song.wav", seed=9, timeout_s=10)
        assert result.motion.metadata == {"seed": 9}
        status = client.status()
        assert status.queued == 0 and status.running is None
    assert list(tmp_path.iterdir()) == []  # every job folder was cleaned up
