"""The motion-graph mode: the user's mocap read (BVH, SMPL, joint positions), retargeted to SMPL, cut on
motion beats and danced to the music."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from backend.choreography import ChoreographerGenerator, choreograph
from backend.choreography.mocap import load_library
from backend.choreography.mocap.bvh import read_bvh
from backend.choreography.mocap.retarget import bvh_to_motion, rotations_from_positions, smpl_positions_from_bvh
from backend.choreography.motion_graph import BLEND_FRAMES, MotionGraph, graph_choreograph
from backend.config import BackendConfig
from backend.evaluation.beat_align import beat_align_score
from backend.evaluation.protocol import CLEAN
from backend.generators import select_motion_generator
from backend.motion_generation import MotionRequest
from shared.errors import InvalidInputError
from shared.kinematics import forward_kinematics
from shared.rotations import axis_angle_to_quaternion, quaternion_slerp
from shared.skeleton import JOINT_INDEX, PARENTS, REST_OFFSETS
from tests.over_seeds import assert_over_seeds

from .conftest import SEEDS


# -- BVH ----------------------------------------------------------------------------------------------
def _write_bvh(path: Path, names: dict[str, str], frames: np.ndarray | None = None, scale: float = 100.0) -> None:
    """A BVH of the SMPL rest skeleton with ``names`` (SMPL joint → file name), Euler ZXY channels, in cm."""
    children = {j: [c for c in range(24) if PARENTS[c] == j] for j in range(24)}
    smpl = {v: k for k, v in JOINT_INDEX.items()}
    lines = ["HIERARCHY"]

    def joint(j: int, depth: int) -> None:
        pad = "  " * depth
        kind = "ROOT" if j == 0 else "JOINT"
        lines.append(f"{pad}{kind} {names.get(smpl[j], smpl[j])}")
        lines.append(pad + "{")
        lines.append(f"{pad}  OFFSET {' '.join(f'{v * scale:.4f}' for v in REST_OFFSETS[j])}")
        channels = "6 Xposition Yposition Zposition Zrotation Xrotation Yrotation" if j == 0 else (
            "3 Zrotation Xrotation Yrotation")
        lines.append(f"{pad}  CHANNELS {channels}")
        for c in children[j]:
            joint(c, depth + 1)
        if not children[j]:
            lines.extend([f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET 0 {scale * 0.05:.3f} 0", pad + "  }"])
        lines.append(pad + "}")

    joint(0, 0)
    frames = np.zeros((3, 6 + 3 * 23)) if frames is None else frames
    frames = frames.copy()
    frames[:, 1] += 0.95 * scale
    lines += ["MOTION", f"Frames: {len(frames)}", "Frame Time: 0.0333333"]
    lines += [" ".join(f"{v:.5f}" for v in row) for row in frames]
    path.write_text("\r\n".join(lines) + "\r\n")


def test_bvh_reader_composes_channels_in_the_listed_order(tmp_path):
    path = tmp_path / "two.bvh"
    path.write_text(
        "HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation "
        "Xrotation\n JOINT Arm\n {\n  OFFSET 1 0 0\n  CHANNELS 3 Zrotation Yrotation Xrotation\n  End Site\n  {\n"
        "   OFFSET 1 0 0\n  }\n }\n}\nMOTION\nFrames: 2\nFrame Time: 0.01\n"
        "0 0 0 0 0 0 0 0 0\n5 0 0 90 0 0 0 90 0\n"
    )
    bvh = read_bvh(path)
    assert bvh.names == ["Hips", "Arm", "Arm_end"] and bvh.fps == pytest.approx(100.0)
    np.testing.assert_allclose(bvh.positions[0], [[0, 0, 0], [1, 0, 0], [2, 0, 0]], atol=1e-9)
    # Frame 1: root moved 5 in x and turned 90° about Z (x → y); the arm then turns 90° about its Y.
    np.testing.assert_allclose(bvh.positions[1, 1], [5, 1, 0], atol=1e-9)
    np.testing.assert_allclose(bvh.positions[1, 2], [5, 1, -1], atol=1e-9)


def test_bvh_errors_name_the_problem(tmp_path):
    (tmp_path / "a.bvh").write_text("not a bvh")
    with pytest.raises(InvalidInputError, match="not a BVH"):
        read_bvh(tmp_path / "a.bvh")
    (tmp_path / "b.bvh").write_text("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 3 Xposition Yposition "
                                    "Zposition\n}\nMOTION\nFrames: 3\nFrame Time: 0.01\n0 0 0\n")
    with pytest.raises(InvalidInputError, match="expected 3 frames"):
        read_bvh(tmp_path / "b.bvh")
    _write_bvh(tmp_path / "c.bvh", {"left_knee": "Knuckle"})
    with pytest.raises(InvalidInputError, match="left_knee"):
        bvh_to_motion(read_bvh(tmp_path / "c.bvh"))


MIXAMO = {
    "pelvis": "mixamorig:Hips", "left_hip": "mixamorig:LeftUpLeg", "right_hip": "mixamorig:RightUpLeg",
    "left_knee": "mixamorig:LeftLeg", "right_knee": "mixamorig:RightLeg", "left_ankle": "mixamorig:LeftFoot",
    "right_ankle": "mixamorig:RightFoot", "left_foot": "mixamorig:LeftToeBase", "right_foot": "mixamorig:RightToeBase",
    "spine1": "mixamorig:Spine", "spine2": "mixamorig:Spine1", "spine3": "mixamorig:Spine2", "neck": "mixamorig:Neck",
    "head": "mixamorig:Head", "left_collar": "mixamorig:LeftShoulder", "right_collar": "mixamorig:RightShoulder",
    "left_shoulder": "mixamorig:LeftArm", "right_shoulder": "mixamorig:RightArm",
    "left_elbow": "mixamorig:LeftForeArm", "right_elbow": "mixamorig:RightForeArm",
    "left_wrist": "mixamorig:LeftHand", "right_wrist": "mixamorig:RightHand",
    "left_hand": "mixamorig:LeftHandIndex1", "right_hand": "mixamorig:RightHandIndex1",
}  # fmt: skip
LAFAN = {**{k: v.split(":")[1] for k, v in MIXAMO.items()}, "left_foot": "LeftToe", "right_foot": "RightToe"}


@pytest.mark.parametrize("names", [MIXAMO, LAFAN], ids=["mixamo", "lafan"])
def test_common_skeletons_map_to_smpl_and_keep_left_and_right(tmp_path, names):
    rng = np.random.default_rng(0)
    frames = np.zeros((5, 6 + 3 * 23))
    frames[:, 6:] = rng.uniform(-25, 25, size=(5, 69))  # a random pose per frame, degrees
    _write_bvh(tmp_path / "take.bvh", names, frames)
    bvh = read_bvh(tmp_path / "take.bvh")
    joints, mapping = smpl_positions_from_bvh(bvh)
    assert mapping["left_shoulder"].endswith("LeftArm") and mapping["left_collar"].endswith("LeftShoulder")
    motion = bvh_to_motion(bvh, fps=30.0)
    # Centimetres became metres and the limbs point where the file's limbs point.
    ours = motion.joint_positions()
    source = joints[:, :, :] / 100.0
    for a, b in (("left_knee", "left_ankle"), ("right_shoulder", "right_elbow"), ("left_elbow", "left_wrist")):
        ia, ib = JOINT_INDEX[a], JOINT_INDEX[b]
        u = ours[:, ib] - ours[:, ia]
        v = source[: len(u), ib] - source[: len(u), ia]
        cos = (u * v).sum(-1) / np.linalg.norm(u, axis=-1) / np.linalg.norm(v, axis=-1)
        assert cos.min() > 0.999, (a, b)
    assert ours[0, JOINT_INDEX["left_wrist"], 0] > ours[0, JOINT_INDEX["right_wrist"], 0]  # SMPL +X = body left


def test_retargeting_by_joint_directions_reproduces_an_smpl_dance(click_features):
    """Positions of a dance on the SMPL skeleton → rotations → the same positions (same bone lengths)."""
    motion, _ = choreograph(click_features[120], seed=4)
    joints = motion.joint_positions()
    poses, trans = rotations_from_positions(joints)
    np.testing.assert_allclose(forward_kinematics(poses, trans), joints, atol=1e-6)


def test_real_bvh_takes_read_as_smpl_dances(shared_data):
    """CMU 01_01 and the shadow-boxing take (two naming conventions) against the positions converted
    independently in ../shared/data/motion: every limb points the same way."""
    raw = shared_data / "motion" / "raw"
    for bvh_name, npz_name in (("01_01.bvh", "cmu_01_01_playground_jumps_assimp.npz"),
                               ("Boxing_Toes.bvh", "boxing_toes_assimp.npz")):  # fmt: skip
        ours = bvh_to_motion(read_bvh(raw / bvh_name), fps=30.0).joint_positions()
        with np.load(shared_data / "motion" / npz_name) as data:
            reference = data["joints"].astype(np.float64)
        n = min(len(ours), len(reference))
        assert abs(len(ours) - len(reference)) <= 1
        assert 0.8 < np.median(ours[:, 0, 1]) < 1.1  # metres, standing
        for a, b in (("left_hip", "left_knee"), ("right_knee", "right_ankle"), ("left_shoulder", "left_elbow"),
                     ("right_elbow", "right_wrist")):  # fmt: skip
            ia, ib = JOINT_INDEX[a], JOINT_INDEX[b]
            u, v = ours[:n, ib] - ours[:n, ia], reference[:n, ib] - reference[:n, ia]
            angle = np.degrees(np.arccos(np.clip((u * v).sum(-1) / np.linalg.norm(u, axis=-1)
                                                 / np.linalg.norm(v, axis=-1), -1, 1)))  # fmt: skip
            assert np.median(angle) < 3.0, (bvh_name, a, b, np.median(angle))


# -- the library and the graph -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def mocap_folder(shared_data, tmp_path_factory) -> Path:
    """The real takes: CMU and boxing as BVH, the DeepMimic dances, spin and walk as joint positions."""
    folder = tmp_path_factory.mktemp("mocap")
    for path in sorted((shared_data / "motion" / "raw").glob("*.bvh")):
        os.symlink(path.resolve(), folder / path.name)
    for name in ("deepmimic_dance_a", "deepmimic_dance_b", "deepmimic_spin", "deepmimic_walk"):
        os.symlink((shared_data / "motion" / f"{name}.npz").resolve(), folder / f"{name}.npz")
    (folder / "notes.txt").write_text("not mocap")  # ignored (not a mocap suffix)
    return folder


@pytest.fixture(scope="module")
def graph(mocap_folder) -> MotionGraph:
    return MotionGraph.build(load_library(mocap_folder))


@pytest.fixture(scope="module")
def real_music(real_tracks):
    return real_tracks["drascula-track18.ogg"]


@pytest.fixture(scope="module")
def graph_dances(graph, real_music):
    """``{seed: (motion, picks)}``: the motion graph's dance of each of ``SEEDS`` on the real music."""
    return {seed: graph_choreograph(real_music, graph, seed=seed) for seed in SEEDS}


def test_library_reads_every_take(graph):
    names = sorted(clip.name for clip in graph.clips)
    assert names == sorted(["01_01.bvh", "Boxing_Toes.bvh", "deepmimic_dance_a.npz", "deepmimic_dance_b.npz",
                            "deepmimic_spin.npz", "deepmimic_walk.npz"])  # fmt: skip
    assert len(graph.segments) > 50
    assert all(len(s) > 0 for s in graph.successors)


def test_motion_graph_dance_is_made_of_library_segments(graph, graph_dances, real_music):
    motion, picks = graph_dances[1]
    assert len(picks) > 20 and sum(p.jump for p in picks) >= 3
    quats = axis_angle_to_quaternion(motion.poses.astype(np.float64))
    positions = _positions(real_music)
    for pick in picks:
        seg = graph.segments[pick.segment]
        lo = int(np.searchsorted(positions, pick.beat, side="left"))
        hi = int(np.searchsorted(positions, pick.beat + pick.beats, side="left"))
        lo = lo + BLEND_FRAMES if pick.jump else lo  # past the blend, the frames are the take's own
        if hi <= lo:
            continue
        source = seg.start + (positions[lo:hi] - pick.beat) / pick.beats * seg.frames
        a = np.floor(source).astype(int)
        clip = graph.quats[seg.clip]
        expected = quaternion_slerp(clip[a], clip[np.minimum(a + 1, len(clip) - 1)],
                                    np.repeat((source - a)[:, None], 24, 1))  # fmt: skip
        dots = np.abs((expected[:, 1:] * quats[lo:hi, 1:]).sum(-1))  # body joints (the root is re-aimed)
        assert dots.min() > 1 - 1e-5, (pick, dots.min())


def test_motion_graph_dance_lands_on_the_beats(graph_dances, real_music):
    half = int(round(real_music.beat_period * real_music.fps / 2))
    gain = []
    for motion, _ in graph_dances.values():
        joints = motion.joint_positions()
        shifted = np.concatenate([np.repeat(joints[:1], half, axis=0), joints[:-half]])
        aligned = beat_align_score(real_music.beat_times, joints, CLEAN)
        gain.append(aligned - beat_align_score(real_music.beat_times, shifted, CLEAN))
    assert_over_seeds(gain, 0.1, label="BAS minus BAS half a beat late", rate=0.9)


def test_motion_graph_transitions_are_no_faster_than_the_library(graph, graph_dances, real_music):
    """Near a jump every joint moves about as fast as the takes move it at most (its 99.9th percentile over
    the library), and so does the dance as a whole: a seed's worst joint may exceed that by a little (the
    blend and the time-stretch to the beat add some), the mean over seeds stays close to it."""
    library = np.concatenate([
        np.linalg.norm(np.diff(clip.motion.joint_positions(), axis=0), axis=-1) * clip.motion.fps
        for clip in graph.clips
    ])  # fmt: skip
    library_p999 = np.percentile(library, 99.9, axis=0)
    positions = _positions(real_music)
    near_ratios, dance_ratios = [], []
    for motion, picks in graph_dances.values():
        speed = np.linalg.norm(np.diff(motion.joint_positions(), axis=0), axis=-1) * motion.fps
        near = np.zeros(len(speed), bool)
        for pick in picks[1:]:
            if pick.jump:
                frame = int(np.searchsorted(positions, pick.beat))
                near[max(frame - 2, 0) : frame + BLEND_FRAMES] = True
        near = near[: len(speed)]
        assert near.any() and (~near).any()
        near_ratios.append((speed[near].max(axis=0) / library_p999).max())
        dance_ratios.append((np.percentile(speed, 99.9, axis=0) / library_p999).max())
    # A jump's blend can still overshoot on a few seeds (2 of 12 at 1.25-1.3x once the planner's draws moved
    # with new moves): the rate asks most seeds, the mean all of them, and no seed may reach 1.5x.
    assert_over_seeds(near_ratios, 1.15, label="near jumps: fastest joint / its library 99.9th pct", above=False,
                      rate=0.75, mean_bound=1.05)  # fmt: skip
    assert max(near_ratios) < 1.5, near_ratios
    assert_over_seeds(dance_ratios, 1.15, label="whole dance 99.9th pct / library's, worst joint", above=False,
                      rate=0.9, mean_bound=1.05)  # fmt: skip


def test_generator_option_and_config(mocap_folder, shared_data, tmp_path):
    generator = select_motion_generator(BackendConfig(home=tmp_path, mocap_dir=mocap_folder))
    assert isinstance(generator, ChoreographerGenerator) and generator.mocap == mocap_folder
    request = MotionRequest(audio_path=shared_data / "music" / "hyperrogue-hr3-caves.ogg", seed=3, duration_s=8.0)
    result = generator.generate(request)
    assert result.motion.metadata["mode"] == "motion_graph"
    assert abs(result.motion.duration - 8.0) < 0.1
    names = {segment[0] for segment in result.motion.metadata["segments"]}
    assert names <= {clip.name for clip in generator.motion_graph().clips}
    with pytest.raises(InvalidInputError, match="Motion Expert"):
        select_motion_generator(BackendConfig(home=tmp_path, mocap_dir=mocap_folder, motion_generator="motion_expert"))


def test_a_folder_without_takes_says_why(tmp_path):
    (tmp_path / "broken.bvh").write_text("HIERARCHY\nROOT Hips\n{\n")
    (tmp_path / "x.pkl").write_bytes(b"\x80\x04K\x01.")  # a pickled int, not a motion
    with pytest.raises(InvalidInputError, match="no usable dance takes") as info:
        load_library(tmp_path)
    assert "broken.bvh" in str(info.value) and "x.pkl" in str(info.value)


def _positions(features) -> np.ndarray:
    from backend.choreography.planner import make_grid

    return make_grid(features).position(np.arange(features.num_frames) / features.fps)
