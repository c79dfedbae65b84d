"""`mace-dance generate`: the contract scripts rely on (files, keys, shapes, exit codes)."""

import json
from pathlib import Path

import numpy as np
import pytest

from backend.appearance.video_io import probe
from backend.cli import main
from backend.cli.generate import PARTLY_DONE_EXIT_CODE
from tests.audio_files import EVERY_FORMAT, write_every_format

MUSIC = Path(__file__).resolve().parents[2] / "examples" / "music" / "groove_120bpm.ogg"


@pytest.fixture
def empty_home(tmp_path, monkeypatch):
    """No weights anywhere: the embedded default must serve."""
    monkeypatch.setenv("MACE_DANCE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MACE_DANCE_MOTION_WEIGHTS", raising=False)


def test_generate_writes_motion_beats_and_a_preview_with_the_music(tmp_path, empty_home, capsys):
    out = tmp_path / "out"
    assert main(["generate", str(MUSIC), "-o", str(out), "--seed", "3", "--start", "4", "--duration", "3"]) == 0
    printed = capsys.readouterr().out
    assert "dancer:  choreographer (the Motion Expert is not installed" in printed  # which one, and why
    assert "mace-dance weights download --motion" in printed

    with np.load(out / "groove_120bpm.npz") as data:
        poses, trans, betas, fps = data["poses"], data["trans"], data["betas"], float(data["fps"])
    assert poses.shape[1:] == (24, 3) and trans.shape == (len(poses), 3) and betas.shape == (10,)
    assert fps == 30.0 and abs(len(poses) - 3 * 30) <= 1 and np.isfinite(poses).all()

    beats = json.loads((out / "groove_120bpm_beats.json").read_text())
    assert 4 <= len(beats["beats_s"]) <= 8 and all(0 <= b <= 3.05 for b in beats["beats_s"])

    preview = probe(out / "groove_120bpm_preview.mp4")
    assert preview.frames == len(poses) and preview.fps == pytest.approx(30.0)
    assert preview.audio_duration_s == pytest.approx(len(poses) / 30.0, abs=0.05)

    # the same seed gives the same dance
    again = tmp_path / "again"
    assert main(["generate", str(MUSIC), "-o", str(again), "--seed", "3", "--start", "4", "--duration", "3",
                 "--no-preview"]) == 0
    with np.load(again / "groove_120bpm.npz") as data:
        np.testing.assert_array_equal(data["poses"], poses)
    assert not (again / "groove_120bpm_preview.mp4").exists()


@pytest.mark.parametrize(
    "arguments, exit_code, message",
    [
        (["missing.ogg"], 3, "music file not found"),
        ([str(MUSIC), "--genre", "polka"], 3, "unknown genre"),
        ([str(MUSIC), "--generator", "motion_expert"], 4, "Motion Expert weights"),
    ],
)
def test_generate_errors_exit_with_their_code_and_a_fix(tmp_path, empty_home, capsys, arguments, exit_code, message):
    assert main(["generate", *arguments, "-o", str(tmp_path / "out")]) == exit_code
    err = capsys.readouterr().err
    assert message in err and err.startswith("error: ")


def test_sampler_and_steps_reach_the_motion_expert_and_are_checked(tmp_path, monkeypatch):
    from backend.config import BackendConfig
    from backend.generators import select_motion_generator
    from shared.errors import InvalidInputError
    from shared.sampling import SamplerChoice

    weights = tmp_path / "motion"
    weights.mkdir()
    (weights / "train-10.pt").write_bytes(b"located, not loaded, when the generator is chosen")
    monkeypatch.setenv("MACE_DANCE_MOTION_WEIGHTS", str(weights))
    generator = select_motion_generator(BackendConfig(motion_sampling=SamplerChoice("ddim", 8), device="cpu"))
    assert (generator.name, generator.sampling) == ("motion_expert", SamplerChoice("ddim", 8))
    assert "installed, so `auto` uses it" in generator.reason and "ddim, 8 steps" in generator.reason
    with pytest.raises(InvalidInputError, match="steps"):
        SamplerChoice("dpmpp", 0)
    with pytest.raises(InvalidInputError, match="sampler"):
        SamplerChoice("euler")
    assert main(["generate", str(MUSIC), "-o", str(tmp_path / "x"), "--steps", "0"]) == 3


@pytest.fixture(scope="module")
def music_files(tmp_path_factory):
    """Five seconds of clicks in every accepted format, and an Ogg Vorbis file only libsndfile reads."""
    folder = tmp_path_factory.mktemp("music")
    write_every_format(folder, 5.0)
    return folder


@pytest.mark.slow  # one `mace-dance generate` process (torch import, music analysis) per accepted format
@pytest.mark.parametrize("name", EVERY_FORMAT)
def test_generate_reads_every_accepted_format(tmp_path, empty_home, music_files, name, capsys):
    out = tmp_path / "out"
    assert main(["generate", str(music_files / name), "-o", str(out), "--start", "1.5", "--duration", "2"]) == 0, \
        capsys.readouterr().err
    stem = Path(name).stem
    with np.load(out / f"{stem}.npz") as data:
        frames = len(data["poses"])
    assert abs(frames - 60) <= 1
    beats = json.loads((out / f"{stem}_beats.json").read_text())["beats_s"]
    assert 3 <= len(beats) <= 5  # a click every half second
    preview = probe(out / f"{stem}_preview.mp4")
    assert preview.frames == frames and preview.audio_duration_s == pytest.approx(frames / 30.0, abs=0.05)


@pytest.mark.slow  # a whole `generate` (music analysis, a dance) before its preview fails
def test_a_failed_preview_keeps_the_motion_and_beats_and_says_why(tmp_path, empty_home, capsys):
    out = tmp_path / "out"
    (out / "groove_120bpm_preview.mp4").mkdir(parents=True)  # a folder where the preview must go: it fails
    code = main(["generate", str(MUSIC), "-o", str(out), "--start", "4", "--duration", "2"])
    assert code == PARTLY_DONE_EXIT_CODE == 8
    captured = capsys.readouterr()
    assert "error: preview not written (" in captured.err and "the motion and beats above are complete" in captured.err
    assert "IsADirectoryError" in captured.err or "Is a directory" in captured.err
    with np.load(out / "groove_120bpm.npz") as data:
        assert abs(len(data["poses"]) - 60) <= 1
    assert json.loads((out / "groove_120bpm_beats.json").read_text())["beats_s"]
    assert "motion:" in captured.out and "beats:" in captured.out
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no half-written preview left


@pytest.mark.slow  # reads every real mocap take into a motion graph, analyses the music, dances
def test_generate_with_mocap_dances_segments_of_the_takes(tmp_path, empty_home, capsys, shared_data):
    mocap = tmp_path / "mocap"
    mocap.mkdir()
    (mocap / "01_01.bvh").symlink_to((shared_data / "motion" / "raw" / "01_01.bvh").resolve())
    out = tmp_path / "out"
    args = ["generate", str(MUSIC), "-o", str(out), "--duration", "4", "--no-preview", "--mocap", str(mocap)]
    assert main(args) == 0
    with np.load(out / "groove_120bpm.npz") as data:
        metadata = json.loads(str(data["metadata_json"]))
        assert abs(len(data["poses"]) - 4 * 30) <= 1
    assert metadata["mode"] == "motion_graph" and metadata["segments"]
    assert {segment[0] for segment in metadata["segments"]} == {"01_01.bvh"}
    assert main(["generate", str(MUSIC), "-o", str(out), "--mocap", str(tmp_path / "nowhere")]) != 0
    assert "mocap folder not found" in capsys.readouterr().err
