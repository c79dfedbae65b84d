"""The one job path: progress throttling, the photo's alpha folded once, render checkpoints kept per job and
dropped when the job ends by itself."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from backend.appearance.request import RenderOptions
from backend.jobwork import CHECKPOINTS, RenderJob, reference_render_request, run_render, throttled
from backend.progress import JobContext
from shared.errors import MaceError
from tests.server.server_fakes import make_motion


def _rgba_png(path: Path) -> Path:
    from PIL import Image

    pixels = np.full((96, 64, 4), 200, np.uint8)
    pixels[:, :20, 3] = 0  # the left strip is transparent
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGBA").save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return path


def test_progress_is_merged_but_message_changes_and_the_end_always_pass(monkeypatch):
    import backend.jobwork as jobwork

    clock = [100.0]
    monkeypatch.setattr(jobwork.time, "monotonic", lambda: clock[0])
    seen = []
    report = throttled(lambda fraction, message: seen.append((fraction, message)), interval_s=1.0)
    for step in range(10):
        report(step / 10, "step")  # no time passes: only the first gets through
    report(0.95, "encoding")  # a new message does
    report(1.0, "encoding")  # so does the end
    clock[0] += 2.0
    report(0.2, "encoding")  # and anything after the interval
    assert seen == [(0.0, "step"), (0.95, "encoding"), (1.0, "encoding"), (0.2, "encoding")]


def test_the_photos_transparency_becomes_the_options_mask_unless_one_is_given(tmp_path):
    photo = _rgba_png(tmp_path / "anna.png")
    request = reference_render_request(photo, options=RenderOptions(), motion=make_motion(4), width=64)
    assert request.options.reference_alpha.shape == (96, 64)
    assert (request.options.reference_alpha[:, :20] == 0).all() and (request.options.reference_alpha[:, 20:] == 255).all()
    assert request.reference_image.shape == (96, 64, 3) and (request.width, request.height) == (64, 96)  # the height follows the photo's aspect
    mask = np.full((96, 64), 255, np.uint8)
    given = reference_render_request(photo, options=RenderOptions(reference_alpha=mask), motion=make_motion(4))
    assert (given.options.reference_alpha == 255).all()


class _FailingCheckpointingRenderer:
    """Leaves a file in the request's checkpoint folder, then fails by itself."""

    name = "checkpointing"

    def __init__(self):
        self.folders = []

    def render(self, request, ctx):
        folder = Path(request.checkpoint_dir)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "segment-00000.npz").write_bytes(b"kept")
        self.folders.append(folder)
        raise MaceError("the render failed by itself")


def test_a_render_job_keeps_its_segments_by_job_and_drops_them_when_it_fails(tmp_path):
    photo = _rgba_png(tmp_path / "reference.image")
    job = RenderJob(motion=make_motion(4), image_name=photo.name, audio_name=None, options=RenderOptions(),
                    width=64, height=96, checkpoint_name="mace-dance-job-1-abc")
    renderer = _FailingCheckpointingRenderer()
    with pytest.raises(MaceError):
        run_render(job, renderer, JobContext(), tmp_path)
    (folder,) = renderer.folders
    assert folder.parts[-2:] == (CHECKPOINTS, "mace-dance-job-1-abc")
    assert not folder.exists()  # no retry follows a failure: nothing is left behind
