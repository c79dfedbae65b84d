"""The Motion Expert behind the generator contract: weights lookup, music in, errors out."""

from __future__ import annotations

import numpy as np
import pytest

from backend.config import BackendConfig
from backend.generators import select_motion_generator
from backend.motion_generation import MotionRequest
from backend.motion_expert import MotionExpertGenerator
from backend.motion_expert.checkpoint import save_pretrained
from shared.errors import InvalidInputError, MissingWeightsError
from shared.keep import KeepMask, KeepSpec
from shared.sampling import SamplerChoice

TWO_STEPS = SamplerChoice("dpmpp", 2)


@pytest.fixture
def weights(tmp_path, tiny_model, normalizer):
    return save_pretrained(tmp_path / "weights" / "motion", tiny_model, normalizer)


def _tone(path, seconds=3.0, sr=22050):
    import soundfile

    t = np.arange(int(seconds * sr)) / sr
    clicks = (np.sin(2 * np.pi * 440 * t) * (np.mod(t, 0.5) < 0.05)).astype(np.float32)
    soundfile.write(path, clicks, sr)
    return path


def test_missing_weights_raise_and_auto_falls_back(tmp_path, monkeypatch):
    monkeypatch.setenv("MACE_DANCE_MOTION_WEIGHTS", str(tmp_path / "none"))
    config = BackendConfig(home=tmp_path, device="cpu", motion_generator="motion_expert")
    with pytest.raises(MissingWeightsError) as info:
        MotionExpertGenerator.from_config(config)
    assert "train-<epoch>.pt" in str(info.value)
    with pytest.raises(MissingWeightsError):
        select_motion_generator(config)


def test_generates_from_a_music_file(weights, tmp_path):
    generator = MotionExpertGenerator(weights, device="cpu", sampling=TWO_STEPS, mamba_backend="torch")
    assert generator.name == "motion_expert"
    result = generator.generate(MotionRequest(audio_path=_tone(tmp_path / "clicks.wav"), seed=4, genre="Locking"))
    assert result.generator == "motion_expert"
    assert result.motion.fps == 30.0 and abs(result.motion.duration - 3.0) < 0.1
    assert result.motion.metadata["genre"] == "Locking" and result.motion.metadata["music"] == "clicks.wav"
    assert result.tempo > 0 and len(result.beats) > 0


def test_regenerates_a_selection_of_the_same_span(weights, tmp_path):
    generator = MotionExpertGenerator(weights, sampling=TWO_STEPS, mamba_backend="torch")
    music = _tone(tmp_path / "clicks.wav", seconds=2.0)
    first = generator.generate(MotionRequest(audio_path=music, seed=1)).motion
    frames = np.zeros(first.num_frames, dtype=bool)
    frames[:20] = True
    again = generator.generate(MotionRequest(audio_path=music, seed=2, keep=KeepSpec(first, KeepMask.regenerate(first.num_frames, frames=~frames))))
    assert again.motion.num_frames == first.num_frames
    assert np.array_equal(again.motion.poses[:20], first.poses[:20])


@pytest.mark.parametrize("content", [b"", b"this is not audio at all" * 100])
def test_bad_audio_gets_a_clear_error(weights, tmp_path, content):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(content)
    generator = MotionExpertGenerator(weights, sampling=TWO_STEPS, mamba_backend="torch")
    with pytest.raises(InvalidInputError) as info:
        generator.generate(MotionRequest(audio_path=bad))
    assert "broken.wav" in str(info.value)


def test_unsupported_audio_type_is_refused(weights, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("la la la")
    generator = MotionExpertGenerator(weights, mamba_backend="torch")
    with pytest.raises(InvalidInputError):
        generator.generate(MotionRequest(audio_path=text))


def test_real_music(weights, shared_data):
    generator = MotionExpertGenerator(weights, sampling=TWO_STEPS, mamba_backend="torch")
    song = shared_data / "music" / "hyperrogue-hr3-caves.ogg"
    result = generator.generate(MotionRequest(audio_path=song, start_s=10.0, duration_s=4.0, genre="Jazz"))
    assert result.motion.num_frames == pytest.approx(120, abs=2)
    assert np.isfinite(result.motion.poses).all()
    assert 60 < result.tempo < 200


def test_regenerates_a_motion_edited_at_another_frame_rate(weights, tmp_path):
    from .conftest import dance_motion

    generator = MotionExpertGenerator(weights, sampling=TWO_STEPS, mamba_backend="torch")
    edited = dance_motion(121, fps=60.0, seed=3)  # 2 s at 60 fps -> 61 frames at 30 fps
    frames = np.zeros(121, dtype=bool)
    frames[:30] = True
    result = generator.generate(MotionRequest(audio_path=_tone(tmp_path / "c.wav", seconds=3.0),
                                              keep=KeepSpec(edited, KeepMask.regenerate(121, frames=~frames))))  # fmt: skip
    assert result.motion.num_frames == 61 and result.motion.fps == 30.0
    assert np.array_equal(result.motion.poses[:15], edited.resample(30.0).poses[:15])


def test_the_requests_sampling_reaches_the_pipeline(weights, tmp_path):
    generator = MotionExpertGenerator(weights, sampling=SamplerChoice("dpmpp", 3), mamba_backend="torch")
    music = _tone(tmp_path / "clicks.wav", seconds=1.5)
    default = generator.generate(MotionRequest(audio_path=music)).motion.metadata
    asked = generator.generate(MotionRequest(audio_path=music, sampling=SamplerChoice("ddim", 2))).motion.metadata
    assert (default["sampler"], default["num_inference_steps"]) == ("dpmpp", 3)
    assert (asked["sampler"], asked["num_inference_steps"]) == ("ddim", 2)
