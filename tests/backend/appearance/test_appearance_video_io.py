"""mp4 writing: frames, fps and music as a reader sees them; atomic; clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from backend.appearance.video_io import AUDIO_RATE, VideoWriter, probe, read_frames
from backend.features.audio import decode_audio
from shared.errors import InvalidInputError

AAC_FRAME_S = 1024 / AUDIO_RATE


def gradient_frames(count: int, width: int = 64, height: int = 96):
    for i in range(count):
        frame = np.zeros((height, width, 3), np.uint8)
        frame[..., 0] = (10 * i) % 256
        frame[..., 1] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
        yield frame


@pytest.mark.parametrize("fps", [30.0, 24.0, 29.97])
def test_frames_fps_and_music_duration_read_back(tmp_path, fps, make_music):
    music = make_music(tmp_path / "music.wav", 3.0)
    with VideoWriter(tmp_path / "out.mp4", 64, 96, fps, audio_path=music) as writer:
        for frame in gradient_frames(20):
            writer.write(frame)
    info = probe(tmp_path / "out.mp4")
    assert (info.frames, info.width, info.height, info.video_codec) == (20, 64, 96, "h264")
    assert info.fps == pytest.approx(fps, rel=1e-4)
    # The music is trimmed to the video; AAC rounds up to whole 1024-sample frames.
    assert info.audio_duration_s == pytest.approx(20 / fps, abs=AAC_FRAME_S + 1e-3)


def test_audio_offset_takes_music_from_the_right_place(tmp_path):
    rate = 48000
    music = tmp_path / "two_halves.wav"
    import soundfile as sf

    samples = np.concatenate([np.zeros(rate), 0.5 * np.ones(rate)]).astype(np.float32)  # silence, then a level
    sf.write(str(music), samples, rate)
    levels = []
    for offset in (0.0, 1.2):
        with VideoWriter(tmp_path / f"at_{offset}.mp4", 64, 96, 20, audio_path=music, audio_offset_s=offset) as writer:
            for frame in gradient_frames(10):  # 0.5 s
                writer.write(frame)
        muxed = decode_audio(tmp_path / f"at_{offset}.mp4", channels="mono").samples[0]
        levels.append(np.abs(muxed[2400:-2400]).mean())  # away from the AAC encoder's edges
    assert levels[0] < 1e-3 and levels[1] > 0.4


def test_short_music_ends_early_and_silent_video_has_no_audio(tmp_path, make_music):
    music = make_music(tmp_path / "short.wav", 0.2)
    with VideoWriter(tmp_path / "a.mp4", 64, 96, 30, audio_path=music) as writer:
        for frame in gradient_frames(30):
            writer.write(frame)
    assert probe(tmp_path / "a.mp4").audio_duration_s == pytest.approx(0.2, abs=AAC_FRAME_S + 1e-3)
    with VideoWriter(tmp_path / "b.mp4", 64, 96, 30) as writer:
        for frame in gradient_frames(3):
            writer.write(frame)
    info = probe(tmp_path / "b.mp4")
    assert info.frames == 3 and info.audio_duration_s is None


def test_frames_survive_the_round_trip(tmp_path):
    frames = list(gradient_frames(5))
    with VideoWriter(tmp_path / "out.mp4", 64, 96, 30, crf=0) as writer:
        for frame in frames:
            writer.write(frame)
    back = list(read_frames(tmp_path / "out.mp4"))
    assert len(back) == 5
    for original, decoded in zip(frames, back):
        assert np.abs(original.astype(int) - decoded.astype(int)).mean() < 3.0  # yuv420 rounding only


def test_an_error_leaves_no_file_behind(tmp_path):
    target = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError):
        with VideoWriter(target, 64, 96, 30) as writer:
            writer.write(next(gradient_frames(1)))
            raise RuntimeError("renderer crashed")
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments_are_clear_errors(tmp_path):
    with pytest.raises(InvalidInputError, match="even"):
        VideoWriter(tmp_path / "x.mp4", 63, 96, 30)
    with pytest.raises(InvalidInputError, match="does not exist"):
        VideoWriter(tmp_path / "x.mp4", 64, 96, 30, audio_path=tmp_path / "missing.wav")
    with VideoWriter(tmp_path / "x.mp4", 64, 96, 30) as writer:
        with pytest.raises(InvalidInputError, match="uint8"):
            writer.write(np.zeros((96, 64, 3), np.float32))
        writer.write(next(gradient_frames(1)))
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"this is not audio" * 10)
    with pytest.raises(InvalidInputError, match="junk.mp3 could not be decoded: it is a text file"):
        VideoWriter(tmp_path / "y.mp4", 64, 96, 30, audio_path=junk)  # refused before any frame is rendered
    assert not (tmp_path / "y.mp4").exists()


def test_finished_video_gets_the_usual_permissions(tmp_path):
    import os

    with VideoWriter(tmp_path / "out.mp4", 64, 96, 30) as writer:
        writer.write(next(gradient_frames(1)))
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "out.mp4").stat().st_mode & 0o777 == 0o666 & ~umask
