"""``mace-dance eval`` end to end on temporary folders, music matching, and the real mocap as a sanity check."""

from __future__ import annotations

import json

import numpy as np
import pytest

from backend.cli import main
from backend.evaluation import CLEAN, COMPAT, evaluate_folders, load_folder
from backend.evaluation.beat_align import edge_music_beat_times
from backend.evaluation.loading import MotionSample, find_music, load_sample, resample_joints
from shared.errors import InvalidInputError
from shared.motion import Motion
from shared.motion_io import save_motion

from .conftest import FPS, beat_dancer, varied_dancer

BEAT_S = 0.5
FIRST_CLICK_S = 0.25


@pytest.fixture(scope="module")
def click_track(tmp_path_factory):
    """12 s of clicks at 120 BPM starting at 0.25 s, as a wav file in its own music folder."""
    import soundfile

    folder = tmp_path_factory.mktemp("music")
    sr = 22050
    audio = np.zeros(12 * sr)
    blip = np.sin(2 * np.pi * 1000 * np.arange(int(0.03 * sr)) / sr) * np.exp(-np.arange(int(0.03 * sr)) / (0.005 * sr))
    for t in np.arange(FIRST_CLICK_S, 12.0, BEAT_S):
        start = int(t * sr)
        audio[start : start + len(blip)] += blip
    soundfile.write(folder / "clicks.wav", audio, sr)
    return folder


def save_joints(path, joints, fps=FPS):
    np.savez(path, joints=joints.astype(np.float32), fps=np.float32(fps))


def random_motion(rng, frames=90) -> Motion:
    poses = rng.normal(0, 0.15, size=(frames, 24, 3)).cumsum(axis=0) * 0.1
    trans = np.zeros((frames, 3))
    trans[:, 1] = 0.95
    trans[:, 0] = np.linspace(0, rng.uniform(-1, 1), frames)
    return Motion(poses=poses, trans=trans, fps=FPS, metadata={"generator": "test"})


def test_tracker_finds_the_clicks(click_track):
    beats = edge_music_beat_times(click_track / "clicks.wav")
    clicks = np.arange(FIRST_CLICK_S, 12.0, BEAT_S)
    interior = beats[(beats > 1.0) & (beats < 11.0)]
    assert len(interior) >= 15
    assert np.max(np.min(np.abs(interior[:, None] - clicks[None, :]), axis=1)) <= 1.5 / 30


def test_cli_end_to_end_with_music(tmp_path, click_track, rng, capsys):
    generated, reference = tmp_path / "generated", tmp_path / "reference"
    generated.mkdir()
    reference.mkdir()
    frames = 330
    jitter = 0.3 / FPS
    save_joints(generated / "clicks_onbeat.npz", beat_dancer(frames, BEAT_S, phase_s=FIRST_CLICK_S + jitter))
    save_joints(generated / "clicks_offbeat.npz", beat_dancer(frames, BEAT_S, phase_s=FIRST_CLICK_S + BEAT_S / 2 + jitter))
    save_motion(random_motion(rng), generated / "clicks_smpl.npz")  # our canonical format, through FK
    for i in range(4):
        save_joints(reference / f"ref{i}.npz", varied_dancer(rng, frames=150))
    out = tmp_path / "report.json"

    for mode in ("clean", "compat"):
        code = main(["eval", str(generated), str(reference), "--music", str(click_track), "--mode", mode, "--json", str(out)])
        assert code == 0
        printed = capsys.readouterr().out
        protocol_name = "clean" if mode == "clean" else "bailando-compat"
        assert f"protocol {protocol_name}" in printed and "FID_k" in printed and "BAS" in printed
        report = json.loads(out.read_text())
        assert report["protocol"]["name"] == protocol_name
        by_name = {m["name"]: m for m in report["motions"]}
        assert by_name["clicks_onbeat"]["music"] == "clicks.wav"
        assert by_name["clicks_onbeat"]["bas"] > 0.8
        assert by_name["clicks_onbeat"]["bas"] > by_name["clicks_offbeat"]["bas"] + 0.4
        assert by_name["ref0"]["bas"] is None  # no music of that name
        for key in ("fid_k", "fid_g", "div_k", "div_g", "bas", "pfc", "fsr"):
            assert report["generated"][key] is not None
        assert report["reference"]["div_k"] > 0


def test_cli_reports_bad_input_with_exit_code(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["eval", str(empty), str(empty)]) == 3
    assert "no motion files" in capsys.readouterr().err
    bad = tmp_path / "bad"
    bad.mkdir()
    np.save(bad / "a.npy", np.zeros((20, 5)))
    np.save(bad / "b.npy", np.zeros((20, 5)))
    assert main(["eval", str(bad), str(bad)]) == 3
    assert "(T, 24, 3)" in capsys.readouterr().err


def test_loader_formats_and_resampling(tmp_path, rng):
    joints = varied_dancer(rng, frames=61)
    np.save(tmp_path / "raw.npy", joints.reshape(61, 72))
    save_joints(tmp_path / "raw60.npz", joints, fps=60.0)
    save_motion(random_motion(rng), tmp_path / "ours.npz")
    samples = {s.name: s for s in load_folder(tmp_path)}
    assert set(samples) == {"raw", "raw60", "ours"}
    np.testing.assert_allclose(samples["raw"].joints_at(CLEAN), joints)
    at_30 = samples["raw60"].joints_at(CLEAN)
    np.testing.assert_allclose(at_30, joints[::2])  # 60 → 30 fps keeps every second frame
    assert samples["ours"].joints_at(CLEAN).shape == (90, 24, 3)
    assert COMPAT.with_overrides(max_frames=40).max_frames == 40
    assert len(samples["raw"].joints_at(CLEAN.with_overrides(max_frames=40))) == 40
    np.testing.assert_allclose(resample_joints(joints, 30.0, 30.0), joints)
    nan = joints.copy()
    nan[3, 4, 1] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    with pytest.raises(InvalidInputError, match="NaN"):
        load_sample(tmp_path / "nan.npy")


def test_edge_and_aist_pickles_give_the_same_joints(tmp_path, rng):
    """An EDGE/MACE output (Z-up, 30 fps) and an AIST++ annotation (Y-up, scaled, 60 fps) of one motion
    evaluate to the joints of the canonical motion."""
    import pickle

    from shared.axes import y_up_to_z_up

    motion = random_motion(rng, frames=60)
    expected = motion.joint_positions()
    poses_z, trans_z = y_up_to_z_up(motion.poses, motion.trans)
    with open(tmp_path / "edge.pkl", "wb") as handle:
        pickle.dump({"smpl_poses": poses_z.reshape(60, 72), "smpl_trans": trans_z, "full_pose": expected}, handle)
    doubled = motion.resample(60.0)
    with open(tmp_path / "aist.pkl", "wb") as handle:
        pickle.dump({"smpl_poses": doubled.poses.reshape(-1, 72), "smpl_trans": doubled.trans * 2.5,
                     "smpl_scaling": np.array([2.5]), "smpl_loss": 0.0}, handle)  # fmt: skip
    samples = {s.name: s for s in load_folder(tmp_path)}
    np.testing.assert_allclose(samples["edge"].joints_at(CLEAN), expected, atol=1e-5)
    np.testing.assert_allclose(samples["aist"].joints_at(CLEAN), expected[: len(samples["aist"].joints_at(CLEAN))], atol=1e-4)


def test_music_matching(tmp_path):
    for name in ("song.ogg", "song_remix.wav", "other.mp3", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    sample = MotionSample(name="song_remix_seed3", fps=30.0)
    assert find_music(sample, tmp_path).name == "song_remix.wav"  # the longest prefix wins
    assert find_music(MotionSample(name="song", fps=30.0), tmp_path).name == "song.ogg"
    assert find_music(MotionSample(name="songbird", fps=30.0), tmp_path) is None
    assert find_music(MotionSample(name="x", fps=30.0, music_hint="/elsewhere/other.mp3"), tmp_path).name == "other.mp3"


def test_real_mocap_scores_in_plausible_ranges(shared_data):
    """Real capture: long clips have little foot skating and a low PFC; BAS against unrelated real music
    sits near chance (motion beats every ~0.3–0.6 s give 0.1–0.5), not near 0 or 1."""
    motion_dir = shared_data / "motion"
    samples = {s.name: s for s in load_folder(motion_dir)}
    long_clips = [samples["boxing_toes_assimp"], samples["cmu_01_01_playground_jumps_assimp"]]
    from backend.evaluation import beat_align_score, foot_skating_ratio, physical_foot_contact

    beats = edge_music_beat_times(shared_data / "music" / "hyperrogue-hr3-caves.ogg")
    for sample in long_clips:
        joints = sample.joints_at(CLEAN)
        # EDGE reports PFC 1.33 for AIST++ ground truth and 1.5–2.3 for generators (×10⁴).
        assert physical_foot_contact(joints, 30.0) * 1e4 < 2.0
        # MACE-Dance reports FSR 0.216 for FineDance ground truth; real walking/boxing stays below it.
        assert np.nanmean(foot_skating_ratio(joints, CLEAN)) < 0.216
        bas = beat_align_score(beats, joints, CLEAN)
        assert 0.1 < bas < 0.5
    report = evaluate_folders(motion_dir, motion_dir, "clean")
    assert abs(report.generated["fid_k"]) < 1e-3 and report.generated["div_k"] > 1.0
