"""`mace-dance render`: motion file + photo + music -> mp4, and clear exit codes on bad input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from backend.appearance.video_io import probe
from backend.cli import main
from backend.features.audio import decode_audio
from tests.audio_files import EVERY_FORMAT, write_every_format
from shared.motion_io import save_motion


@pytest.fixture
def inputs(tmp_path, make_dance, make_person, make_music):
    motion = save_motion(make_dance(20), tmp_path / "dance.npz")
    image = tmp_path / "me.png"
    cv2.imwrite(str(image), make_person(64, 96)[..., ::-1])
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
    video_line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("video:"))
    assert video_line.endswith("fps, 2D puppet)")  # the body that drew it: a drawing gets the flat puppet


@pytest.mark.slow  # ~8 s: the pose model, then the 2.5-D body's part fills (patch inpainting) at the 512x768 frame
def test_render_with_the_2_5d_body(tmp_path, inputs, capsys, monkeypatch):
    monkeypatch.setenv("MACE_DANCE_HOME", str(tmp_path / "home"))
    motion, image, _ = inputs
    out = tmp_path / "body.mp4"
    assert main(["render", str(motion), "--reference", str(image), "-o", str(out), "--renderer", "puppet",
                 "--body", "2.5d"]) == 0  # fmt: skip
    assert "fps, 2.5-D body)" in capsys.readouterr().out  # the summary names the body that drew the video
    info = probe(out)
    assert info.frames == 20 and info.width * 3 == info.height * 2  # the drawing's own frame (2:3)
    with pytest.raises(SystemExit):  # argparse: not a body
        main(["render", str(motion), "--reference", str(image), "-o", str(out), "--body", "3d"])


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
    notes = tmp_path / "notes.mp3"
    notes.write_text("not music\n" * 50)
    assert main(["render", str(motion), "--reference", str(image), "-o", out, "--music", str(notes)]) == 3
    err = capsys.readouterr().err
    assert "notes.mp3 could not be decoded: it is a text file" in err and "fix:" in err
    assert not (tmp_path / "x.mp4").exists()


@pytest.fixture(scope="module")
def music_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("music")
    write_every_format(folder, 3.0)
    return folder


#: Formats whose render stays in the fast tier: plain WAV, ADTS AAC (its priming delay) and the Ogg FFmpeg refuses.
CORE_FORMATS = ("song.wav", "song.aac", "ffmpeg_refuses.ogg")


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=() if name in CORE_FORMATS else pytest.mark.slow)  # slow: a puppet render per format
    for name in EVERY_FORMAT
])
def test_render_muxes_music_of_every_accepted_format(tmp_path, inputs, music_folder, name, monkeypatch):
    monkeypatch.setenv("MACE_DANCE_HOME", str(tmp_path / "home"))
    motion, image, _ = inputs
    out = tmp_path / "dance.mp4"
    assert main(["render", str(motion), "--reference", str(image), "--music", str(music_folder / name),
                 "--music-start", "1.0", "-o", str(out), "--width", "64", "--height", "96"]) == 0
    info = probe(out)
    assert info.frames == 20 and info.audio_duration_s == pytest.approx(20 / 30, abs=0.03)
    # The muxed sound is the music from 1.0 s on: clicks every half second, at 1.0 s and 1.5 s.
    sound = decode_audio(out, channels="mono", sample_rate=8000).samples[0]
    loudest = np.argsort([np.abs(sound[i : i + 80]).max() for i in range(0, len(sound) - 80, 80)])[-2:]
    expected = {0, 50} if "aac" != name.split(".")[-1] else {3, 53}  # ADTS: 23 ms of priming
    assert {int(i) for i in loudest} <= {e + d for e in expected for d in (-1, 0, 1)}
