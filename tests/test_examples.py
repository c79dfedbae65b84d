"""The files in examples/ are what the README's commands use: they must be valid inputs as shipped."""

from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image

from backend.appearance.reference import load_keypoints_json
from backend.features import analyze_music

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_example_music_is_a_steady_120_bpm_groove():
    info = soundfile.info(str(EXAMPLES / "music" / "groove_120bpm.ogg"))
    assert 20 <= info.duration <= 30
    features = analyze_music(EXAMPLES / "music" / "groove_120bpm.ogg")
    tempo = features.tempo * 2 ** np.round(np.log2(120 / features.tempo))  # trackers may halve or double
    assert abs(tempo - 120) < 3


def test_example_keypoints_sit_on_the_drawn_character():
    image = np.asarray(Image.open(EXAMPLES / "reference.png").convert("RGB")).astype(int)
    keypoints = load_keypoints_json(EXAMPLES / "reference_keypoints.json")
    known = keypoints[np.isfinite(keypoints).all(axis=1)]
    assert len(known) == 18
    background = image[5, 5]
    for x, y in known.round().astype(int):
        assert np.abs(image[y, x] - background).max() > 40, f"keypoint ({x}, {y}) is on the background"


@pytest.mark.slow  # the example end to end: music analysis, a dance and a puppet video
def test_python_api_example_makes_a_dance_and_a_video(tmp_path, monkeypatch):
    import importlib.util

    from backend.appearance.video_io import probe
    from shared.motion_io import load_motion

    monkeypatch.setenv("MACE_DANCE_HOME", str(tmp_path / "empty-home"))  # no weights: the embedded defaults
    spec = importlib.util.spec_from_file_location("python_api", EXAMPLES / "python_api.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    video = example.main(["--out", str(tmp_path / "api"), "--seconds", "2"])
    motion = load_motion(tmp_path / "api" / "dance.npz")
    assert abs(motion.duration - 2.0) < 0.1
    info = probe(video)
    assert info.frames == motion.num_frames and info.audio_duration_s > 1.9
