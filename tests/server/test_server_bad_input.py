"""Every malformed request gets an ``error`` reply naming the problem, and the backend keeps serving."""

from __future__ import annotations

import math

import msgpack
import numpy as np
import pytest
import zmq

from backend.server import ServerLimits
from shared import protocol
from tests.server.server_fakes import FakeRenderer, RawPeer, StepGenerator, make_motion, png_bytes, wav_bytes


@pytest.fixture
def peer(start_server):
    server = start_server(StepGenerator(), video_renderer=FakeRenderer(), limits=ServerLimits(
        max_message_bytes=4_000_000, max_audio_bytes=200_000, max_audio_seconds=2.0, max_frames=100,
        max_image_bytes=50_000, max_image_pixels=128 * 128))
    raw = RawPeer(server.endpoint)
    yield raw
    # Whatever was sent, the backend still answers.
    assert raw.exchange(protocol.encode_message("hello", "t"))["type"] == "hello"
    raw.close()


def envelope(msg_type="generate_motion", job="job-1", payload=None, **overrides) -> bytes:
    obj = {"protocol": protocol.PROTOCOL_VERSION, "type": msg_type, "job": job, "payload": payload or {}}
    obj.update(overrides)
    return msgpack.packb(obj, use_bin_type=True)


def generate(**fields) -> dict:
    payload = {"audio": wav_bytes(1.2), "audio_name": "song.wav"}
    payload.update(fields)
    return payload


def motion_wire(**overrides) -> dict:
    wire = protocol.motion_to_wire(make_motion(10))
    wire.update(overrides)
    return wire


def array_wire(array: np.ndarray, **overrides) -> dict:
    wire = protocol.encode_array(array)
    wire.update(overrides)
    return wire


NAN_POSES = np.zeros((10, 24, 3), np.float32)
NAN_POSES[3, 5, 1] = math.nan

BAD_REQUESTS = {
    "malformed msgpack": (b"\xc1\xff\x00garbage", "protocol", "not valid msgpack"),
    "truncated msgpack": (envelope()[:-3], "protocol", "not valid msgpack"),
    "not a map": (msgpack.packb([1, 2, 3]), "protocol", "must be a msgpack map"),
    "no protocol field": (msgpack.packb({"type": "hello"}), "protocol", "`protocol`"),
    "unknown type": (envelope("dance_now"), "protocol", "unknown message type 'dance_now'"),
    "extra envelope field": (envelope("hello", extra=1), "protocol", "unknown envelope fields: extra"),
    "payload not a map": (msgpack.packb({"protocol": protocol.PROTOCOL_VERSION, "type": "hello", "job": "j",
                                         "payload": [1]}), "protocol", "`payload` must be a map"),
    "job without id": (envelope(job=None, payload=generate()), "protocol", "needs a `job` id"),
    "missing audio": (envelope(payload={"audio_name": "a.wav"}), "bad_input", "`audio` is missing"),
    "audio of wrong type": (envelope(payload=generate(audio="not bytes")), "bad_input", "`audio` must be bytes"),
    "audio that does not decode": (envelope(payload=generate(audio=b"RIFF\x00\x00garbage" * 50, audio_name="x.wav")),
                                   "bad_input", "'x.wav' could not be decoded: it is data of no format"),
    "empty audio": (envelope(payload=generate(audio=b"")), "bad_input", "is empty"),
    "audio too large": (envelope(payload=generate(audio=b"\x00" * 200_001)), "too_large", "above the limit"),
    "music too long": (envelope(payload=generate(audio=wav_bytes(3.0))), "too_large", "above the limit of 2 s"),
    "start past the end": (envelope(payload=generate(start_s=5.0)), "bad_input", "past the end"),
    "negative start": (envelope(payload=generate(start_s=-1.0)), "bad_input", "`start_s`"),
    "nan duration": (envelope(payload=generate(duration_s=math.nan)), "bad_input", "`duration_s` must be finite"),
    "bool seed": (envelope(payload=generate(seed=True)), "bad_input", "`seed` must be int"),
    "huge seed": (envelope(payload=generate(seed=2**64 - 1)), "bad_input", "`seed`"),
    "unknown genre": (envelope(payload=generate(genre="polka")), "bad_input", "unknown genre 'polka'"),
    "keep with a wrong mask": (
        envelope(payload=generate(keep={"motion": motion_wire(), "cells": array_wire(np.ones((3, 25), bool))})),
        "bad_input", "keep.cells"),
    "render: motion with NaN": (
        envelope("render_video", payload={"motion": motion_wire(poses=array_wire(NAN_POSES)),
                                          "reference_image": png_bytes()}), "bad_input", "NaN"),
    "render: wrong pose shape": (
        envelope("render_video", payload={"motion": motion_wire(poses=array_wire(np.zeros((10, 23, 3), np.float32))),
                                          "reference_image": png_bytes()}), "bad_input", "poses"),
    "render: shape does not match bytes": (
        envelope("render_video", payload={"motion": motion_wire(poses={"dtype": "<f4", "shape": [10, 24, 3],
                                                                       "data": b"\x00" * 12}),
                                          "reference_image": png_bytes()}), "bad_input", "has 12 bytes"),
    "render: object dtype": (
        envelope("render_video", payload={"motion": motion_wire(poses={"dtype": "|O", "shape": [1],
                                                                       "data": b"\x00" * 8}),
                                          "reference_image": png_bytes()}), "bad_input", "unsupported dtype"),
    "render: too many frames": (
        envelope("render_video", payload={"motion": protocol.motion_to_wire(make_motion(101)),
                                          "reference_image": png_bytes()}), "too_large", "101 frames"),
    "render: image that is not an image": (
        envelope("render_video", payload={"motion": motion_wire(), "reference_image": b"\x89PNG nope"}),
        "bad_input", "cannot read the reference image: it is no image format"),
    "render: image too many pixels": (
        envelope("render_video", payload={"motion": motion_wire(), "reference_image": png_bytes(200, 200)}),
        "too_large", "200x200"),
    "render: image too small": (
        envelope("render_video", payload={"motion": motion_wire(), "reference_image": png_bytes(32, 48)}),
        "bad_input", "too small (32x48"),
    "render: odd width": (
        envelope("render_video", payload={"motion": motion_wire(), "reference_image": png_bytes(), "width": 65}),
        "bad_input", "`width` = 65 must be even"),
    "render: a path option": (
        envelope("render_video", payload={"motion": motion_wire(), "reference_image": png_bytes(),
                                          "options": {"pose_video_path": "/etc/passwd"}}),
        "bad_input", "unknown render option 'pose_video_path'"),
    "cancel unknown job": (envelope("cancel", job="nobody"), "not_found", "no job 'nobody'"),
    "newer client": (envelope("hello", protocol=protocol.PROTOCOL_VERSION + 1), "version_mismatch",
                     "upgrade the backend"),
    "older client": (envelope("hello", protocol=protocol.PROTOCOL_VERSION - 1), "version_mismatch",
                     "upgrade the Blender add-on"),
}


@pytest.mark.parametrize("name", list(BAD_REQUESTS))
def test_bad_request_gets_an_error_naming_the_problem(peer, name):
    message, code, text = BAD_REQUESTS[name]
    reply = peer.exchange(message)
    assert reply["type"] == "error", reply
    assert reply["payload"]["code"] == code
    assert text in reply["payload"]["message"] + " " + reply["payload"]["hint"]


def test_error_reply_carries_the_job_id_when_it_can_be_read(peer):
    reply = peer.exchange(envelope(job="job-42", payload=generate(genre="polka")))
    assert reply["job"] == "job-42"
    reply = peer.exchange(envelope(job="job-43", protocol=99))
    assert reply["job"] == "job-43" and reply["protocol"] == protocol.PROTOCOL_VERSION


def test_several_frames_are_refused(peer):
    reply = peer.exchange(envelope("hello"), envelope("hello"))
    assert reply["payload"]["code"] == "protocol" and "expected 1" in reply["payload"]["message"]


def test_oversized_message_drops_only_that_connection(peer, start_server):
    """Above ZMQ_MAXMSGSIZE the transport drops the sender before any byte is parsed; everyone else goes on."""
    peer.send(b"\x00" * 4_000_001)
    other = RawPeer(peer.socket.getsockopt_string(zmq.LAST_ENDPOINT))
    try:
        assert other.exchange(protocol.encode_message("hello", "x"))["type"] == "hello"
    finally:
        other.close()


def test_the_same_bad_input_twice_then_a_good_job(peer):
    for _ in range(2):
        assert peer.exchange(envelope(payload=generate(audio=b"nope")))["type"] == "error"
    peer.send(envelope(job="good", payload=generate()))
    reply = peer.receive()
    assert reply["type"] == "result" and reply["job"] == "good"
