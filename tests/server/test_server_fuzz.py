"""Fuzz a live backend: ≥ 10,000 random and mutated messages, every one answered, then a normal job works.

Messages are random bytes, random msgpack values, envelopes with random payloads, and valid requests
(hello, status, cancel, generate_motion with real WAV bytes, render_video with a real motion and PNG) with
fields deleted, replaced by random values or with their bytes flipped, cut or extended. After each batch
a `hello` must come back (the backend neither crashed nor hung), every message must have had its reply,
and no reply may be an `internal` error (an exception the handlers did not anticipate).
"""

from __future__ import annotations

import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.server import ServerLimits
from shared import protocol
from shared.keep import KeepMask
from tests.server.server_fakes import FakeRenderer, RawPeer, StepGenerator, make_motion, png_bytes, wav_bytes

BATCH = 40
BATCHES = 260  # 10,400 messages
IMMEDIATE_REPLIES = ("error", "hello", "status", "cancel", "accepted")  # one per request, at once

FIELD_NAMES = ["protocol", "type", "job", "payload", "audio", "audio_name", "seed", "genre", "duration_s", "start_s",
               "keep", "motion", "poses", "trans", "fps", "betas", "gender", "contacts", "metadata", "cells",
               "reference_image", "width", "height", "options", "dtype", "shape", "data",
               "pose_video", "camera", "reference_keypoints", "audio_offset_s"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20), st.binary(max_size=40), st.sampled_from(protocol.CLIENT_MESSAGES + ("", "hello\x00")),
    st.sampled_from(["<f4", "<f8", "|O", "|b1", ">f4", "<U8", "V8"]),
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
    keep = protocol.KeepSpec(make_motion(8), KeepMask.regenerate(8, frames=np.arange(8) >= 3)).to_wire()
    audio = wav_bytes(0.3, rate=4000)

    def env(msg_type, job, payload):
        return {"protocol": protocol.PROTOCOL_VERSION, "type": msg_type, "job": job, "payload": payload}

    return [
        env("hello", "t-hello", {}),
        env("status", "t-status", {}),
        env("cancel", "job-gen", {}),
        env("generate_motion", "job-gen", {"audio": audio, "audio_name": "a.wav", "seed": 3, "genre": "Hiphop",
                                           "duration_s": 0.2, "start_s": 0.0, "keep": None}),
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
    if envelope["type"] in protocol.JOB_MESSAGES and draw(st.booleans()):
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


def message_strategy(bases):
    packable = values.map(lambda value: msgpack.packb(value, use_bin_type=True))
    return st.one_of(
        st.binary(min_size=0, max_size=120),
        packable,
        random_envelope(st.dictionaries(st.sampled_from(FIELD_NAMES), values, max_size=6)),
        mutated(bases),
        mutated(bases),
        mutated(bases),
    )


@pytest.mark.slow
def test_fuzzed_messages_never_stop_the_backend(start_server, connect, tmp_path):
    generator = StepGenerator(steps=1, frames=5)
    server = start_server(generator, video_renderer=FakeRenderer(), limits=ServerLimits(max_message_bytes=1_000_000))
    peer = RawPeer(server.endpoint)
    bases = templates()
    stats = {"sent": 0, "answered": 0, "errors": 0, "jobs": 0}

    @settings(max_examples=BATCHES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(message_strategy(bases), min_size=BATCH, max_size=BATCH))
    def batch(messages):
        token = f"sentinel-{stats['sent']}"
        replies = peer.round(messages, token)
        stats["sent"] += len(messages)
        immediate = [r for r in replies[:-1] if r["type"] in IMMEDIATE_REPLIES]
        stats["answered"] += len(immediate)
        stats["errors"] += sum(r["type"] == "error" for r in replies)
        stats["jobs"] += sum(r["type"] == "accepted" for r in replies)
        internal = [r["payload"] for r in replies if r["type"] == "error" and r["payload"].get("code") == "internal"]
        assert internal == []
        assert len(immediate) >= len(messages)

    try:
        batch()
    finally:
        peer.close()
    assert stats["sent"] >= 10_000, stats
    assert stats["errors"] >= stats["sent"] // 2  # most fuzz is malformed and was told so
    assert stats["jobs"] > 0  # some mutations stayed valid and ran
    # A normal client and a normal job still work.
    client = connect(server)
    result = client.generate_motion(wav_bytes(0.5), "song.wav", seed=9, timeout_s=10)
    assert result.motion.metadata == {"seed": 9}
    status = client.status()
    assert status["queued"] == 0 and status["running"] is None
    assert list(tmp_path.iterdir()) == []  # every job folder was cleaned up
