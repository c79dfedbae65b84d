"""`mace-dance render`: motion file + photo + music -> mp4, and clear exit codes on bad input."""

from __future__ import annotations

import cv2
import pytest

from backend.appearance.video_io import probe
from backend.cli import main
from shared.motion_io import save_motion


@pytest.fixture
def inputs(tmp_path, make_dance, make_person, make_music):
    motion = save_motion(make_dance(20), tmp_path / "dance.npz")
    image = tmp_path / "me.png"
    cv2.imwrite(str(image), make_person(128, 192)[..., ::-1])
    music = make_music(tmp_path / "song.wav", 3.0)
    return motion, image, music


def test_render_writes_the_video_and_its_companions(tmp_path, inputs, capsys, monkeypatch):
    monkeypatch.setenv("MACE_DANCE_HOME", str(tmp_path / "home"))
    motion, image, music = inputs
    out = tmp_path / "out" / "dance.mp4"
    code = main(["render", str(motion), "--reference", str(image), "--music", str(music), "--music-start", "1.0",
                 "-o", str(out), "--width", "64", "--height", "96", "--pose-video", str(tmp_path / "pose.mp4"),
                 "--side-by-side", str(tmp_path / "sbs.mp4"), "--pose-style", "dwpose", "--hands"])  # fmt: skip
    assert code == 0
    info = probe(out)
    assert (info.frames, info.fps, info.width, info.height) == (20, 30.0, 64, 96)
    assert info.audio_duration_s == pytest.approx(20 / 30, abs=0.03)
    assert probe(tmp_path / "pose.mp4").frames == 20 and probe(tmp_path / "sbs.mp4").width == 128
    assert "puppet" in capsys.readouterr().out


def test_bad_inputs_exit_with_the_error_code_and_a_fix(tmp_path, inputs, capsys, monkeypatch):
    monkeypatch.setenv("MACE_DANCE_HOME", str(tmp_path / "home"))
    motion, image, _ = inputs
    out = str(tmp_path / "x.mp4")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    assert main(["render", str(motion), "--reference", str(broken), "-o", out]) == 3
    assert "cannot read the reference image" in capsys.readouterr().err
    assert main(["render", str(motion), "--reference", str(image), "-o", out, "--renderer", "wan"]) == 4
    err = capsys.readouterr().err
    assert "Wan-Animate weights not found" in err and "fix:" in err
    assert main(["render", str(motion), "--reference", str(image), "-o", out, "--width", "65"]) == 3
    assert not (tmp_path / "x.mp4").exists()
