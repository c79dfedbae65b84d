"""Hostile files in a mocap folder: every loader budget refuses quickly and cleanly, and the rest still load."""

from __future__ import annotations

import io
import pickle
import zipfile

import numpy as np
import pytest

from backend.choreography.mocap import load_library
from backend.choreography.mocap.bvh import read_bvh
from shared.errors import InvalidInputError
from shared.motion_io import read_npz
from shared.safe_pickle import UnsafePickleError, safe_pickle_loads

ONE_JOINT = "HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS %s\n}\nMOTION\nFrames: %s\nFrame Time: %s\n%s\n"


def bvh_text(channels="3 Xposition Yposition Zposition", frames="2", frame_time="0.0333333", rows="0 0 0\n1 0 0"):
    return ONE_JOINT % (channels, frames, frame_time, rows)


@pytest.mark.parametrize("fields, text", [
    ({"channels": "-2 Xposition"}, "CHANNELS -2"),
    ({"channels": "9 Xposition Yposition Zposition"}, "0 to 6 channels"),
    ({"channels": "3 Xposition Yposition Wobble"}, "named like Xrotation"),
    ({"frame_time": "100000"}, "Frame Time: 100000 s is not a frame rate within [1, 1000] fps"),
    ({"frame_time": "0"}, "Frame Time: 0 s"),
    ({"frame_time": "nan"}, "Frame Time: nan s"),
    ({"frames": "99999999999"}, "Frames: 99999999999 is not within"),
])
def test_bvh_budgets_refuse_what_would_loop_or_allocate(tmp_path, fields, text):
    path = tmp_path / "take.bvh"
    path.write_text(bvh_text(**fields))
    with pytest.raises(InvalidInputError) as caught:
        read_bvh(path)
    assert text in caught.value.message and "take.bvh" in caught.value.message


class _Reduce:
    def __init__(self, call, args):
        self.call, self.args = call, args

    def __reduce__(self):
        return self.call, self.args


@pytest.mark.parametrize("payload, text", [
    (_Reduce(bytearray, (3 << 30,)), "bytearray of 3,221,225,472 bytes"),
    (_Reduce(bytes, (3 << 30,)), "bytes of 3,221,225,472 bytes"),
])
def test_safe_pickle_refuses_allocation_bombs(payload, text):
    data = pickle.dumps(payload, protocol=4)
    assert len(data) < 200
    with pytest.raises(UnsafePickleError, match=text):
        safe_pickle_loads(data)


def test_safe_pickle_refuses_an_array_shape_bomb():
    data = (b"\x80\x04\x8c\x15numpy.core.multiarray\x8c\x0c_reconstruct\x93\x8c\x05numpy\x8c\x07ndarray\x93"
            b"\x8a\x05\x00\x00\x00\x00\x01\x85C\x01b\x87R.")  # _reconstruct(ndarray, (1 << 32,), b"b")
    with pytest.raises(UnsafePickleError, match="array of shape"):
        safe_pickle_loads(data)


def test_safe_pickle_refuses_reference_bombs_but_reads_real_data():
    layer: list = []
    for _ in range(40):  # a billion laughs: each level holds the previous one 8 times (8 ** 40 when walked)
        layer = [layer] * 8
    laughs = pickle.dumps(layer, protocol=4)
    assert len(laughs) < 10_000
    with pytest.raises(UnsafePickleError, match="expand past"):
        safe_pickle_loads(laughs)
    shared = [0]
    with pytest.raises(UnsafePickleError, match="refers back"):
        safe_pickle_loads(pickle.dumps([shared] * 200_000, protocol=4))
    looped: list = []
    looped.append(looped)
    with pytest.raises(UnsafePickleError, match="contain themselves"):
        safe_pickle_loads(pickle.dumps(looped))
    deep: list = []
    for _ in range(300):  # deep but small: fine
        deep = [deep]
    assert safe_pickle_loads(pickle.dumps(deep)) == deep
    real = {"smpl_poses": np.zeros((10, 72), np.float32), "smpl_trans": np.zeros((10, 3)), "shared": [[1]] * 3}
    loaded = safe_pickle_loads(pickle.dumps(real))
    assert loaded["smpl_poses"].shape == (10, 72) and loaded["shared"] == [[1]] * 3


def test_npz_members_are_counted_while_inflating(tmp_path):
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, np.zeros(64 << 20, np.uint8))  # 64 MiB of zeros, ~64 KiB zipped
        archive.writestr("poses.npy", buffer.getvalue())
    assert path.stat().st_size < 1 << 20
    with pytest.raises(InvalidInputError, match="bomb.npz inflates past 1,048,576 bytes"):
        read_npz(path, max_bytes=1 << 20)
    assert read_npz(path)["poses"].shape == (64 << 20,)


def test_a_bad_file_in_a_mocap_folder_is_skipped_and_the_rest_load(tmp_path, shared_data):
    import shutil

    shutil.copy(shared_data / "motion" / "deepmimic_dance_a.npz", tmp_path / "good.npz")
    (tmp_path / "huge_time.bvh").write_text(bvh_text(frame_time="100000"))
    (tmp_path / "loop.bvh").write_text(bvh_text(channels="-2 Xposition"))
    (tmp_path / "bomb.pkl").write_bytes(pickle.dumps(_Reduce(bytearray, (3 << 30,))))
    np.savez(tmp_path / "odd.npz", joints=np.zeros((5, 7)), fps=np.float64(30))
    np.savez(tmp_path / "slow.npz", joints=np.zeros((5, 24, 3)), fps=np.float64(1e-5))
    clips = load_library(tmp_path)
    assert [clip.name for clip in clips] == ["good.npz"]
    for name in ("huge_time.bvh", "loop.bvh", "odd.npz", "slow.npz", "good.npz"):
        (tmp_path / name).unlink()
    with pytest.raises(InvalidInputError, match="bomb.pkl: refusing to build a bytearray"):
        load_library(tmp_path)
