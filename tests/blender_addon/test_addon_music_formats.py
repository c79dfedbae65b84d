"""The add-on's music check is Blender's own: every format the backend decodes becomes a sound strip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.blender

REPO = Path(__file__).resolve().parents[2]
# Blender's Python may lack PyAV (the bpy 4.2/4.5 venvs): the backend's Python writes the files.
BACKEND_PYTHON = os.environ.get("MACE_DANCE_BACKEND_PYTHON") or sys.executable
WRITE_ALL = """
import sys
from pathlib import Path
from tests.audio_files import write_every_format
write_every_format(Path(sys.argv[1]), 3.0)
"""


@pytest.fixture(scope="module")
def music_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("music")
    subprocess.run([BACKEND_PYTHON, "-c", WRITE_ALL, str(folder)], cwd=REPO, check=True, timeout=120,
                   env=dict(os.environ, PYTHONPATH=str(REPO)))
    return folder


def test_every_accepted_format_becomes_a_sound_strip(bpy, scene, music_folder):
    from blender_addon import compat
    from blender_addon.bpy_glue.scene import SOUND_STRIP_NAME, set_sound_strip

    files = sorted(music_folder.iterdir())
    assert len(files) == 18  # tests.audio_files.EVERY_FORMAT (not imported here: it needs PyAV)
    for path in files:
        warning = set_sound_strip(scene, str(path), frame_start=1)
        if bpy.app.version < (4, 3, 0):  # the bpy 4.2 wheel is built without audio; Blender itself has it
            assert warning is not None and "music strip not added" in warning
            continue
        assert warning is None, f"{path.name}: {warning}"
        strip = compat.sound_strips(scene)[SOUND_STRIP_NAME]
        seconds = strip.frame_final_duration / 30.0
        # Raw ADTS AAC has no length in its headers: Blender estimates it from the bit rate.
        assert seconds == pytest.approx(3.0, abs=0.25 if path.suffix == ".aac" else 0.05), path.name
