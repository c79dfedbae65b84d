"""shared.protocol: envelopes, the array codec, motions and KeepSpec on the wire."""

from __future__ import annotations

import math

import msgpack
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from shared import protocol
from shared.errors import InvalidInputError, MotionFormatError, ProtocolError, TooLargeError, VersionMismatchError
from shared.keep import KeepMask, KeepSpec
from shared.motion import Motion

VERSION = protocol.PROTOCOL_VERSION


def make_motion(frames=12, contacts=True, seed=0) -> Motion:
    rng = np.random.default_rng(seed)
    return Motion(poses=rng.normal(0, 0.4, (frames, 24, 3)), trans=rng.normal(0, 1, (frames, 3)), fps=60.0,
                  betas=rng.normal(0, 1, 10), gender="female",
                  contacts=rng.uniform(0, 1, (frames, 4)) if contacts else None,
                  metadata={"music": "song.ogg", "seed": np.int64(4), "start_s": np.float32(1.5), "tags": ("a", "b")})


def test_envelope_round_trip():
    data = protocol.encode_message("status", "abc", {"x": 1})
    envelope = protocol.decode_message(data, expected_types=protocol.CLIENT_MESSAGES)
    assert (envelope.type, envelope.job, envelope.payload, envelope.protocol) == ("status", "abc", {"x": 1}, VERSION)


@pytest.mark.parametrize("data, error, text", [
    (b"\xc1", ProtocolError, "not valid msgpack"),
    (msgpack.packb("hello"), ProtocolError, "must be a msgpack map"),
    (msgpack.packb({"type": "hello"}), ProtocolError, "`protocol`"),
    (msgpack.packb({"protocol": True, "type": "hello"}), ProtocolError, "`protocol`"),
    (msgpack.packb({"protocol": VERSION, "type": 3}), ProtocolError, "`type`"),
    (msgpack.packb({"protocol": VERSION, "type": "fly"}), ProtocolError, "unknown message type 'fly'"),
    (msgpack.packb({"protocol": VERSION, "type": "hello", "job": ""}), ProtocolError, "`job`"),
    (msgpack.packb({"protocol": VERSION, "type": "hello", "payload": 5}), ProtocolError, "`payload`"),
    (msgpack.packb({"protocol": VERSION, "type": "hello", "x": 5}), ProtocolError, "unknown envelope fields: x"),
    (msgpack.packb({1: 2}), ProtocolError, "not valid msgpack"),  # non-string map keys
])
def test_decode_message_refuses(data, error, text):
    with pytest.raises(error, match=text):
        protocol.decode_message(data, expected_types=protocol.CLIENT_MESSAGES)


def test_decode_message_size_limit():
    with pytest.raises(TooLargeError, match="above the limit of 10 bytes"):
        protocol.decode_message(protocol.encode_message("hello"), max_bytes=10)


@pytest.mark.parametrize("version, peer, upgrade", [
    (VERSION + 1, "client", "upgrade the backend"), (VERSION - 1, "client", "upgrade the Blender add-on"),
    (VERSION + 1, "backend", "upgrade the Blender add-on"), (VERSION - 1, "backend", "upgrade the backend"),
])
def test_version_mismatch_names_the_side_to_upgrade(version, peer, upgrade):
    data = msgpack.packb({"protocol": version, "type": "hello", "job": "j", "payload": {}})
    with pytest.raises(VersionMismatchError) as info:
        protocol.decode_message(data, peer=peer)
    assert upgrade in info.value.hint and f"speaks {version}" in info.value.message
    assert protocol.peek_job(data) == "j"


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(
    dtype=st.sampled_from([np.float32, np.float64, np.int64, np.uint8, np.bool_, np.int16, np.float16]),
    shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)))
def test_array_round_trip(array):
    wire = msgpack.unpackb(msgpack.packb(protocol.encode_array(array), use_bin_type=True), raw=False)
    back = protocol.decode_array(wire, "x", allow_nonfinite=True)
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable


def test_big_endian_and_strided_arrays_are_sent_as_little_endian_c_order():
    array = np.arange(12, dtype=">f8").reshape(3, 4)[:, ::2]
    wire = protocol.encode_array(array)
    assert wire["dtype"] == "<f8" and wire["shape"] == [3, 2]
    np.testing.assert_array_equal(protocol.decode_array(wire, "x"), array)


@pytest.mark.parametrize("wire, error, text", [
    ({"dtype": "|O", "shape": [1], "data": b"\0" * 8}, InvalidInputError, "unsupported dtype"),
    ({"dtype": "<U4", "shape": [1], "data": b"\0" * 16}, InvalidInputError, "unsupported dtype"),
    ({"dtype": "<f4", "shape": [2, 3], "data": b"\0" * 20}, InvalidInputError, "has 20 bytes"),
    ({"dtype": "<f4", "shape": [-1], "data": b""}, InvalidInputError, "invalid shape"),
    ({"dtype": "<f4", "shape": [True], "data": b"\0" * 4}, InvalidInputError, "invalid shape"),
    ({"dtype": "<f4", "shape": [1] * 9, "data": b"\0" * 4}, InvalidInputError, "invalid shape"),
    ({"dtype": "<f4", "shape": [2], "data": "text"}, InvalidInputError, "data must be bytes"),
    ({"dtype": "<f4", "shape": [10**9, 10**9], "data": b""}, TooLargeError, "above"),
    ({"dtype": "<f4", "shape": [1], "data": np.float32(np.nan).tobytes()}, InvalidInputError, "NaN or Inf"),
    ({"dtype": "<f8", "shape": [1], "data": np.float64(-np.inf).tobytes()}, InvalidInputError, "NaN or Inf"),
    ([1, 2, 3], InvalidInputError, "must be an array map"),
])
def test_decode_array_refuses(wire, error, text):
    with pytest.raises(error, match=text) as info:
        protocol.decode_array(wire, "trans")
    assert "`trans`" in info.value.message


def test_encode_array_refuses_object_arrays():
    with pytest.raises(InvalidInputError, match="cannot be sent"):
        protocol.encode_array(np.array([{"a": 1}], dtype=object))


def test_motion_round_trip_through_msgpack():
    motion = make_motion()
    wire = msgpack.unpackb(msgpack.packb(protocol.motion_to_wire(motion), use_bin_type=True), raw=False)
    back = protocol.motion_from_wire(wire)
    np.testing.assert_array_equal(back.poses, motion.poses)
    np.testing.assert_array_equal(back.trans, motion.trans)
    np.testing.assert_array_equal(back.betas, motion.betas)
    np.testing.assert_array_equal(back.contacts, motion.contacts)
    assert (back.fps, back.gender) == (60.0, "female")
    assert back.metadata == {"music": "song.ogg", "seed": 4, "start_s": 1.5, "tags": ["a", "b"]}
    assert protocol.motion_from_wire(protocol.motion_to_wire(make_motion(contacts=False))).contacts is None


def test_motion_from_wire_errors_come_from_motion():
    wire = protocol.motion_to_wire(make_motion())
    wire["trans"] = protocol.encode_array(np.zeros((5, 3), np.float32))
    with pytest.raises(MotionFormatError, match="`trans`"):
        protocol.motion_from_wire(wire)
    wire = protocol.motion_to_wire(make_motion())
    wire["gender"] = "robot"
    with pytest.raises(MotionFormatError, match="`gender`"):
        protocol.motion_from_wire(wire)
    wire = protocol.motion_to_wire(make_motion())
    wire["fps"] = math.nan
    with pytest.raises(InvalidInputError, match="`motion.fps`"):
        protocol.motion_from_wire(wire)


def test_motion_frame_limit_and_unsendable_metadata():
    with pytest.raises(TooLargeError, match="12 frames, above the limit of 10"):
        protocol.motion_from_wire(protocol.motion_to_wire(make_motion(12)), max_frames=10)
    motion = make_motion()
    motion.metadata["callback"] = print
    with pytest.raises(InvalidInputError, match="metadata.callback"):
        protocol.motion_to_wire(motion)


def test_keep_spec_round_trip_and_checks():
    motion = make_motion(6)
    frames = np.array([True, True, False, False, True, False])
    joints = np.zeros(24, bool)
    joints[:3] = True
    mask = KeepMask.regenerate(6, frames=frames, joints=joints)
    spec = KeepSpec(motion, mask)
    wire = msgpack.unpackb(msgpack.packb(spec.to_wire(), use_bin_type=True), raw=False)
    back = KeepSpec.from_wire(wire)
    assert back.motion.allclose(motion)
    np.testing.assert_array_equal(back.mask.cells, mask.cells)

    with pytest.raises(InvalidInputError, match=r"keep.cells.*shape \(6, 25\)"):
        KeepSpec(motion, KeepMask.regenerate(5))
    bad = spec.to_wire()
    bad["cells"] = protocol.encode_array(np.ones((6, 25), np.uint8))
    with pytest.raises(InvalidInputError, match="keep.cells.*bool"):
        KeepSpec.from_wire(bad)
    with pytest.raises(InvalidInputError, match="must be a Motion"):
        KeepSpec(motion="not a motion", mask=mask)


@pytest.mark.parametrize("payload, kwargs, text", [
    ({"seed": True}, {"kinds": int}, "`seed` must be int, got bool"),
    ({"seed": "3"}, {"kinds": int}, "`seed` must be int, got str"),
    ({}, {"kinds": int}, "`seed` is missing"),
])
def test_get_field(payload, kwargs, text):
    with pytest.raises(InvalidInputError, match=text):
        protocol.get_field(payload, "seed", **kwargs)
    assert protocol.get_field({"seed": None}, "seed", int, 5) == 5
    with pytest.raises(TooLargeError):
        protocol.get_field({"seed": "x" * (protocol.MAX_TEXT_CHARS + 1)}, "seed", str)


def test_get_number_range():
    assert protocol.get_number({"x": 2}, "x", lo=0, hi=3) == 2.0
    with pytest.raises(InvalidInputError, match="`x` = 4 must be >= 0 and <= 3"):
        protocol.get_number({"x": 4}, "x", lo=0, hi=3)
    with pytest.raises(InvalidInputError, match="finite"):
        protocol.get_number({"x": math.inf}, "x")


def container_bomb(count: int) -> bytes:
    """One msgpack array32 header announcing ``count`` entries, then ``count`` empty arrays (issue 16 case 1)."""
    return b"\xdd" + count.to_bytes(4, "big") + b"\x90" * count


@pytest.mark.parametrize("data, text", [
    (container_bomb(4 << 20), "exceeds max_array_len"),  # one container above MAX_CONTAINER_ITEMS
    # Many containers, each within the per-container limit: the message-wide budget stops them.
    (b"\xdc\x7f\xff" + (b"\xdc\x00\x10" + b"\x90" * 16) * 0x7FFF, "more than 50,000 msgpack objects"),
    (b"\xdb" + (1 << 20).to_bytes(4, "big") + b"x" * (1 << 20), "exceeds max_str_len"),
    (b"\xdd\x00\x00\x00\x10" + b"\x90", "exceeds max_array_len"),  # a count above what the frame can hold
    (b"\xdf\x00\x01\x00\x00" + b"\xa1k\x90" * 10, "exceeds max_map_len"),
])
def test_unpacking_is_bounded_before_allocation(data, text):
    with pytest.raises(TooLargeError, match=text):
        protocol.decode_message(data)


def test_extension_types_and_deep_nesting_are_refused():
    with pytest.raises(TooLargeError, match="max_ext_len"):
        protocol.decode_message(b"\xd4\x01\x02")
    with pytest.raises(ProtocolError, match="not valid msgpack"):
        protocol.decode_message(b"\x91" * 5000 + b"\x90")


def test_peek_job_reads_only_the_envelope_head():
    head = msgpack.packb({"protocol": VERSION, "type": "generate_motion", "job": "j-1"})
    # An envelope whose payload is a 4 MiB container bomb: the job comes before the payload, as
    # encode_message writes it, so it is found without touching the payload.
    message = (b"\x84" + msgpack.packb("protocol") + msgpack.packb(protocol.PROTOCOL_VERSION)
               + msgpack.packb("type") + msgpack.packb("generate_motion") + msgpack.packb("job")
               + msgpack.packb("j-1") + msgpack.packb("payload") + container_bomb(4 << 20))
    assert protocol.peek_job(message) == "j-1"
    assert protocol.peek_job(head) == "j-1"
    assert protocol.peek_job(container_bomb(4 << 20)) is None
    assert protocol.peek_job(b"\x81\xa7payload\x80") is None


def test_absurd_declared_shapes_are_refused_even_when_empty():
    with pytest.raises(TooLargeError, match="a dimension above"):
        protocol.decode_array({"dtype": "<f4", "shape": [0, 2**63 - 1, 2**63 - 1], "data": b""}, "x")


@pytest.mark.parametrize("fps", [1e-300, 0.001, 0.5, 1e6])
def test_motion_frame_rate_range_on_the_wire(fps):
    wire = protocol.motion_to_wire(Motion(poses=np.zeros((4, 24, 3)), trans=np.zeros((4, 3)), fps=30.0))
    wire["fps"] = fps
    with pytest.raises(InvalidInputError, match=r"`keep.motion.fps` = .* must be >= 1 and <= 1000"):
        protocol.motion_from_wire(wire, "keep.motion")


def test_hello_and_status_cross_the_wire_as_the_same_typed_objects():
    cluster = protocol.ClusterInfo(
        nodes=(protocol.ClusterNode("head", "10.0.0.1", cpus=16, gpus=0), protocol.ClusterNode("gpu", cpus=32, gpus=4)),
        workers=(protocol.ClusterWorker("gpu", "cuda", loaded=("motion_expert",), can_run=("generate_motion",)),),
        placement={"generate_motion": "gpu"}, wait_for_gpu_s=None)
    hello = protocol.Hello(protocol_version=protocol.PROTOCOL_VERSION, backend_version="1.0", motion_generator="m",
                           video_renderer="puppet", capabilities=protocol.Capabilities(render_video=True,
                                                                                      render_options=("hands",)),
                           defaults={"fps": 30.0}, genres=("Jazz",), weights={"wan_animate": False}, cluster=cluster)
    wire = protocol.decode_message(protocol.encode_message("hello", "t", hello.to_wire())).payload
    assert protocol.Hello.from_wire(wire) == hello
    assert (cluster.cpus, cluster.gpus, cluster.workers_on("gpu"), cluster.workers_on("cpu")) == (48, 4, 1, 0)
    # a newer backend may say more (ignored), an older one less (defaults)
    assert protocol.Hello.from_wire({**wire, "something_new": 1}) == hello
    older = protocol.Hello.from_wire({"protocol_version": 2, "backend_version": "0.9", "motion_generator": "m"})
    assert older.cluster is None and older.capabilities.render_video is False
    with pytest.raises(ProtocolError, match="incomplete"):
        protocol.Hello.from_wire({"protocol_version": 2})
    status = protocol.ServerStatus(queued=2, running="render_video", job_state="queued", queue_position=1)
    assert protocol.ServerStatus.from_wire(status.to_wire()) == status
    assert protocol.ServerStatus.from_wire({"queued": 0}).job_state is None
