"""Concepts with one home stay in it (docs/architecture.md, "One home per concept").

Each test fails when a second, drifting copy of a concept appears: the same wrong input must get the same
error everywhere, and the wording that belongs to the home must not be written anywhere else.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared.errors import InvalidInputError
from shared.genres import GENRE_HINT

REPO = Path(__file__).resolve().parents[1]
SOURCE_FOLDERS = ("backend", "shared", "blender_addon")


def sources_containing(text: str) -> list[str]:
    """Project source files (not tests) whose text contains ``text``."""
    return sorted(
        str(path.relative_to(REPO))
        for folder in SOURCE_FOLDERS
        for path in (REPO / folder).rglob("*.py")
        if text in path.read_text(encoding="utf-8")
    )


# -- genre names: shared.genres.genre_index --------------------------------------------------------------


def assert_unknown_genre(error: BaseException) -> None:
    assert isinstance(error, InvalidInputError)
    assert error.message == "unknown genre 'polka'" and error.hint == GENRE_HINT


def test_a_wrong_genre_gets_one_error_from_the_cli(tmp_path, capsys):
    from backend.cli import main

    music = tmp_path / "music.wav"
    music.write_bytes(b"never read: the genre is checked first")
    assert main(["generate", str(music), "--genre", "polka", "-o", str(tmp_path / "out")]) == 3
    assert capsys.readouterr().err == f"error: unknown genre 'polka'\n  fix: {GENRE_HINT}\n"


def test_a_wrong_genre_gets_one_error_from_the_server(tmp_path):
    from backend.server.handlers import prepare_generate
    from backend.server.jobs import ServerLimits

    with pytest.raises(InvalidInputError) as err:
        prepare_generate({"genre": "polka"}, None, tmp_path, ServerLimits())
    assert_unknown_genre(err.value)


def test_a_wrong_genre_gets_one_error_from_the_choreographer(tmp_path):
    from backend.choreography import ChoreographerGenerator
    from backend.generators import MotionRequest

    with pytest.raises(InvalidInputError) as err:
        ChoreographerGenerator().generate(MotionRequest(tmp_path / "never-read.wav", genre="polka"))
    assert_unknown_genre(err.value)


def test_a_wrong_genre_gets_one_error_from_the_motion_expert():
    import torch

    from backend.motion.config import MotionExpertConfig
    from backend.motion.denoiser import MotionDenoiser
    from backend.motion.pipeline import MotionExpertPipeline
    from backend.motion.representation import Normalizer

    config = MotionExpertConfig.tiny()
    torch.manual_seed(0)
    model = MotionDenoiser(config, mamba_backend="torch").eval()
    normalizer = Normalizer.fit(np.random.default_rng(0).normal(size=(8, config.motion_dim)))
    with pytest.raises(InvalidInputError) as err:
        MotionExpertPipeline(model, normalizer).resolve_genre("polka", seed=0)
    assert_unknown_genre(err.value)


def test_genre_names_are_checked_in_one_place_only():
    assert sources_containing("unknown genre") == ["shared/genres.py"]
